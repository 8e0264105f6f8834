{#- The cost tail's distribution is ordered and its top 1% inside it: on every row of
    fct_cost_tail p50 <= p90 <= p99 <= max, the top calls' spend is at most the spender's and at
    least top_calls x p50, and the share is a fraction. Returns the rows that break it. -#}
{{ config(severity='error') }}

with cost_tail as (
    select * from {{ ref('fct_cost_tail') }}
),

broken as (
    select
        usage_date,
        provider,
        spender_kind,
        spender,
        calls,
        cost_usd,
        p50_cost_usd,
        p90_cost_usd,
        p99_cost_usd,
        max_cost_usd,
        top_calls,
        top_cost_usd
    from cost_tail
    where
        calls > 0 and not (
            p50_cost_usd <= p90_cost_usd
            and p90_cost_usd <= p99_cost_usd
            and p99_cost_usd <= max_cost_usd
            and top_cost_usd <= cost_usd
            and top_cost_usd >= top_calls * p50_cost_usd
            and top_calls = (calls + 99) // 100
            and coalesce(top_share between 0 and 1, cost_usd = 0)
        )
        or calls = 0 and (top_calls <> 0 or top_cost_usd <> 0)
)

select * from broken
