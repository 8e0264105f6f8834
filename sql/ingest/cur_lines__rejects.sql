-- Quarantined lines of `parsed_cur`: the contract's rejected_records columns (`raw` holds the
-- line's identifying columns as JSON).
select
    $source as source,
    file,
    line,
    reason,
    left(redacted, 4096) as raw
from parsed_cur
where outcome = 'rejected'
order by line
