-- Why each fct_spend_reconciliation row's invoice differs from the list cost of what the logs
-- recorded. One row per reconciliation row (same key), with
--   difference_usd = invoice_cost_usd - logged_catalog_cost_usd
--                  = quantity_gap_usd + price_gap_usd + non_token_usd + credits_usd   (exactly)
-- quantity_gap_usd: list cost of the billed tokens minus list cost of the logged tokens (the
--   tokens no log explains, at the cell's list rate; negative when the logs hold more);
-- price_gap_usd: the invoice minus the list cost of the billed tokens (a negotiated discount, a
--   tier, a stale or missing catalog price); effective_price_ratio = invoice / list;
-- non_token_usd / credits_usd: the non-token row's positive and negative cost lines.
-- A cell with tokens the catalog cannot price (a model or class it lacks) is listed with those
-- tokens and the diagnosis '__unpriced__', never as a silent $0 list cost.
with fct_spend_reconciliation as (
    select * from {{ ref('fct_spend_reconciliation') }}
),

int_cell_rates as (
    select * from {{ ref('int_cell_rates') }}
),

int_cells as (
    select * from {{ ref('int_cells') }}
),

int_cell_classes as (
    select * from {{ ref('int_cell_classes') }}
),

int_provider_costs as (
    select * from {{ ref('int_provider_costs') }}
),

int_cost_shares as (
    select * from {{ ref('int_cost_shares') }}
),

-- per cell: tokens billed and logged, the list cost of the logged tokens (at the rate that prices
-- the billed ones), and the tokens no list rate prices
token_cells as (
    select
        int_cells.usage_date,
        int_cells.provider,
        int_cells.billing_account,
        int_cells.model,
        int_cells.price_tier,
        coalesce(sum(rates.billed_tokens), 0)::bigint as billed_tokens,
        coalesce(sum(rates.logged_tokens), 0)::bigint as logged_tokens,
        coalesce(sum(rates.logged_tokens * rates.rate_num // rates.rate_den), 0)::hugeint as logged_catalog_pico,
        coalesce(sum(rates.billed_tokens) filter (where not rates.catalog_priced), 0)::bigint
            as unpriced_billed_tokens,
        coalesce(sum(rates.logged_tokens) filter (where not rates.catalog_priced), 0)::bigint
            as unpriced_logged_tokens
    from int_cells
    left join int_cell_rates as rates
        using (usage_date, provider, billing_account, canonical_model, price_tier)
    group by all
),

-- per cell, in picodollars: the invoice and the list cost of the billed tokens (for the ratio)
cell_picos as (
    select
        int_cells.usage_date,
        int_cells.provider,
        int_cells.billing_account,
        int_cells.model,
        int_cells.price_tier,
        coalesce(sum(classes.class_cost_pico), 0)::hugeint as invoice_pico,
        coalesce(sum(classes.catalog_pico), 0)::hugeint as catalog_pico
    from int_cells
    left join int_cell_classes as classes
        using (usage_date, provider, billing_account, canonical_model, price_tier)
    group by all
),

non_token_lines as (
    select
        usage_date,
        provider,
        billing_account,
        cost_usd::decimal(38, 12) as cost_usd
    from int_provider_costs
    where line_kind = 'non_token'
    union all
    -- an unsplit total with no billed usage to weigh it by: on the non-token row too
    select
        usage_date,
        provider,
        billing_account,
        (cost_pico::decimal(38, 0) * 0.000000000001)::decimal(38, 12)
    from int_cost_shares
    where not placed
),

non_token_cells as (
    select
        usage_date,
        provider,
        billing_account,
        '__non_token__' as model,
        '__all__' as price_tier,
        coalesce(sum(cost_usd) filter (where cost_usd >= 0), 0)::decimal(38, 12) as non_token_usd,
        coalesce(sum(cost_usd) filter (where cost_usd < 0), 0)::decimal(38, 12) as credits_usd
    from non_token_lines
    group by all
),

parts as (
    select
        recon.usage_date,
        recon.provider,
        recon.billing_account,
        recon.model,
        recon.price_tier,
        recon.status,
        recon.invoice_cost_usd,
        recon.catalog_cost_usd,
        (coalesce(token_cells.logged_catalog_pico, 0)::decimal(38, 0) * 0.000000000001)::decimal(38, 12)
            as logged_catalog_cost_usd,
        coalesce(non_token_cells.non_token_usd, 0)::decimal(38, 12) as non_token_usd,
        coalesce(non_token_cells.credits_usd, 0)::decimal(38, 12) as credits_usd,
        non_token_cells.model is not null as non_token_row,
        coalesce(token_cells.billed_tokens, 0) as billed_tokens,
        coalesce(token_cells.logged_tokens, 0) as logged_tokens,
        coalesce(token_cells.unpriced_billed_tokens, 0) as unpriced_billed_tokens,
        coalesce(token_cells.unpriced_logged_tokens, 0) as unpriced_logged_tokens,
        cell_picos.invoice_pico,
        cell_picos.catalog_pico,
        recon.reconciled_at
    from fct_spend_reconciliation as recon
    left join token_cells
        using (usage_date, provider, billing_account, model, price_tier)
    left join non_token_cells
        using (usage_date, provider, billing_account, model, price_tier)
    left join cell_picos
        using (usage_date, provider, billing_account, model, price_tier)
),

split as (
    select
        *,
        (invoice_cost_usd - logged_catalog_cost_usd)::decimal(38, 12) as difference_usd,
        (catalog_cost_usd - logged_catalog_cost_usd)::decimal(38, 12) as quantity_gap_usd,
        -- on the non-token row the whole invoice is non-token or credits (its list cost is 0)
        case
            when non_token_row then 0
            else invoice_cost_usd - catalog_cost_usd
        end::decimal(38, 12) as price_gap_usd
    from parts
),

final as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        price_tier,
        status,
        ---------- money (DECIMAL(38, 12) dollars)
        invoice_cost_usd,
        catalog_cost_usd,
        logged_catalog_cost_usd,
        difference_usd,
        quantity_gap_usd,
        price_gap_usd,
        non_token_usd,
        credits_usd,
        ---------- the price the invoice implies, as a share of list (6 places, rounded half up)
        case
            when not non_token_row and catalog_pico > 0 and invoice_pico >= 0
                then ((invoice_pico * 2000000 + catalog_pico) // (2 * catalog_pico))::decimal(38, 0) * 0.000001
        end::decimal(18, 6) as effective_price_ratio,
        ---------- tokens
        billed_tokens,
        logged_tokens,
        unpriced_billed_tokens,
        unpriced_logged_tokens,
        ---------- the dominant cause
        case
            when unpriced_billed_tokens + unpriced_logged_tokens > 0 then '__unpriced__'
            when difference_usd = 0 then 'exact'
            when
                abs(quantity_gap_usd) >= abs(price_gap_usd) and abs(quantity_gap_usd) >= abs(non_token_usd)
                and abs(quantity_gap_usd) >= abs(credits_usd)
                then 'quantity_gap'
            when abs(price_gap_usd) >= abs(non_token_usd) and abs(price_gap_usd) >= abs(credits_usd)
                then 'price_gap'
            when abs(non_token_usd) >= abs(credits_usd) then 'non_token'
            else 'credits'
        end as diagnosis,
        reconciled_at
    from split
)

select * from final
order by all
