-- Publish one delivery day of source_status (one transaction).
create table if not exists source_status as
select * from read_parquet($path) limit 0;

delete from source_status where delivery_date = $delivery_date;

insert into source_status by name
select * from read_parquet($path);
