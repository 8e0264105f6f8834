-- The demo's summary: per provider and day, the invoice split into user, each dark job type,
-- the unlogged residual and non-token charges. `line_order` keeps the rows in reading order.
with reconciliation as (
    select * from fct_spend_reconciliation
    where usage_date between $date_from and $date_to
),

dark as (
    select * from fct_dark_compute
    where usage_date between $date_from and $date_to
),

lines as (
    select
        usage_date,
        provider,
        0 as line_order,
        'invoice' as line,
        sum(invoice_cost_usd) as usd
    from reconciliation
    group by all
    union all
    select
        usage_date,
        provider,
        1 as line_order,
        'user' as line,
        sum(user_cost_usd) as usd
    from reconciliation
    group by all
    union all
    select
        usage_date,
        provider,
        2 as line_order,
        job_type as line,
        sum(cost_usd) as usd
    from dark
    where dark_class = 'background'
    group by all
    union all
    select
        usage_date,
        provider,
        3 as line_order,
        job_type as line,
        sum(cost_usd) as usd
    from dark
    where dark_class = 'retry'
    group by all
    union all
    select
        usage_date,
        provider,
        4 as line_order,
        'unlogged' as line,
        sum(unlogged_cost_usd) as usd
    from reconciliation
    group by all
    union all
    select
        usage_date,
        provider,
        5 as line_order,
        'non-token' as line,
        sum(non_token_cost_usd) as usd
    from reconciliation
    group by all
),

day_status as (
    select
        usage_date,
        provider,
        min(status) as status
    from reconciliation
    group by all
)

select
    lines.provider,
    lines.line_order,
    lines.line,
    lines.usage_date,
    lines.usd,
    day_status.status
from lines
left join day_status
    using (usage_date, provider)
order by lines.provider, lines.line_order, lines.line, lines.usage_date
