-- The summary's days: per provider and day, the invoice split into user, background, retry,
-- unlogged and non-token, and the day's status: 'provisional' when any row of the day is (its
-- invoice has not arrived or not settled), else 'estimated' when any row is (settled, but part of
-- it priced from the catalog), else 'final'. Dark compute = background + retry + unlogged.
with reconciliation as (
    select * from fct_spend_reconciliation
    where usage_date between $date_from and $date_to
),

final as (
    select
        provider,
        usage_date,
        case
            when bool_or(status = 'provisional') then 'provisional'
            when bool_or(status = 'estimated') then 'estimated'
            else 'final'
        end as status,
        sum(invoice_cost_usd) as invoice_usd,
        sum(user_cost_usd) as user_usd,
        sum(background_cost_usd) as background_usd,
        sum(retry_cost_usd) as retry_usd,
        sum(unlogged_cost_usd) as unlogged_usd,
        sum(non_token_cost_usd) as non_token_usd
    from reconciliation
    group by all
)

select * from final
order by provider, usage_date
