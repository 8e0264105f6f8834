{#- The diagnosis: on every row of fct_spend_diagnosis the four parts add up to the difference
    exactly, the difference is the invoice minus the list cost of the logged usage, and the
    invoice and list cost are fct_spend_reconciliation's; every reconciliation row has exactly
    one diagnosis row. Returns the rows that break it. It reads both marts; Dagster shows it as a
    check of fct_spend_diagnosis (meta.dagster.ref). -#}
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'fct_spend_diagnosis'}}}) }}

with diagnosis as (
    select * from {{ ref('fct_spend_diagnosis') }}
),

reconciliation as (
    select * from {{ ref('fct_spend_reconciliation') }}
),

broken_sums as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        price_tier,
        'parts do not sum to the difference' as problem
    from diagnosis
    where
        difference_usd is distinct from quantity_gap_usd + price_gap_usd + non_token_usd + credits_usd
        or difference_usd is distinct from invoice_cost_usd - logged_catalog_cost_usd
),

unmatched as (
    select
        coalesce(reconciliation.usage_date, diagnosis.usage_date) as usage_date,
        coalesce(reconciliation.provider, diagnosis.provider) as provider,
        coalesce(reconciliation.billing_account, diagnosis.billing_account) as billing_account,
        coalesce(reconciliation.model, diagnosis.model) as model,
        coalesce(reconciliation.price_tier, diagnosis.price_tier) as price_tier,
        'not one diagnosis row per reconciliation row' as problem
    from reconciliation
    full outer join diagnosis
        using (usage_date, provider, billing_account, model, price_tier)
    where
        reconciliation.usage_date is null or diagnosis.usage_date is null
        or reconciliation.invoice_cost_usd is distinct from diagnosis.invoice_cost_usd
        or reconciliation.catalog_cost_usd is distinct from diagnosis.catalog_cost_usd
)

select * from broken_sums
union all
select * from unmatched
