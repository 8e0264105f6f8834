-- Publish one day of focus_costs (the FOCUS 1.3 export): replace the day's rows (one transaction).
create table if not exists focus_costs as
select * from read_parquet($path) limit 0;

delete from focus_costs
where "x_UsageDate" = $usage_date;

insert into focus_costs by name
select * from read_parquet($path);
