-- Publish one delivery day of source_status (one transaction).
create table if not exists source_status as
select * from read_parquet($path) limit 0;

-- columns added since a warehouse was created (a row per unrecognized file)
alter table source_status add column if not exists file varchar;
alter table source_status add column if not exists sample_keys varchar;

delete from source_status
where delivery_date = $delivery_date;

insert into source_status by name
select * from read_parquet($path);
