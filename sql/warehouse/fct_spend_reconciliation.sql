-- Publish one day of fct_spend_reconciliation: replace the day's rows (run in one transaction).
create table if not exists fct_spend_reconciliation as
select * from read_parquet($path) limit 0;

delete from fct_spend_reconciliation where usage_date = $usage_date;

insert into fct_spend_reconciliation by name
select * from read_parquet($path);
