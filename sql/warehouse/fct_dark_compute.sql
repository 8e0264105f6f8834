-- Publish one day of fct_dark_compute: replace the day's rows (run in one transaction).
create table if not exists fct_dark_compute as
select * from read_parquet($path) limit 0;

delete from fct_dark_compute where usage_date = $usage_date;

insert into fct_dark_compute by name
select * from read_parquet($path);
