-- The summary's rejected lines: how many lines of the days' deliveries were rejected, per source
-- and reason (each one is a row of rejected_records).
select
    source,
    reason,
    count(*) as lines
from rejected_records
where delivery_date between $date_from and $date_to
group by all
order by lines desc, source asc, reason asc
