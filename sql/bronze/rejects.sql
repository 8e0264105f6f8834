-- Quarantined lines of `parsed_lines`: the contract's rejected_records columns. A rejected OTLP
-- span is a row of its own with its line's number; `raw` is then the span's JSON (which holds its
-- spanId), not the whole line, which may carry many spans.
select
    $source as source,
    file,
    line,
    reason,
    left(coalesce(text, raw::varchar), 4096) as raw,
from parsed_lines
where outcome = 'rejected'
order by file, line, span_index
