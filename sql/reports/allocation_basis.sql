-- How the invoice of each provider was priced over the summary's days: by the cell's own cost
-- lines, by coarser cost lines shared out by list-price weights, or at list prices (provisional).
select
    provider,
    allocation_basis,
    sum(invoice_cost_usd) as invoice_cost_usd
from fct_spend_reconciliation
where usage_date between $date_from and $date_to
group by all
order by provider asc, invoice_cost_usd desc
