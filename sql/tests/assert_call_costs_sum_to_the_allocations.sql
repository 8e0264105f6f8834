{#- int_call_costs shares the invoice exactly: per (cell, spend_class, job_type) group, its calls'
    cost_usd sum to the group's allocation in int_allocations, which is what the marts show: the
    cell's user_cost_usd in fct_spend_reconciliation (an audio or image cell, `standard+audio`,
    folded into its base tier's cell, which is where the calls are), the (cell, job type)'s
    cost_usd in fct_dark_compute. A group on one side only counts as $0 on the other, and a call
    without a cell or a cost is a row of its own. Returns what differs. One scan of the calls (a
    group-by), the day's only test over every call. (tests/test_call_costs.py compares with the
    marts themselves.) -#}
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'int_call_costs'}}}) }}

with calls as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        price_tier,
        spend_class,
        coalesce(job_type, '') as job_type,
        sum(cost_usd) as cost_usd,
        count(*) filter (where model is null or price_tier is null or cost_usd is null) as uncosted_calls
    from {{ ref('int_call_costs') }}
    group by all
),

-- the groups' allocations, as the marts have them: fct_spend_reconciliation's user_cost_usd and
-- fct_dark_compute's cost_usd are these sums (read here from int_allocations, so that a test
-- breaking a mart on purpose stays that mart's tests' business)
allocated as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        {{ base_tier('price_tier') }} as price_tier,
        spend_class,
        coalesce(job_type, '') as job_type,
        sum(cost_pico) as cost_pico
    from {{ ref('int_allocations') }}
    where spend_class <> 'unlogged'
    group by all
),

reconciled as (
    select
        allocated.usage_date,
        allocated.provider,
        allocated.billing_account,
        int_cells.model,
        allocated.price_tier,
        allocated.spend_class,
        allocated.job_type,
        (allocated.cost_pico::decimal(38, 0) * 0.000000000001)::decimal(38, 12) as cost_usd
    from allocated
    left join {{ ref('int_cells') }} as int_cells
        on
            allocated.usage_date = int_cells.usage_date
            and allocated.provider = int_cells.provider
            and allocated.billing_account = int_cells.billing_account
            and allocated.canonical_model = int_cells.canonical_model
            and allocated.price_tier = int_cells.price_tier
),

compared as (
    select
        coalesce(calls.usage_date, reconciled.usage_date) as usage_date,
        coalesce(calls.provider, reconciled.provider) as provider,
        coalesce(calls.billing_account, reconciled.billing_account) as billing_account,
        coalesce(calls.model, reconciled.model) as model,
        coalesce(calls.price_tier, reconciled.price_tier) as price_tier,
        coalesce(calls.spend_class, reconciled.spend_class) as spend_class,
        coalesce(calls.job_type, reconciled.job_type) as job_type,
        coalesce(calls.cost_usd, 0) as call_costs_usd,
        coalesce(reconciled.cost_usd, 0) as marts_usd,
        coalesce(calls.uncosted_calls, 0) as uncosted_calls
    from calls
    full outer join reconciled
        on
            calls.usage_date = reconciled.usage_date
            and calls.provider = reconciled.provider
            and calls.billing_account = reconciled.billing_account
            and calls.model = reconciled.model
            and calls.price_tier = reconciled.price_tier
            and calls.spend_class = reconciled.spend_class
            and calls.job_type = reconciled.job_type
)

select * from compared
where call_costs_usd <> marts_usd or uncosted_calls > 0
