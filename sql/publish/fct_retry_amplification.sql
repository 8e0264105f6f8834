-- Publish one day of fct_retry_amplification: replace the day's rows (run in one transaction).
create table if not exists fct_retry_amplification as
select * from read_parquet($path) limit 0;

delete from fct_retry_amplification
where usage_date = $usage_date;

insert into fct_retry_amplification by name
select * from read_parquet($path);
