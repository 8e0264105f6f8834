-- Each subject (a cell or a tenant, `cache_hit_days`: its input and cache-read tokens per day) of
-- day $day with input: its hit rate in percentage points, the median of its hit rates over the
-- seven days before $day on which it had input, how many such days there were, and the drop (the
-- median minus the day's rate; NULL without a prior day). Largest drop first.
with days as (
    select
        usage_date,
        subject,
        input_tokens,
        cache_read_tokens,
        100.0 * cache_read_tokens / input_tokens as hit_points
    from cache_hit_days
    where input_tokens > 0
),

history as (
    select
        subject,
        median(hit_points) as median_points,
        count(*) as prior_days
    from days
    where usage_date >= $day::date - 7 and usage_date < $day::date
    group by subject
),

today as (
    select * from days
    where usage_date = $day::date
)

select
    today.subject,
    today.input_tokens::bigint as input_tokens,
    today.cache_read_tokens::bigint as cache_read_tokens,
    round(today.hit_points, 2) as hit_points,
    round(history.median_points, 2) as median_points,
    coalesce(history.prior_days, 0) as prior_days,
    round(history.median_points - today.hit_points, 2) as drop_points
from today
left join history on today.subject = history.subject
order by drop_points desc nulls last, today.subject asc
