-- The money to split, per cell and token class: billed tokens, logged tokens, the invoice's cost
-- for the class and the catalog's. Where the day's cost export has arrived, the class cost is the
-- invoice's: the cost lines placed on it (int_cost_shares: its own lines, and its share of lines
-- coarser than the cell). Otherwise it is the catalog estimate ('provisional'). Usage the cost
-- export never covers (priced_by = 'catalog', e.g. Anthropic Priority Tier) is always added at
-- catalog prices and flagged, so the day shows as 'estimated' rather than silently short.
-- allocation_basis: 'cost_line' (the cell's own cost lines), 'catalog_weights' (a share of a
-- coarser line, or logged calls of several models or tiers weighed by list price inside the cell),
-- 'catalog_price' (no cost line: priced from the catalog).
-- use_weights: the cell hides its model (or its cost lines show several models or tiers in it),
-- or logged calls of more than one (model, tier) share it, and all have a list price: each
-- spender's share is weighed by list price (int_allocations); mix_known: the cost lines priced the
-- billed mix (int_cell_rates).
with int_cost_shares as (
    select * from {{ ref('int_cost_shares') }}
),

int_cell_rates as (
    select * from {{ ref('int_cell_rates') }}
),

int_source_status as (
    select * from {{ ref('int_source_status') }}
),

invoiced as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class,
        sum(cost_pico) as invoice_pico,
        bool_or(coarse) as coarse
    from int_cost_shares
    where placed
    group by all
),

cell_classes as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class
    from int_cell_rates
    union
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class
    from invoiced
),

priced as (
    select
        cell_classes.*,
        coalesce(int_cell_rates.billed_tokens, 0) as billed_tokens,
        coalesce(int_cell_rates.logged_tokens, 0) as logged_tokens,
        coalesce(int_cell_rates.logged_weight, 0) as logged_weight,
        coalesce(
            int_cell_rates.logged_rated and int_cell_rates.logged_weight > 0
            and (
                int_cell_rates.logged_rates > 1 or cell_classes.canonical_model = '__all__'
                or (int_cell_rates.mix_known and int_cell_rates.line_rates > 1)
            ), false
        ) as use_weights,
        coalesce(int_cell_rates.mix_known, false) as mix_known,
        coalesce(int_cell_rates.catalog_pico, 0) as catalog_pico,
        coalesce(int_cell_rates.catalog_only_pico, 0) as catalog_only_pico,
        coalesce(int_cell_rates.catalog_only_tokens, 0) as catalog_only_tokens,
        coalesce(int_cell_rates.catalog_priced, false) as catalog_priced,
        invoiced.invoice_pico,
        coalesce(invoiced.coarse, false) as coarse,
        coalesce(source_status.invoice_arrived, false) as invoice_arrived
    from cell_classes
    left join int_cell_rates
        using (usage_date, provider, billing_account, canonical_model, price_tier, token_class)
    left join invoiced using (usage_date, provider, billing_account, canonical_model, price_tier, token_class)
    left join int_source_status as source_status using (usage_date, provider)
),

final as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class,
        billed_tokens,
        logged_tokens,
        logged_weight,
        use_weights,
        mix_known,
        catalog_pico,
        (catalog_pico::decimal(38, 0) * 0.000000000001)::decimal(38, 12) as catalog_cost_usd,
        catalog_priced,
        invoice_arrived,
        catalog_only_tokens > 0 as catalog_estimated,
        case
            when invoice_arrived then coalesce(invoice_pico, 0) + catalog_only_pico
            else catalog_pico
        end::hugeint as class_cost_pico,
        case
            when not invoice_arrived or invoice_pico is null then 'catalog_price'
            when coarse or use_weights then 'catalog_weights'
            else 'cost_line'
        end as allocation_basis
    from priced
)

select * from final
