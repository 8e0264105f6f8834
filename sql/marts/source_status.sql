-- Each source's delivery for the day: 'ok' (records landed), 'empty' (files, no records, nothing
-- rejected), 'failed' (files, every line rejected), 'missing' (no file, though the source
-- delivered within the past week). Inputs: $day_files (the day's `<table>_files` partitions) and
-- $recent_files (the past week's), so a source this deployment never uses is not reported.
with recent as (
    select distinct source
    from read_parquet($recent_files, union_by_name = true)
),

today as (
    select
        source,
        count(*) as files,
        sum(lines_read) as lines_read,
        sum(records) as records,
        sum(rejected) as rejected,
    from read_parquet($day_files, union_by_name = true)
    where $delivered
    group by all
)

select
    $delivery_date::date as delivery_date,
    coalesce(today.source, recent.source) as source,
    case
        when today.files is null then 'missing'
        when today.records > 0 then 'ok'
        when today.rejected > 0 then 'failed'
        else 'empty'
    end as status,
    coalesce(today.files, 0)::bigint as files,
    coalesce(today.lines_read, 0)::bigint as lines_read,
    coalesce(today.records, 0)::bigint as records,
    coalesce(today.rejected, 0)::bigint as rejected,
from today
full outer join recent using (source)
order by source
