-- Publish one day of fct_cache_efficiency_tenant: replace the day's rows (run in one transaction).
create table if not exists fct_cache_efficiency_tenant as
select * from read_parquet($path) limit 0;

delete from fct_cache_efficiency_tenant
where usage_date = $usage_date;

insert into fct_cache_efficiency_tenant by name
select * from read_parquet($path);
