-- Publish one day of fct_feature_users: replace the day's rows (run in one transaction).
create table if not exists fct_feature_users as
select * from read_parquet($path) limit 0;

delete from fct_feature_users
where usage_date = $usage_date;

insert into fct_feature_users by name
select * from read_parquet($path);
