-- The `$top` cells with the largest residual (unlogged dollars: billed usage no log accounts
-- for) over the period, with the cell's invoice and the residual's share of it.
select
    provider,
    billing_account,
    model,
    price_tier,
    sum(unlogged_cost_usd) as unlogged_usd,
    sum(invoice_cost_usd) as invoice_usd,
    cast(sum(unlogged_cost_usd) as double) as unlogged_plot,
    cast(sum(invoice_cost_usd) as double) as invoice_plot
from fct_spend_reconciliation
where usage_date between $date_from and $date_to
group by provider, billing_account, model, price_tier
having sum(unlogged_cost_usd) > 0
order by unlogged_usd desc, provider asc, billing_account asc, model asc, price_tier asc
limit $top
