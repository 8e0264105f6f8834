-- Publish one day of fct_spend_diagnosis: replace the day's rows (run in one transaction).
create table if not exists fct_spend_diagnosis as
select * from read_parquet($path) limit 0;

delete from fct_spend_diagnosis
where usage_date = $usage_date;

insert into fct_spend_diagnosis by name
select * from read_parquet($path);
