-- Per-file conservation: lines read = records + skipped + rejected.
select
    file,
    count(*) as lines_read,
    count(*) filter (where outcome = 'record') as records,
    count(*) filter (where outcome = 'skipped') as skipped,
    count(*) filter (where outcome = 'rejected') as rejected,
from parsed_lines
group by file
order by file
