-- Retries over the last 7 reconciled days, by the job type or feature that retried: the calls
-- retried, what they cost, and their part of all retry dollars of those days. A retry family is
-- `retry:<job type or feature>` in fct_dark_compute; `retried` drops the prefix.
with reconciled_days as (
    select distinct usage_date
    from fct_spend_reconciliation
    order by usage_date desc
    limit 7
)

select
    substr(dark.job_type, length('retry:') + 1) as retried,
    string_agg(distinct dark.provider, ', ' order by dark.provider) as providers,
    sum(dark.calls) as retry_calls,
    sum(dark.cost_usd) as retry_cost_usd,
    cast(round(100 * sum(dark.cost_usd) / sum(sum(dark.cost_usd)) over (), 2) as decimal(5, 2)) as share_of_retries_pct
from fct_dark_compute as dark
inner join reconciled_days
    on dark.usage_date = reconciled_days.usage_date
where dark.dark_class = 'retry'
group by retried
order by retry_cost_usd desc, retried asc;
