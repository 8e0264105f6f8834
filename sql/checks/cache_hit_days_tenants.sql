-- The tenants of fct_cache_efficiency_tenant partitions ($paths: the day's and its previous
-- days'), as the subjects of the cache-hit-drop check (checks/cache_hit_drop.sql): one per tenant,
-- its cells added up (a tenant's prefixes thrash across every model it calls).
select
    usage_date,
    tenant_id as subject,
    sum(input_tokens)::hugeint as input_tokens,
    sum(cache_read_tokens)::hugeint as cache_read_tokens
from read_parquet($paths)
group by all
