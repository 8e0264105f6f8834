-- Quarantined invocation lines of `parsed_invocations`: the contract's rejected_records columns.
-- `raw` is the redacted text (named fields only), never the line itself: it may hold prompts.
select
    $source as source,
    file,
    line,
    reason,
    left(redacted, 4096) as raw
from parsed_invocations
where outcome = 'rejected'
order by file, line
