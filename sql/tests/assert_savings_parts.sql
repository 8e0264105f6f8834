{#- The savings' parts: on every row of fct_savings_opportunities savings_usd = realtime_cost_usd -
    batch_cost_usd exactly, the batch cost is at most the real-time cost, the real-time cost is
    part of the spender's cost, and only a batch-eligible job type has any. Returns the rows that
    break it. -#}
{{ config(severity='error') }}

with savings as (
    select * from {{ ref('fct_savings_opportunities') }}
),

broken as (
    select
        usage_date,
        provider,
        spender_kind,
        spender,
        cost_usd,
        realtime_cost_usd,
        batch_cost_usd,
        savings_usd
    from savings
    where
        savings_usd is distinct from realtime_cost_usd - batch_cost_usd
        or batch_cost_usd > realtime_cost_usd
        or batch_cost_usd < 0
        or realtime_cost_usd > cost_usd
        or (realtime_cost_usd <> 0 and not (batch_eligible and spender_kind = 'job_type'))
)

select * from broken
