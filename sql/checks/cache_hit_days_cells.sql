-- The cells of fct_cache_efficiency partitions ($paths: the day's and its previous days'), as the
-- subjects of the cache-hit-drop check (checks/cache_hit_drop.sql): one per provider, billing
-- account and model, with its input and cache-read tokens per day.
select
    usage_date,
    provider || ' / ' || billing_account || ' / ' || model as subject,
    sum(input_tokens)::hugeint as input_tokens,
    sum(cache_read_tokens)::hugeint as cache_read_tokens
from read_parquet($paths)
group by all
