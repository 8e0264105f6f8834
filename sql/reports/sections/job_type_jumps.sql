-- Job types against their usual day: per day of the period, provider and job type, the day's dark
-- cost (fct_dark_compute, summed over accounts, models and price tiers) and its median over the
-- 7 days before (the days the warehouse holds; a day without the job type counts $0, at least
-- 3 such days), the largest jumps in dollars over the median first. The rule of the
-- job_type_cost_within_factor check, without its thresholds.
with days as (
    select distinct usage_date
    from fct_spend_reconciliation
    where usage_date between $date_from::date - interval 7 day and $date_to::date
),

daily as (
    select
        usage_date,
        provider,
        job_type,
        sum(cost_usd) as cost_usd
    from fct_dark_compute
    where usage_date between $date_from::date - interval 7 day and $date_to::date
    group by all
),

job_types as (
    select distinct
        provider,
        job_type
    from daily
),

grid as (
    select
        days.usage_date,
        job_types.provider,
        job_types.job_type,
        coalesce(daily.cost_usd, 0) as cost_usd
    from days
    cross join job_types
    left join daily
        on
            days.usage_date = daily.usage_date
            and job_types.provider = daily.provider
            and job_types.job_type = daily.job_type
),

windowed as (
    select
        *,
        median(cost_usd) over history as median_usd,
        count(*) over history as history_days
    from grid
    window history as (
        partition by provider, job_type order by usage_date
        range between interval 7 day preceding and interval 1 day preceding
    )
)

select
    usage_date::varchar as usage_date,
    provider,
    job_type,
    cost_usd as day_usd,
    median_usd::decimal(38, 12) as median_7d_usd,
    case when median_usd > 0 then cost_usd / median_usd end as jump_ratio
from windowed
where
    usage_date between $date_from and $date_to
    and history_days >= 3
    and cost_usd > median_usd
order by cost_usd - median_usd desc, usage_date, provider asc, job_type asc
limit $top
