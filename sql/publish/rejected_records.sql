-- Publish one delivery day of rejected_records: replace that day's rows (one transaction).
create table if not exists rejected_records as
select * from read_parquet($path) limit 0;

delete from rejected_records
where delivery_date = $delivery_date;

insert into rejected_records by name
select * from read_parquet($path);
