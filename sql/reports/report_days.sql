-- Per provider and day, the status of the day's invoice: `provisional` when any of its rows is
-- (no cost export yet, or not settled), else `estimated` when any row is, else `final`.
select
    provider,
    strftime(usage_date, '%Y-%m-%d') as usage_date,
    case
        when bool_or(status = 'provisional') then 'provisional'
        when bool_or(status = 'estimated') then 'estimated'
        else 'final'
    end as status,
    sum(invoice_cost_usd) as invoice_usd,
    cast(sum(invoice_cost_usd) as double) as invoice_plot
from fct_spend_reconciliation
where usage_date between $date_from and $date_to
group by provider, usage_date
order by provider, usage_date
