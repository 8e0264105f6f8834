-- Per-file conservation, in lines: lines read = records + skipped + rejected. `unrecognized` (of
-- the skipped) counts JSON objects no rule knows, with a sample of their keys.
-- A flat line is one row of `parsed_lines`. An OTLP line has one row per span and still counts
-- once: as a record when at least one of its spans became a record (its other spans may be
-- rejected: they are rows of the rejects all the same, so nothing is dropped silently), else as
-- rejected when any of its spans (or its envelope) was rejected, else as skipped (no span of it
-- is a model call, or it has no span at all).
with line_outcomes as (
    select
        file,
        outcome,
        unrecognized,
        -- the sample's keys come from a file's first 100 unrecognized lines
        case
            when unrecognized and row_number() over (partition by file, unrecognized order by line) <= 100
                then unrecognized_keys
        end as unrecognized_keys
    from parsed_lines
    where span_index is null
    union all
    select
        file,
        case
            when bool_or(outcome = 'record') then 'record'
            when bool_or(outcome = 'rejected') then 'rejected'
            else 'skipped'
        end as outcome,
        false as unrecognized,
        null::varchar[] as unrecognized_keys
    from parsed_lines
    where span_index is not null
    group by file, line
)

select
    file,
    count(*) as lines_read,
    count(*) filter (where outcome = 'record') as records,
    count(*) filter (where outcome = 'skipped') as skipped,
    count(*) filter (where outcome = 'rejected') as rejected,
    count(*) filter (where unrecognized) as unrecognized,
    -- keys seen on unrecognized lines (names only, each cut at 64 characters, at most 20)
    nullif(array_to_string(list_sort(list_distinct(
        flatten(list(list_transform(unrecognized_keys, lambda k: left(k, 64))) filter (where unrecognized))
    ))[1:20], ', '), '') as sample_keys
from line_outcomes
group by file
order by file
