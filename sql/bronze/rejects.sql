-- Quarantined lines of `parsed_lines`: the contract's rejected_records columns.
select
    $source as source,
    file,
    line,
    reason,
    left(coalesce(text, raw::varchar), 4096) as raw,
from parsed_lines
where outcome = 'rejected'
order by file, line
