-- Each feature budget (the registered relation `budgets`: scope, name, provider, daily_usd,
-- severity, origin) against the day's cost of the feature in fct_user_action_cost ($path): what
-- its waiting users cost (user_cost_usd) plus the retries and background work its actions
-- triggered (retry_cost_usd, background_cost_usd), over every provider. `cells` names the parts.
with features as (
    select
        feature,
        user_cost_usd,
        retry_cost_usd,
        background_cost_usd,
        user_cost_usd + retry_cost_usd + background_cost_usd as cost_usd
    from read_parquet($path)
),

totals as (
    select
        budgets.origin,
        budgets.name,
        budgets.provider,
        budgets.daily_usd::decimal(38, 12) as daily_usd,
        budgets.severity,
        coalesce(features.cost_usd, 0)::decimal(38, 12) as cost_usd,
        'user $' || round(features.user_cost_usd, 2)::varchar
        || '; retries $' || round(features.retry_cost_usd, 2)::varchar
        || '; background it triggered $' || round(features.background_cost_usd, 2)::varchar as cells
    from budgets
    left join features on budgets.name = features.feature
    where budgets.scope = 'feature'
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
