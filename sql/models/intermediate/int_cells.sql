-- One row per cell (day, provider, billing account, canonical model, price tier) that the provider
-- billed or the logs mention: the model name to show (the provider's dated id where it has one),
-- the requests the provider counted and the calls the logs recorded.
with int_provider_usage as (
    select * from {{ ref('int_provider_usage') }}
),

int_provider_costs as (
    select * from {{ ref('int_provider_costs') }}
),

int_calls as (
    select * from {{ ref('int_calls') }}
),

int_cell_classes as (
    select * from {{ ref('int_cell_classes') }}
),

provider_cells as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        min(model) as export_model,
        sum(requests)::bigint as provider_requests
    from int_provider_usage
    group by all
),

cost_cells as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        min(model) as export_model
    from int_provider_costs
    where canonical_model is not null
    group by all
),

logged_cells as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        min(model) as logged_model,
        sum(calls)::bigint as logged_calls,
        coalesce(sum(calls) filter (where usage_known), 0)::bigint as priced_calls,
        coalesce(sum(calls) filter (where not usage_known), 0)::bigint as usage_unknown_calls
    from int_calls
    group by usage_date, provider, billing_account, canonical_model, price_tier
),

cells as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier
    from int_cell_classes
    union
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier
    from logged_cells
),

bases as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        case
            when bool_or(allocation_basis = 'catalog_weights') then 'catalog_weights'
            when bool_or(allocation_basis = 'cost_line') then 'cost_line'
            else 'catalog_price'
        end as allocation_basis
    from int_cell_classes
    group by usage_date, provider, billing_account, canonical_model, price_tier
),

final as (
    select
        cells.usage_date,
        cells.provider,
        cells.billing_account,
        cells.canonical_model,
        cells.price_tier,
        case
            when cells.canonical_model = '__all__' then '__all__'
            else coalesce(provider_cells.export_model, cost_cells.export_model, logged_cells.logged_model)
        end as model,
        -- NULL when the provider's export counts no requests (Anthropic's usage report)
        case when provider_cells.canonical_model is null then 0 else provider_cells.provider_requests end
            as provider_requests,
        coalesce(logged_cells.logged_calls, 0) as logged_calls,
        coalesce(logged_cells.priced_calls, 0) as priced_calls,
        coalesce(logged_cells.usage_unknown_calls, 0) as usage_unknown_calls,
        coalesce(bases.allocation_basis, 'cost_line') as allocation_basis
    from cells
    left join provider_cells using (usage_date, provider, billing_account, canonical_model, price_tier)
    left join cost_cells using (usage_date, provider, billing_account, canonical_model, price_tier)
    left join logged_cells using (usage_date, provider, billing_account, canonical_model, price_tier)
    left join bases using (usage_date, provider, billing_account, canonical_model, price_tier)
)

select * from final
