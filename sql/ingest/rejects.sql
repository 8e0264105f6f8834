-- Quarantined lines of `parsed_lines`: the contract's rejected_records columns. A rejected OTLP
-- span is a row of its own with its line's number; its `raw` is the span (traceId, spanId, ...)
-- with only the attributes the contract reads, never the whole line, which may carry many spans
-- and prompt text (see `otlp_spans.sql`).
select
    $source as source,
    file,
    line,
    reason,
    rejected_raw as raw
from parsed_lines
where outcome = 'rejected'
order by file, line, span_index
