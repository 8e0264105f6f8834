{#- The acceptance identity of issue 14: per day, the features' user_cost_usd (fct_user_action_cost)
    + dark compute (fct_dark_compute) + non-token charges = the invoice (fct_spend_reconciliation),
    exactly. Returns the days where it breaks. -#}
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'fct_user_action_cost'}}}) }}

with parts as (
    select
        usage_date,
        user_cost_usd as usd
    from {{ ref('fct_user_action_cost') }}
    union all
    select
        usage_date,
        cost_usd
    from {{ ref('fct_dark_compute') }}
    union all
    select
        usage_date,
        non_token_cost_usd - invoice_cost_usd as usd
    from {{ ref('fct_spend_reconciliation') }}
),

days as (
    select
        usage_date,
        sum(usd) as difference_usd
    from parts
    group by usage_date
)

select * from days
where difference_usd <> 0
