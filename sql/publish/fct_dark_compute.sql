-- Publish one day of fct_dark_compute: replace the day's rows (run in one transaction).
create table if not exists fct_dark_compute as
select * from read_parquet($path) limit 0;

-- a warehouse published before the price tier existed: its rows were one tier, 'standard'
alter table fct_dark_compute add column if not exists price_tier varchar default 'standard';

alter table fct_dark_compute add column if not exists allocation_basis varchar default 'cost_line';

delete from fct_dark_compute
where usage_date = $usage_date;

insert into fct_dark_compute by name
select * from read_parquet($path);
