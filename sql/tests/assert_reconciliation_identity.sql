{#- The identity: on every row of fct_spend_reconciliation the five classes add up to the
    invoice exactly (DECIMAL(38, 12), no tolerance), and the unlogged residual is never negative.
    Returns the rows that break it. -#}
{{ config(severity='error') }}

with reconciliation as (
    select * from {{ ref('fct_spend_reconciliation') }}
),

broken as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        price_tier,
        invoice_cost_usd,
        user_cost_usd + background_cost_usd + retry_cost_usd + unlogged_cost_usd + non_token_cost_usd
            as classes_cost_usd,
        unlogged_cost_usd
    from reconciliation
    where
        invoice_cost_usd is distinct from
        user_cost_usd + background_cost_usd + retry_cost_usd + unlogged_cost_usd + non_token_cost_usd
        or unlogged_cost_usd < 0
)

select * from broken
