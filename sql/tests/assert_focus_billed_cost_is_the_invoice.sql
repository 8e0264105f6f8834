{#- FOCUS: BilledCost summed per provider and day is the day's invoice, exactly: the same total as
    fct_spend_reconciliation's invoice_cost_usd (every class and non-token charge). A provider and
    day on one side only counts as $0 on the other. Returns the (day, provider) that differ. Dagster
    shows it as a check of focus_costs (meta.dagster.ref). -#}
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'focus_costs'}}}) }}

with focus as (
    select
        "x_UsageDate" as usage_date,
        "x_Provider" as provider,
        sum("BilledCost") as billed_cost_usd
    from {{ ref('focus_costs') }}
    group by all
),

invoice as (
    select
        usage_date,
        provider,
        sum(invoice_cost_usd) as invoice_cost_usd
    from {{ ref('fct_spend_reconciliation') }}
    group by all
),

compared as (
    select
        coalesce(focus.usage_date, invoice.usage_date) as usage_date,
        coalesce(focus.provider, invoice.provider) as provider,
        coalesce(focus.billed_cost_usd, 0) as billed_cost_usd,
        coalesce(invoice.invoice_cost_usd, 0) as invoice_cost_usd
    from focus
    full outer join invoice
        on
            focus.usage_date = invoice.usage_date
            and focus.provider = invoice.provider
)

select * from compared
where billed_cost_usd <> invoice_cost_usd
