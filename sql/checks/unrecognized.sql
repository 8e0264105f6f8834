-- Delivered files of the day in which no line was a model call, a rejected call or a known
-- non-call event: their lines and the keys they held (names only).
select
    source,
    file,
    lines_read,
    sample_keys
from read_parquet($path, union_by_name = true)
where status = 'unrecognized' and file is not null
order by source, file
