-- Publish one day of fct_gateway_estimate: replace the day's rows (run in one transaction).
create table if not exists fct_gateway_estimate as
select * from read_parquet($path) limit 0;

delete from fct_gateway_estimate
where usage_date = $usage_date;

insert into fct_gateway_estimate by name
select * from read_parquet($path);
