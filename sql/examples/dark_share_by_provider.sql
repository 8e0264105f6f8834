-- The share of dark compute per provider over the last 7 reconciled days: of each provider's
-- invoice, the dollars no waiting user caused (background jobs, retries, unlogged usage), in
-- total and by class.
with reconciled_days as (
    select distinct usage_date
    from fct_spend_reconciliation
    order by usage_date desc
    limit 7
)

select
    reconciliation.provider,
    sum(reconciliation.invoice_cost_usd) as invoice_usd,
    sum(
        reconciliation.background_cost_usd + reconciliation.retry_cost_usd + reconciliation.unlogged_cost_usd
    ) as dark_usd,
    cast(round(100 * sum(
        reconciliation.background_cost_usd + reconciliation.retry_cost_usd + reconciliation.unlogged_cost_usd
    ) / nullif(sum(reconciliation.invoice_cost_usd), 0), 2) as decimal(5, 2)) as dark_pct,
    sum(reconciliation.background_cost_usd) as background_usd,
    sum(reconciliation.retry_cost_usd) as retry_usd,
    sum(reconciliation.unlogged_cost_usd) as unlogged_usd
from fct_spend_reconciliation as reconciliation
inner join reconciled_days
    on reconciliation.usage_date = reconciled_days.usage_date
group by reconciliation.provider
order by dark_pct desc, reconciliation.provider asc;
