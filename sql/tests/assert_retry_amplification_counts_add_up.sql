{#- fct_retry_amplification's counts and dollars against fct_spend_reconciliation: per cell the
    logged calls split into first attempts and retries, the unseen requests are the provider's
    count less the logged calls (NULL with it), the unseen dollars never exceed the unlogged ones,
    and the cell's counts and dollars are its reconciliation rows' sums (exactly). Returns the
    rows that break it. It reads both marts; Dagster shows it as a check of fct_retry_amplification
    (meta.dagster.ref). -#}
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'fct_retry_amplification'}}}) }}

with amplification as (
    select * from {{ ref('fct_retry_amplification') }}
),

reconciliation as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        sum(logged_calls) as logged_calls,
        sum(invoice_cost_usd) as invoice_cost_usd,
        sum(unlogged_cost_usd) as unlogged_cost_usd
    from {{ ref('fct_spend_reconciliation') }}
    where model <> '__non_token__'
    group by all
),

broken as (
    select
        amplification.usage_date,
        amplification.provider,
        amplification.billing_account,
        amplification.model
    from amplification
    full join reconciliation using (usage_date, provider, billing_account, model)
    where
        amplification.logged_calls is distinct from reconciliation.logged_calls
        or amplification.invoice_cost_usd is distinct from reconciliation.invoice_cost_usd
        or amplification.unlogged_cost_usd is distinct from reconciliation.unlogged_cost_usd
        or amplification.logged_calls is distinct from amplification.logged_first_attempts
        + amplification.logged_retries
        or amplification.unseen_requests is distinct from amplification.provider_requests - amplification.logged_calls
        or amplification.unseen_cost_usd > amplification.unlogged_cost_usd
        or amplification.unseen_cost_usd < 0
        or amplification.logged_retries < 0
)

select * from broken
