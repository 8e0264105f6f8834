-- The dark job types that cost the most over the last 7 reconciled days (the 7 latest usage
-- days in the warehouse, whatever today's date is), across providers: background jobs, retry
-- families (`retry:<job type or feature>`) and the unlogged residual (`__unlogged__`).
-- share_of_dark_pct is the job type's part of all dark dollars of those days.
with reconciled_days as (
    select distinct usage_date
    from fct_spend_reconciliation
    order by usage_date desc
    limit 7
)

select
    dark.job_type,
    dark.dark_class,
    count(distinct dark.usage_date) as active_days,
    sum(dark.calls) as calls,
    sum(dark.cost_usd) as cost_usd,
    cast(round(100 * sum(dark.cost_usd) / sum(sum(dark.cost_usd)) over (), 2) as decimal(5, 2)) as share_of_dark_pct
from fct_dark_compute as dark
inner join reconciled_days
    on dark.usage_date = reconciled_days.usage_date
group by dark.job_type, dark.dark_class
order by cost_usd desc, dark.job_type asc
limit 10;
