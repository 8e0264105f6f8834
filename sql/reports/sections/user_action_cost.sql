-- The report's section of fct_user_action_cost: per feature over the period, its user actions,
-- the fan-out of its median action and of its largest one, what its median and 99th-percentile
-- action cost (retries and triggered background work included; percentiles: the period's worst
-- day), its user dollars and the dark compute linked back to it. Most user dollars first.
select
    feature,
    sum(actions) as actions,
    max(calls_per_action_p50) as calls_per_action_p50,
    max(calls_per_action_max) as calls_per_action_max,
    max(cost_per_action_p50) as cost_per_action_p50_usd,
    max(cost_per_action_p99) as cost_per_action_p99_usd,
    sum(user_cost_usd) as user_cost_usd,
    sum(retry_cost_usd + background_cost_usd) as linked_dark_usd
from fct_user_action_cost
where usage_date between $date_from and $date_to
group by feature
order by user_cost_usd desc, feature asc
limit $top
