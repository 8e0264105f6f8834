-- Publish one day of fct_savings_opportunities: replace the day's rows (run in one transaction).
create table if not exists fct_savings_opportunities as
select * from read_parquet($path) limit 0;

delete from fct_savings_opportunities
where usage_date = $usage_date;

insert into fct_savings_opportunities by name
select * from read_parquet($path);
