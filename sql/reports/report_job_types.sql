-- Dark compute by job type over the period (`retry:<job type or feature>` for retries,
-- `unlogged usage` for `__unlogged__`), per provider and dark class; the job types past the
-- `$top` costliest are folded into one `other` line.
with by_job as (
    select
        dark_class,
        provider,
        case when job_type = '__unlogged__' then 'unlogged usage' else job_type end as job_type,
        sum(cost_usd) as usd
    from fct_dark_compute
    where usage_date between $date_from and $date_to
    group by all
),

totals as (
    select
        job_type,
        sum(usd) as total_usd
    from by_job
    group by job_type
),

ranked as (
    select
        job_type,
        row_number() over (order by total_usd desc, job_type asc) as job_rank,
        $top as top_n,
        count(*) over () - $top as folded
    from totals
),

folded as (
    select
        by_job.dark_class,
        by_job.provider,
        by_job.usd,
        least(ranked.job_rank, ranked.top_n + 1) as job_rank,
        case
            when ranked.job_rank <= ranked.top_n then by_job.job_type
            else 'other (' || ranked.folded || if(ranked.folded = 1, ' job type)', ' job types)')
        end as job_type
    from by_job
    inner join ranked
        on by_job.job_type = ranked.job_type
)

select
    job_type,
    job_rank,
    dark_class,
    provider,
    sum(usd) as usd,
    cast(sum(usd) as double) as usd_plot
from folded
group by all
order by job_rank, dark_class, provider
