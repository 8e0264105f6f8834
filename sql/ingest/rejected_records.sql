-- Every line of the delivery day that could not be used, from every source, with file, line and
-- reason. Input: the day's `<source>_rejects` files.
select
    $delivery_date::date as delivery_date,
    source,
    file,
    line,
    reason,
    raw
from read_parquet($paths, union_by_name = true)
order by source, file, line
