-- What a visible user action costs, per feature, one row per (usage_date, feature).
-- An action is a user request: the distinct request_id of the feature's user calls. Its calls are
-- its user calls, its retries (the records with its request_id, attempt >= 2) and the background
-- calls it triggered (the worker records whose parent_request_id is it), linked within the day;
-- a call counts the requests it stands for (request_count). Its cost is the invoice's dollars of
-- all of them (int_call_costs.cost_usd: invoice effective rates). Percentiles are nearest-rank
-- (quantile_disc): an action that exists, in exact decimals.
-- user_cost_usd is every user call of the feature (with or without a request id), so per day the
-- features' user_cost_usd + fct_dark_compute + non-token charges = the invoice, exactly; the
-- retry and background dollars shown here are a part of dark compute, linked back to the feature.
-- A user call without a feature counts under 'unspecified' (as fct_dark_compute names a job type none was logged for).
with int_call_costs as (
    select * from {{ ref('int_call_costs') }}
),

linked as (
    select
        usage_date,
        spend_class,
        coalesce(feature, 'unspecified') as feature,
        case when spend_class = 'background' then parent_request_id else coalesce(request_id, parent_request_id) end
            as action_id,
        request_count,
        cost_usd
    from int_call_costs
),

actions as (
    select
        usage_date,
        action_id,
        min(feature) filter (where spend_class = 'user') as feature,
        sum(request_count)::bigint as calls,
        coalesce(sum(request_count) filter (where spend_class = 'retry'), 0)::bigint as retry_calls,
        coalesce(sum(request_count) filter (where spend_class = 'background'), 0)::bigint as background_calls,
        sum(cost_usd) as cost_usd,
        coalesce(sum(cost_usd) filter (where spend_class = 'retry'), 0) as retry_cost_usd,
        coalesce(sum(cost_usd) filter (where spend_class = 'background'), 0) as background_cost_usd
    from linked
    where action_id is not null
    group by usage_date, action_id
    having count(*) filter (where spend_class = 'user') > 0
),

per_feature as (
    select
        usage_date,
        feature,
        count(*)::bigint as actions,
        quantile_disc(calls, 0.5)::bigint as calls_per_action_p50,
        quantile_disc(calls, 0.95)::bigint as calls_per_action_p95,
        max(calls)::bigint as calls_per_action_max,
        sum(retry_calls)::bigint as retry_calls,
        sum(retry_cost_usd) as retry_cost_usd,
        sum(background_calls)::bigint as background_calls,
        sum(background_cost_usd) as background_cost_usd,
        sum(cost_usd) as action_cost_usd,
        quantile_disc(cost_usd, 0.5) as cost_per_action_p50,
        quantile_disc(cost_usd, 0.95) as cost_per_action_p95,
        quantile_disc(cost_usd, 0.99) as cost_per_action_p99
    from actions
    group by usage_date, feature
),

user_costs as (
    select
        usage_date,
        feature,
        sum(request_count)::bigint as user_calls,
        sum(cost_usd) as user_cost_usd
    from linked
    where spend_class = 'user'
    group by usage_date, feature
),

final as (
    select
        user_costs.usage_date,
        user_costs.feature,
        ---------- actions and their fan-out
        coalesce(per_feature.actions, 0) as actions,
        user_costs.user_calls,
        per_feature.calls_per_action_p50,
        per_feature.calls_per_action_p95,
        per_feature.calls_per_action_max,
        coalesce(per_feature.retry_calls, 0) as retry_calls,
        coalesce(per_feature.background_calls, 0) as background_calls,
        ---------- dollars (DECIMAL(38, 12), the invoice's effective rates)
        user_costs.user_cost_usd::decimal(38, 12) as user_cost_usd,
        coalesce(per_feature.retry_cost_usd, 0)::decimal(38, 12) as retry_cost_usd,
        coalesce(per_feature.background_cost_usd, 0)::decimal(38, 12) as background_cost_usd,
        coalesce(per_feature.action_cost_usd, 0)::decimal(38, 12) as action_cost_usd,
        per_feature.cost_per_action_p50::decimal(38, 12) as cost_per_action_p50,
        per_feature.cost_per_action_p95::decimal(38, 12) as cost_per_action_p95,
        per_feature.cost_per_action_p99::decimal(38, 12) as cost_per_action_p99
    from user_costs
    left join per_feature
        on
            user_costs.usage_date = per_feature.usage_date
            and user_costs.feature = per_feature.feature
)

select * from final
order by all
