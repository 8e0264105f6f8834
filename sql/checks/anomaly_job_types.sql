-- Job types whose dark cost on $day (per provider, summed over accounts, models, price tiers) is
-- above $factor times its median over the previous days ($history: the days whose
-- fct_dark_compute partition exists; a day without the job type counts $0), and at least
-- $min_usd. A job type whose median is $0 (new, or absent most days) is listed when it costs at
-- least $min_usd. `job_type` is fct_dark_compute's: a worker job type, `retry:<...>` or
-- `__unlogged__`. `cells` names the day's accounts and models of the job type, largest first.
with params as (
    select
        $factor as max_factor,
        $min_usd as floor_usd
),

dark_rows as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        job_type,
        cost_usd
    from read_parquet($files, union_by_name = true)
),

daily as (
    select
        usage_date,
        provider,
        job_type,
        sum(cost_usd) as cost_usd
    from dark_rows
    group by all
),

today as (
    select
        provider,
        job_type,
        cost_usd
    from daily
    where usage_date = $day
),

history_days as (
    select unnest($history::DATE[]) as history_date
),

history as (
    select
        today.provider,
        today.job_type,
        history_days.history_date,
        coalesce(daily.cost_usd, 0) as cost_usd
    from today
    cross join history_days
    left join daily
        on
            today.provider = daily.provider
            and today.job_type = daily.job_type
            and history_days.history_date = daily.usage_date
),

medians as (
    select
        provider,
        job_type,
        median(cost_usd)::DECIMAL(38, 12) as median_usd
    from history
    group by all
),

day_cells as (
    select
        provider,
        job_type,
        billing_account,
        model,
        sum(cost_usd) as cost_usd
    from dark_rows
    where usage_date = $day
    group by all
),

cells as (
    select
        provider,
        job_type,
        string_agg(
            billing_account || ' ' || model || ' $' || round(cost_usd, 2)::VARCHAR, '; '
            order by cost_usd desc, billing_account asc, model asc
        ) as cells
    from day_cells
    group by all
)

select
    today.provider,
    today.job_type,
    today.cost_usd,
    medians.median_usd,
    case when medians.median_usd > 0 then round(today.cost_usd / medians.median_usd, 2) end as ratio,
    cells.cells
from today
inner join medians using (provider, job_type)
inner join cells using (provider, job_type)
cross join params
where
    today.cost_usd >= params.floor_usd
    and today.cost_usd > params.max_factor * medians.median_usd
order by today.cost_usd desc, today.provider asc, today.job_type asc
