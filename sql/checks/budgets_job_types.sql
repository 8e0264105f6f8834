-- Each job-type budget (the registered relation `budgets`: scope, name, provider, daily_usd,
-- severity, origin) against the day's cost in fct_dark_compute ($path): the job type's rows and
-- its retries (`retry:<name>`), at the budget's provider or every provider. `cells` names the
-- provider, account, model and job type of the day's rows, largest first.
with rows as (
    select
        provider,
        billing_account,
        model,
        job_type,
        sum(cost_usd) as cost_usd
    from read_parquet($path)
    group by all
),

matched as (
    select
        budgets.origin,
        rows.*
    from budgets
    inner join rows
        on
            (budgets.name = rows.job_type or rows.job_type = 'retry:' || budgets.name)
            and (budgets.provider is null or budgets.provider = rows.provider)
    where budgets.scope = 'job_type'
),

totals as (
    select
        budgets.origin,
        budgets.name,
        budgets.provider,
        budgets.daily_usd::decimal(38, 12) as daily_usd,
        budgets.severity,
        coalesce(sum(matched.cost_usd), 0)::decimal(38, 12) as cost_usd,
        string_agg(
            matched.provider || ' ' || matched.billing_account || ' ' || matched.model || ' '
            || matched.job_type || ' $' || round(matched.cost_usd, 2)::varchar, '; '
            order by
                matched.cost_usd desc, matched.provider asc, matched.billing_account asc, matched.model asc,
                matched.job_type asc
        ) as cells
    from budgets
    left join matched using (origin)
    where budgets.scope = 'job_type'
    group by budgets.origin, budgets.name, budgets.provider, budgets.daily_usd, budgets.severity
)

select
    origin,
    name,
    provider,
    daily_usd,
    severity,
    cost_usd,
    cost_usd > daily_usd as over_budget,
    cells
from totals
order by over_budget desc, cost_usd desc, origin asc
