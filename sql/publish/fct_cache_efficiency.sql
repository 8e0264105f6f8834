-- Publish one day of fct_cache_efficiency: replace the day's rows (run in one transaction).
create table if not exists fct_cache_efficiency as
select * from read_parquet($path) limit 0;

delete from fct_cache_efficiency
where usage_date = $usage_date;

insert into fct_cache_efficiency by name
select * from read_parquet($path);
