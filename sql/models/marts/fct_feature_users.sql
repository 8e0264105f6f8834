-- Who used each feature on the day, and what it cost: one row per (usage_date, feature, user_id),
-- from the per-call invoice dollars of int_call_costs. The daily fact under the weekly
-- `fct_cost_growth` view (sql/publish/cost_growth_view.sql): distinct users do not add across
-- days, so the week's active users are counted over these rows, never summed from daily counts.
--   actions                    distinct request_id of the user's user and retry calls in the feature
--   calls / user_cost_usd      the user calls (spend_class 'user'): count, invoice dollars
--   retry_cost_usd             the logged retries of those requests (spend_class 'retry' calls
--                              fct_dark_compute names `retry:<feature>`; a worker's retry that
--                              also logs a feature stays with its job type, `retry:<job type>`)
--   background_calls / _cost   background calls (spend_class 'background') whose parent_request_id
--                              is one of the user's requests of the feature on the same day
-- A call that logged no feature is under 'unspecified'; a call that logged no user has
-- user_id NULL (one row per feature: its dollars count, it is no active user). A request takes
-- the smallest feature and user its calls logged (one each in practice), so its background work
-- is linked once. A job whose parent request is not among the day's logged requests (a request
-- of the day before, or one that logged nothing) is linked to no feature; its dollars stay with
-- its job type (fct_dark_compute).
with int_call_costs as (
    select * from {{ ref('int_call_costs') }}
),

user_side as (
    select
        usage_date,
        coalesce(feature, 'unspecified') as feature,
        user_id,
        request_id,
        spend_class,
        request_count,
        cost_usd
    from int_call_costs
    where spend_class = 'user' or (spend_class = 'retry' and job_type = 'retry:' || feature)
),

requests as (
    select
        usage_date,
        request_id,
        min(feature) as feature,
        min(user_id) as user_id
    from user_side
    where request_id is not null
    group by all
),

linked as (
    select
        requests.usage_date,
        requests.feature,
        requests.user_id,
        sum(int_call_costs.request_count)::bigint as background_calls,
        sum(int_call_costs.cost_usd)::decimal(38, 12) as background_cost_usd
    from int_call_costs
    inner join requests
        on
            int_call_costs.usage_date = requests.usage_date
            and int_call_costs.parent_request_id = requests.request_id
    where int_call_costs.spend_class = 'background'
    group by all
),

used as (
    select
        usage_date,
        feature,
        user_id,
        count(distinct request_id)::bigint as actions,
        coalesce(sum(request_count) filter (where spend_class = 'user'), 0)::bigint as calls,
        coalesce(sum(cost_usd) filter (where spend_class = 'user'), 0)::decimal(38, 12) as user_cost_usd,
        coalesce(sum(cost_usd) filter (where spend_class = 'retry'), 0)::decimal(38, 12) as retry_cost_usd
    from user_side
    group by all
)

select
    coalesce(used.usage_date, linked.usage_date) as usage_date,
    coalesce(used.feature, linked.feature) as feature,
    coalesce(used.user_id, linked.user_id) as user_id,
    coalesce(used.actions, 0)::bigint as actions,
    coalesce(used.calls, 0)::bigint as calls,
    coalesce(used.user_cost_usd, 0)::decimal(38, 12) as user_cost_usd,
    coalesce(used.retry_cost_usd, 0)::decimal(38, 12) as retry_cost_usd,
    coalesce(linked.background_calls, 0)::bigint as background_calls,
    coalesce(linked.background_cost_usd, 0)::decimal(38, 12) as background_cost_usd
from used
-- a full join: a request whose calls logged two features or users is linked under its smallest
-- ones, which need not be a pair of its calls
full join linked
    on
        used.usage_date = linked.usage_date
        and used.feature = linked.feature
        and used.user_id is not distinct from linked.user_id
order by 1, 2, 3 nulls last
