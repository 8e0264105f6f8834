-- Publish one day of fct_cost_tail: replace the day's rows (run in one transaction).
create table if not exists fct_cost_tail as
select * from read_parquet($path) limit 0;

delete from fct_cost_tail
where usage_date = $usage_date;

insert into fct_cost_tail by name
select * from read_parquet($path);
