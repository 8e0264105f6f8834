-- The days still provisional: per provider and usage day, the rows whose invoice is not yet
-- final (the cost export has not arrived, so list prices stand in, or the provider's settling
-- window, DARKCOMPUTE_SETTLE_DAYS, has not passed). Their dollars may still change; a later
-- run restates them (see the restatements table). days_before_latest counts back from the
-- latest reconciled day.
with latest as (
    select max(usage_date) as usage_date
    from fct_spend_reconciliation
)

select
    reconciliation.usage_date,
    reconciliation.provider,
    latest.usage_date - reconciliation.usage_date as days_before_latest,
    count(*) as provisional_rows,
    sum(reconciliation.invoice_cost_usd) as provisional_invoice_usd,
    count(*) filter (where reconciliation.allocation_basis = 'catalog_price') as rows_at_list_price,
    max(reconciliation.reconciled_at) as reconciled_at
from fct_spend_reconciliation as reconciliation
cross join latest
where reconciliation.status = 'provisional'
group by reconciliation.usage_date, reconciliation.provider, latest.usage_date
order by reconciliation.usage_date, reconciliation.provider;
