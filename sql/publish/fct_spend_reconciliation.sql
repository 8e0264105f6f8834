-- Publish one day of fct_spend_reconciliation: replace the day's rows (run in one transaction).
-- What a re-publication changed is computed with the mart and kept in the lake (`restatements`).
create table if not exists fct_spend_reconciliation as
select * from read_parquet($path) limit 0;

-- a warehouse published before the price tier existed: its rows were one tier, 'standard'
alter table fct_spend_reconciliation add column if not exists price_tier varchar default 'standard';

alter table fct_spend_reconciliation add column if not exists allocation_basis varchar default 'cost_line';

delete from fct_spend_reconciliation
where usage_date = $usage_date;

insert into fct_spend_reconciliation by name
select * from read_parquet($path);
