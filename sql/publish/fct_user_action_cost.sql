-- Publish one day of fct_user_action_cost: replace the day's rows (run in one transaction).
create table if not exists fct_user_action_cost as
select * from read_parquet($path) limit 0;

delete from fct_user_action_cost
where usage_date = $usage_date;

insert into fct_user_action_cost by name
select * from read_parquet($path);
