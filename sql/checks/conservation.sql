-- Files of the delivery day whose lines do not add up: lines_read <> records + skipped + rejected,
-- or a files table claiming a different number of records than the bronze rows of that file.
-- Inputs: $files (the day's `<table>_files` partitions) and $records (the day's bronze tables).
with claimed as (
    select
        source,
        file,
        lines_read,
        records,
        skipped,
        rejected
    from read_parquet($files, union_by_name = true)
),

-- a line can hold several records (an OTLP line with two spans): count the lines that landed
landed as (
    select
        source_file as file,
        count(distinct source_line) as bronze_rows
    from read_parquet($records, union_by_name = true)
    group by all
)

select
    claimed.source,
    claimed.file,
    claimed.lines_read,
    claimed.records,
    claimed.skipped,
    claimed.rejected,
    coalesce(landed.bronze_rows, 0) as bronze_rows
from claimed
left join landed using (file)
where
    claimed.lines_read <> claimed.records + claimed.skipped + claimed.rejected
    or coalesce(landed.bronze_rows, 0) <> claimed.records
order by claimed.source, claimed.file
