-- Publish one delivery day of per-file line counts (lines read = records + skipped + rejected).
create table if not exists ingest_files as
select
    $delivery_date::date as delivery_date,
    *
from read_parquet($paths, union_by_name = true) limit 0;

-- columns added since a warehouse was created (logs' unrecognized lines)
alter table ingest_files add column if not exists unrecognized bigint;
alter table ingest_files add column if not exists sample_keys varchar;

delete from ingest_files
where delivery_date = $delivery_date;

insert into ingest_files by name
select
    $delivery_date::date as delivery_date,
    *
from read_parquet($paths, union_by_name = true);
