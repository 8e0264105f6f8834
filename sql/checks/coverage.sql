-- Per provider, the share of the day's token invoice the logs attribute (user + background + retry).
-- Per provider, not pooled: a well-covered provider must not hide one whose logs explain nothing.
select
    provider,
    coalesce(sum(invoice_cost_usd - non_token_cost_usd), 0) as token_invoice_usd,
    coalesce(sum(user_cost_usd + background_cost_usd + retry_cost_usd), 0) as attributed_usd,
    coalesce(sum(unlogged_cost_usd), 0) as unlogged_usd
from read_parquet($path)
group by provider
order by provider
