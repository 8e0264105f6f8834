{#- The gateway estimate's split: on every row of fct_gateway_estimate the quantity and price
    parts add up to the difference between the invoice and the gateway's estimate exactly
    (DECIMAL(38, 12), no tolerance). Returns the rows that break it. -#}
{{ config(severity='error') }}

with gateway_estimate as (
    select * from {{ ref('fct_gateway_estimate') }}
),

broken as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        price_tier,
        invoice_cost_usd,
        gateway_cost_usd,
        quantity_gap_usd,
        price_gap_usd
    from gateway_estimate
    where
        quantity_gap_usd + price_gap_usd is distinct from invoice_cost_usd - gateway_cost_usd
        or difference_usd is distinct from invoice_cost_usd - gateway_cost_usd
)

select * from broken
