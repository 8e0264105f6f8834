-- Publish restatements from the lake (`lake/marts/restatements/date=<usage day>/*.parquet`, read
-- into the Arrow table `incoming_restatements`): the usage days it holds, and the days being
-- published (the `days` list), are replaced whole.
create table if not exists restatements (
    restated_at timestamptz,
    usage_date date,
    provider varchar,
    billing_account varchar,
    model varchar,
    price_tier varchar,
    old_status varchar,
    new_status varchar,
    old_invoice_cost_usd decimal(38, 12),
    new_invoice_cost_usd decimal(38, 12),
    invoice_delta_usd decimal(38, 12),
    user_delta_usd decimal(38, 12),
    background_delta_usd decimal(38, 12),
    retry_delta_usd decimal(38, 12),
    unlogged_delta_usd decimal(38, 12),
    non_token_delta_usd decimal(38, 12),
    old_reconciled_at timestamptz
);

alter table restatements add column if not exists price_tier varchar;

delete from restatements
where
    list_contains($days::date[], usage_date)
    or usage_date in (select usage_date from incoming_restatements);

insert into restatements by name
select * from incoming_restatements
order by restated_at, usage_date, provider, billing_account, model, price_tier;
