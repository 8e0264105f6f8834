-- The report's headline: per provider over the period, the invoice split into its classes, and
-- dark compute (background + retry + unlogged).
select
    provider,
    count(distinct usage_date) as day_count,
    sum(invoice_cost_usd) as invoice_usd,
    sum(user_cost_usd) as user_usd,
    sum(background_cost_usd) as background_usd,
    sum(retry_cost_usd) as retry_usd,
    sum(unlogged_cost_usd) as unlogged_usd,
    sum(non_token_cost_usd) as non_token_usd,
    sum(background_cost_usd + retry_cost_usd + unlogged_cost_usd) as dark_usd
from fct_spend_reconciliation
where usage_date between $date_from and $date_to
group by provider
order by provider
