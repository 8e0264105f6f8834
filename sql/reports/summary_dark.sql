-- The summary's dark compute by job type: per provider, day and class (background, retry), the
-- cost of each job type (for retries, the family of the retried call).
select
    provider,
    usage_date,
    dark_class,
    job_type,
    sum(cost_usd) as usd
from fct_dark_compute
where
    usage_date between $date_from and $date_to
    and dark_class in ('background', 'retry')
group by all
order by provider, dark_class, job_type, usage_date
