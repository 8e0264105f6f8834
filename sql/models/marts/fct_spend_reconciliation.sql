-- Every invoice dollar of the day in exactly one class, one row per
-- (usage_date, provider, billing_account, model, price_tier):
--   invoice_cost_usd = user + background + retry + unlogged + non_token   (on every row)
-- Non-token charges (search, storage, credits) get their own row per account, model '__non_token__'.
-- status: 'final' (invoiced and settled), 'provisional' (cost export not arrived, so catalog
-- prices, or the provider's settling window not passed yet), 'estimated' (settled, but part of the
-- usage is one the export never prices, priced from the catalog).
-- allocation_basis: 'cost_line' (the cell's own cost lines), 'catalog_weights' (a share of a cost
-- line coarser than the cell, or calls of several models weighed inside it), 'catalog_price'.
-- '__all__' as billing_account, model or price_tier: the export was not grouped by it.
with int_allocations as (
    select * from {{ ref('int_allocations') }}
),

int_cell_classes as (
    select * from {{ ref('int_cell_classes') }}
),

int_cells as (
    select * from {{ ref('int_cells') }}
),

int_provider_costs as (
    select * from {{ ref('int_provider_costs') }}
),

int_cost_shares as (
    select * from {{ ref('int_cost_shares') }}
),

int_source_status as (
    select * from {{ ref('int_source_status') }}
),

allocations as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        coalesce(sum(cost_pico) filter (where spend_class = 'user'), 0) as user_pico,
        coalesce(sum(cost_pico) filter (where spend_class = 'background'), 0) as background_pico,
        coalesce(sum(cost_pico) filter (where spend_class = 'retry'), 0) as retry_pico,
        coalesce(sum(cost_pico) filter (where spend_class = 'unlogged'), 0) as unlogged_pico,
        coalesce(sum(overlogged_tokens), 0)::bigint as overlogged_tokens
    from int_allocations
    group by all
),

classes as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        sum(class_cost_pico)::decimal(38, 0) * 0.000000000001 as invoice_cost_usd,
        sum(catalog_cost_usd) as catalog_cost_usd,
        bool_and(invoice_arrived) as invoice_arrived,
        bool_or(catalog_estimated) as catalog_estimated
    from int_cell_classes
    group by all
),

token_rows as (
    select
        int_cells.usage_date,
        int_cells.provider,
        int_cells.billing_account,
        int_cells.model,
        int_cells.price_tier,
        int_cells.allocation_basis,
        ---------- money
        coalesce(classes.invoice_cost_usd, 0) as invoice_cost_usd,
        coalesce(classes.catalog_cost_usd, 0) as catalog_cost_usd,
        coalesce(allocations.user_pico, 0)::decimal(38, 0) * 0.000000000001 as user_cost_usd,
        coalesce(allocations.background_pico, 0)::decimal(38, 0) * 0.000000000001 as background_cost_usd,
        coalesce(allocations.retry_pico, 0)::decimal(38, 0) * 0.000000000001 as retry_cost_usd,
        coalesce(allocations.unlogged_pico, 0)::decimal(38, 0) * 0.000000000001 as unlogged_cost_usd,
        0 as non_token_cost_usd,
        ---------- counts
        int_cells.provider_requests,
        int_cells.logged_calls,
        int_cells.usage_unknown_calls,
        coalesce(allocations.overlogged_tokens, 0) as overlogged_tokens,
        coalesce(classes.catalog_estimated, false) as catalog_estimated
    from int_cells
    left join classes using (usage_date, provider, billing_account, canonical_model, price_tier)
    left join allocations using (usage_date, provider, billing_account, canonical_model, price_tier)
),

non_token_lines as (
    select
        usage_date,
        provider,
        billing_account,
        cost_usd
    from int_provider_costs
    where line_kind = 'non_token'
    union all
    -- an unsplit total that covers no billed usage to weight it by stays visible here
    select
        usage_date,
        provider,
        billing_account,
        cost_pico::decimal(38, 0) * 0.000000000001
    from int_cost_shares
    where not placed
),

non_token_rows as (
    select
        usage_date,
        provider,
        billing_account,
        '__non_token__' as model,
        '__all__' as price_tier,
        'cost_line' as allocation_basis,
        sum(cost_usd) as invoice_cost_usd,
        0 as catalog_cost_usd,
        0 as user_cost_usd,
        0 as background_cost_usd,
        0 as retry_cost_usd,
        0 as unlogged_cost_usd,
        sum(cost_usd) as non_token_cost_usd,
        0 as provider_requests,
        0 as logged_calls,
        0 as usage_unknown_calls,
        0 as overlogged_tokens,
        false as catalog_estimated
    from non_token_lines
    group by all
),

unioned as (
    select * from token_rows
    union all
    select * from non_token_rows
),

final as (
    select
        unioned.usage_date,
        unioned.provider,
        unioned.billing_account,
        unioned.model,
        unioned.price_tier,
        unioned.allocation_basis,
        ---------- money (DECIMAL(38, 12) dollars)
        unioned.invoice_cost_usd::decimal(38, 12) as invoice_cost_usd,
        unioned.catalog_cost_usd::decimal(38, 12) as catalog_cost_usd,
        unioned.user_cost_usd::decimal(38, 12) as user_cost_usd,
        unioned.background_cost_usd::decimal(38, 12) as background_cost_usd,
        unioned.retry_cost_usd::decimal(38, 12) as retry_cost_usd,
        unioned.unlogged_cost_usd::decimal(38, 12) as unlogged_cost_usd,
        unioned.non_token_cost_usd::decimal(38, 12) as non_token_cost_usd,
        ---------- counts
        unioned.provider_requests::bigint as provider_requests,
        unioned.logged_calls::bigint as logged_calls,
        unioned.usage_unknown_calls::bigint as usage_unknown_calls,
        unioned.overlogged_tokens::bigint as overlogged_tokens,
        ---------- freshness
        case
            when not coalesce(source_status.settled, false) then 'provisional'
            -- the export arrived but never prices some of this row's usage (e.g. Priority Tier)
            when unioned.catalog_estimated then 'estimated'
            else 'final'
        end as status,
        {{ as_of() }} as reconciled_at
    from unioned
    left join int_source_status as source_status using (usage_date, provider)
)

select * from final
order by all
