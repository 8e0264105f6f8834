-- Per-file conservation of `parsed_invocations`: lines read = records + skipped + rejected.
select
    file,
    count(*) as lines_read,
    count(*) filter (where outcome = 'record') as records,
    count(*) filter (where outcome = 'skipped') as skipped,
    count(*) filter (where outcome = 'rejected') as rejected
from parsed_invocations
group by file
order by file
