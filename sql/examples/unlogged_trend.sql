-- The unlogged residual (token invoice no log accounts for) per provider and day, over the 30
-- days up to the latest reconciled day, with its share of the token invoice and its change from
-- the provider's previous reconciled day. A rising share means calls that bypass the logging.
with latest as (
    select max(usage_date) as usage_date
    from fct_spend_reconciliation
),

daily as (
    select
        reconciliation.usage_date,
        reconciliation.provider,
        sum(reconciliation.invoice_cost_usd - reconciliation.non_token_cost_usd) as token_invoice_usd,
        sum(reconciliation.unlogged_cost_usd) as unlogged_usd
    from fct_spend_reconciliation as reconciliation
    cross join latest
    where reconciliation.usage_date > latest.usage_date - 30
    group by reconciliation.usage_date, reconciliation.provider
)

select
    usage_date,
    provider,
    token_invoice_usd,
    unlogged_usd,
    cast(round(100 * unlogged_usd / nullif(token_invoice_usd, 0), 2) as decimal(5, 2)) as unlogged_pct,
    unlogged_usd - lag(unlogged_usd) over (partition by provider order by usage_date) as change_usd
from daily
order by provider, usage_date;
