-- fct_cost_growth: cost against users, per ISO week (Monday to Sunday, UTC days) and subject, a
-- view over the published daily marts, (re)created at every publication (publish.py) and run
-- by the cost_growth_within_users check over views of the lake's partitions (checks.py).
-- Subjects:
--   'feature'  one per logged feature: its active users (distinct user_id of the week in
--              fct_feature_users), actions, user and retry dollars, and the background dollars
--              linked to its requests through parent_request_id;
--   'job_type' one per background job type (fct_dark_compute's background rows, and its
--              `retry:<job type>` rows): its dollars against the week's active users of the whole
--              product (a job type serves everyone; scheduled jobs have no user of their own);
--   'total'    '__all__': every user, action, user, retry and background dollar of the week.
-- A week is whole when the warehouse holds all 7 of its days (fct_spend_reconciliation has rows
-- for every reconciled day): the first and the current week are usually partial. Growth is
-- this week / 4 (or 12) weeks earlier, and only between two whole weeks (NULL otherwise, and
-- when the earlier week had no cost or users). Money stays DECIMAL: per-user dollars and
-- ratios are integer picodollar divisions, rounded half up (12 and 6 places).
create or replace view fct_cost_growth as
with days as (
    select distinct usage_date from fct_spend_reconciliation
),

weeks as (
    select
        date_trunc('week', usage_date)::date as week_start,
        count(*)::integer as days_reconciled
    from days
    group by all
),

people as (
    select
        date_trunc('week', usage_date)::date as week_start,
        feature,
        user_id,
        actions,
        calls,
        user_cost_usd,
        retry_cost_usd,
        background_calls,
        background_cost_usd
    from fct_feature_users
),

features as (
    select
        week_start,
        'feature' as subject_kind,
        feature as subject,
        count(distinct user_id)::bigint as active_users,
        sum(actions)::bigint as actions,
        sum(calls)::bigint as calls,
        sum(user_cost_usd)::decimal(38, 12) as user_cost_usd,
        sum(retry_cost_usd)::decimal(38, 12) as retry_cost_usd,
        sum(background_calls)::bigint as background_calls,
        sum(background_cost_usd)::decimal(38, 12) as background_cost_usd
    from people
    group by all
),

product as (
    select
        week_start,
        count(distinct user_id)::bigint as active_users,
        sum(actions)::bigint as actions,
        sum(calls)::bigint as calls,
        sum(user_cost_usd)::decimal(38, 12) as user_cost_usd
    from people
    group by all
),

dark as (
    select
        date_trunc('week', usage_date)::date as week_start,
        dark_class,
        case when dark_class = 'retry' then regexp_replace(job_type, '^retry:', '') else job_type end as subject,
        calls,
        cost_usd
    from fct_dark_compute
    where dark_class in ('background', 'retry')
),

job_types as (
    select
        week_start,
        'job_type' as subject_kind,
        subject,
        coalesce(sum(calls) filter (where dark_class = 'background'), 0)::bigint as background_calls,
        coalesce(sum(cost_usd) filter (where dark_class = 'retry'), 0)::decimal(38, 12) as retry_cost_usd,
        coalesce(sum(cost_usd) filter (where dark_class = 'background'), 0)::decimal(38, 12) as background_cost_usd
    from dark
    group by all
    -- a job type: background calls in the week; its retries (`retry:<job type>`) go with it, a
    -- feature's (`retry:<feature>`, no background of that name) are on its feature row
    having bool_or(dark_class = 'background')
),

all_dark as (
    select
        week_start,
        coalesce(sum(calls) filter (where dark_class = 'background'), 0)::bigint as background_calls,
        coalesce(sum(cost_usd) filter (where dark_class = 'retry'), 0)::decimal(38, 12) as retry_cost_usd,
        coalesce(sum(cost_usd) filter (where dark_class = 'background'), 0)::decimal(38, 12) as background_cost_usd
    from dark
    group by all
),

subjects as (
    select * from features
    union all by name
    select
        job_types.week_start,
        job_types.subject_kind,
        job_types.subject,
        product.active_users,
        null::bigint as actions,
        null::bigint as calls,
        null::decimal(38, 12) as user_cost_usd,
        job_types.retry_cost_usd,
        job_types.background_calls,
        job_types.background_cost_usd
    from job_types
    left join product using (week_start)
    union all by name
    select
        weeks.week_start,
        'total' as subject_kind,
        '__all__' as subject,
        coalesce(product.active_users, 0)::bigint as active_users,
        coalesce(product.actions, 0)::bigint as actions,
        coalesce(product.calls, 0)::bigint as calls,
        coalesce(product.user_cost_usd, 0)::decimal(38, 12) as user_cost_usd,
        coalesce(all_dark.retry_cost_usd, 0)::decimal(38, 12) as retry_cost_usd,
        coalesce(all_dark.background_calls, 0)::bigint as background_calls,
        coalesce(all_dark.background_cost_usd, 0)::decimal(38, 12) as background_cost_usd
    from weeks
    left join product using (week_start)
    left join all_dark using (week_start)
),

measured as (
    select
        subjects.*,
        (coalesce(subjects.user_cost_usd, 0) + subjects.retry_cost_usd + subjects.background_cost_usd)
        ::decimal(38, 12) as cost_usd,
        coalesce(weeks.days_reconciled, 0) as days_reconciled,
        coalesce(weeks.days_reconciled, 0) = 7 as whole_week,
        -- what the background dollars are weighed against: the subject's user dollars, for a job
        -- type the week's user dollars of the whole product
        coalesce(subjects.user_cost_usd, product.user_cost_usd) as against_user_cost_usd
    from subjects
    left join weeks using (week_start)
    left join product using (week_start)
),

pico as (
    select
        *,
        (cost_usd * 1000000000000)::hugeint as cost_pico,
        (background_cost_usd * 1000000000000)::hugeint as background_pico,
        (against_user_cost_usd * 1000000000000)::hugeint as against_user_pico
    from measured
),

compared as (
    select
        this.*,
        before_4.cost_pico as cost_pico_4w,
        before_4.active_users as active_users_4w,
        before_12.cost_pico as cost_pico_12w,
        before_12.active_users as active_users_12w
    from pico as this
    left join pico as before_4
        on
            this.subject_kind = before_4.subject_kind
            and this.subject = before_4.subject
            and before_4.week_start = this.week_start - interval 28 days
            and this.whole_week
            and before_4.whole_week
    left join pico as before_12
        on
            this.subject_kind = before_12.subject_kind
            and this.subject = before_12.subject
            and before_12.week_start = this.week_start - interval 84 days
            and this.whole_week
            and before_12.whole_week
)

select
    week_start,
    (week_start + interval 6 days)::date as week_end,
    strftime(week_start, '%G-W%V') as iso_week,
    days_reconciled,
    whole_week,
    subject_kind,
    subject,
    active_users,
    actions,
    calls,
    background_calls,
    user_cost_usd,
    retry_cost_usd,
    background_cost_usd,
    cost_usd,
    case
        when active_users > 0
            then ((cost_pico * 2 + active_users) // (2 * active_users))::decimal(38, 0) * 0.000000000001
    end::decimal(38, 12) as cost_per_active_user_usd,
    case
        when against_user_pico > 0
            then ((background_pico * 2000000 + against_user_pico) // (2 * against_user_pico))::decimal(38, 0) * 0.000001
    end::decimal(18, 6) as background_to_user_ratio,
    case
        when cost_pico_4w > 0
            then ((cost_pico * 2000000 + cost_pico_4w) // (2 * cost_pico_4w))::decimal(38, 0) * 0.000001
    end::decimal(18, 6) as cost_growth_4w_ratio,
    case
        when active_users_4w > 0
            then
                ((active_users::hugeint * 2000000 + active_users_4w) // (2 * active_users_4w))::decimal(38, 0)
                * 0.000001
    end::decimal(18, 6) as users_growth_4w_ratio,
    case
        when cost_pico_12w > 0
            then ((cost_pico * 2000000 + cost_pico_12w) // (2 * cost_pico_12w))::decimal(38, 0) * 0.000001
    end::decimal(18, 6) as cost_growth_12w_ratio,
    case
        when active_users_12w > 0
            then
                ((active_users::hugeint * 2000000 + active_users_12w) // (2 * active_users_12w))::decimal(38, 0)
                * 0.000001
    end::decimal(18, 6) as users_growth_12w_ratio
from compared;
