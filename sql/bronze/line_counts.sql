-- Per-file conservation, in lines: lines read = records + skipped + rejected.
-- A flat line is one row of `parsed_lines`. An OTLP line has one row per span and still counts
-- once: as a record when at least one of its spans became a record (its other spans may be
-- rejected: they are rows of the rejects all the same, so nothing is dropped silently), else as
-- rejected when any of its spans (or its envelope) was rejected, else as skipped (no span of it
-- is a model call, or it has no span at all).
with line_outcomes as (
    select file, outcome,
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
from line_outcomes
group by file
order by file
