-- Publish one day of fct_spend_reconciliation: record what a re-publication changes in
-- `restatements` (old and new values, per row), then replace the day's rows. One transaction.
create table if not exists fct_spend_reconciliation as
select * from read_parquet($path) limit 0;

-- a warehouse published before the price tier existed: its rows were one tier, 'standard'
alter table fct_spend_reconciliation add column if not exists price_tier varchar default 'standard';

alter table fct_spend_reconciliation add column if not exists allocation_basis varchar default 'cost_line';

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

insert into restatements by name
with published as (
    select * from fct_spend_reconciliation
    where usage_date = $usage_date
),

incoming as (
    select * from read_parquet($path)
),

compared as (
    select
        coalesce(incoming.reconciled_at, now()) as restated_at,
        coalesce(incoming.usage_date, published.usage_date) as usage_date,
        coalesce(incoming.provider, published.provider) as provider,
        coalesce(incoming.billing_account, published.billing_account) as billing_account,
        coalesce(incoming.model, published.model) as model,
        coalesce(incoming.price_tier, published.price_tier) as price_tier,
        published.status as old_status,
        incoming.status as new_status,
        published.invoice_cost_usd as old_invoice_cost_usd,
        incoming.invoice_cost_usd as new_invoice_cost_usd,
        coalesce(incoming.invoice_cost_usd, 0) - coalesce(published.invoice_cost_usd, 0) as invoice_delta_usd,
        coalesce(incoming.user_cost_usd, 0) - coalesce(published.user_cost_usd, 0) as user_delta_usd,
        coalesce(incoming.background_cost_usd, 0) - coalesce(published.background_cost_usd, 0)
            as background_delta_usd,
        coalesce(incoming.retry_cost_usd, 0) - coalesce(published.retry_cost_usd, 0) as retry_delta_usd,
        coalesce(incoming.unlogged_cost_usd, 0) - coalesce(published.unlogged_cost_usd, 0) as unlogged_delta_usd,
        coalesce(incoming.non_token_cost_usd, 0) - coalesce(published.non_token_cost_usd, 0) as non_token_delta_usd,
        published.reconciled_at as old_reconciled_at,
    from published
    full outer join incoming
        using (usage_date, provider, billing_account, model, price_tier)
)

select * from compared
where exists (select 1 from published)
    and (
        old_status is distinct from new_status
        or invoice_delta_usd <> 0
        or user_delta_usd <> 0
        or background_delta_usd <> 0
        or retry_delta_usd <> 0
        or unlogged_delta_usd <> 0
        or non_token_delta_usd <> 0
    );

delete from fct_spend_reconciliation where usage_date = $usage_date;

insert into fct_spend_reconciliation by name
select * from read_parquet($path);
