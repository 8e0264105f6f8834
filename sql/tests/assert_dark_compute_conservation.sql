{#- Conservation: per cell (usage_date, provider, billing_account, model, price_tier), the dollars
    of fct_dark_compute equal the background + retry + unlogged dollars of fct_spend_reconciliation
    exactly: no dark dollar is made up or lost between the two marts. A cell present on one side
    only counts as $0 on the other. Returns the cells that differ. It reads both marts; Dagster
    shows it as a check of fct_dark_compute (meta.dagster.ref, dagster-dbt's rule for a singular
    test of several models). -#}
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'fct_dark_compute'}}}) }}

with dark as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        price_tier,
        sum(cost_usd) as dark_cost_usd
    from {{ ref('fct_dark_compute') }}
    group by all
),

reconciled as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        price_tier,
        sum(background_cost_usd + retry_cost_usd + unlogged_cost_usd) as dark_cost_usd
    from {{ ref('fct_spend_reconciliation') }}
    group by all
),

compared as (
    select
        coalesce(dark.usage_date, reconciled.usage_date) as usage_date,
        coalesce(dark.provider, reconciled.provider) as provider,
        coalesce(dark.billing_account, reconciled.billing_account) as billing_account,
        coalesce(dark.model, reconciled.model) as model,
        coalesce(dark.price_tier, reconciled.price_tier) as price_tier,
        coalesce(dark.dark_cost_usd, 0) as dark_compute_usd,
        coalesce(reconciled.dark_cost_usd, 0) as reconciliation_usd
    from dark
    full outer join reconciled
        on
            dark.usage_date = reconciled.usage_date
            and dark.provider = reconciled.provider
            and dark.billing_account = reconciled.billing_account
            and dark.model = reconciled.model
            and dark.price_tier = reconciled.price_tier
)

select * from compared
where dark_compute_usd <> reconciliation_usd
