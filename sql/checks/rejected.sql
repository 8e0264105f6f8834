-- Rejected lines of the delivery day, by source and reason.
select
    source,
    reason,
    count(*) as lines
from read_parquet($path)
group by all
order by lines desc, source asc, reason asc
