-- Each source's delivery for the day: 'ok' (records landed), 'empty' (files, no records, nothing
-- rejected), 'failed' (files, every line rejected), 'unrecognized' (files of JSON lines, none of
-- them a model call, a rejected call or a known non-call event), 'missing' (no file, though the
-- source delivered within the past week). Inputs: $day_files (the day's `<table>_files`
-- partitions) and $recent_files (the past week's), so a source this deployment never uses is not
-- reported. A source's row has `file` null; each unrecognized file has a row of its own too
-- (status 'unrecognized', `file` set, its lines and a sample of the keys it held, never values).
with recent as (
    select distinct source
    from read_parquet($recent_files, union_by_name = true)
),

day_files as (
    select *
    from read_parquet($day_files, union_by_name = true)
    where $delivered
),

today as (
    select
        source,
        count(*) as files,
        sum(lines_read) as lines_read,
        sum(records) as records,
        sum(rejected) as rejected,
        sum(coalesce(unrecognized, 0)) as unrecognized
    from day_files
    group by all
),

sources as (
    select
        $delivery_date::date as delivery_date,
        coalesce(today.source, recent.source) as source,
        null::varchar as file,
        case
            when today.files is null then 'missing'
            when today.records > 0 then 'ok'
            when today.rejected > 0 then 'failed'
            when today.unrecognized > 0 then 'unrecognized'
            else 'empty'
        end as status,
        coalesce(today.files, 0)::bigint as files,
        coalesce(today.lines_read, 0)::bigint as lines_read,
        coalesce(today.records, 0)::bigint as records,
        coalesce(today.rejected, 0)::bigint as rejected,
        null::varchar as sample_keys
    from today
    full outer join recent using (source)
),

unrecognized_files as (
    select
        $delivery_date::date as delivery_date,
        source,
        file,
        'unrecognized' as status,
        1::bigint as files,
        lines_read::bigint as lines_read,
        0::bigint as records,
        0::bigint as rejected,
        sample_keys
    from day_files
    where records = 0 and rejected = 0 and coalesce(unrecognized, 0) > 0
)

select * from sources
union all
select * from unrecognized_files
order by source, file nulls first
