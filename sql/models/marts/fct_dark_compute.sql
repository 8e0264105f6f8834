-- The invoice dollars no waiting user caused, one row per
-- (usage_date, provider, billing_account, model, price_tier, job_type):
--   background: a worker's job type; retry: 'retry:<job type or feature>'; unlogged: '__unlogged__'.
-- share_of_invoice is cost_usd over the provider's whole invoice for the day.
with int_allocations as (
    select * from {{ ref('int_allocations') }}
),

int_calls as (
    select * from {{ ref('int_calls') }}
),

fct_spend_reconciliation as (
    select * from {{ ref('fct_spend_reconciliation') }}
),

int_cells as (
    select * from {{ ref('int_cells') }}
),

dark as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        spend_class as dark_class,
        job_type,
        coalesce(sum(tokens) filter (where token_class = 'uncached_input'), 0)::bigint as uncached_input_tokens,
        coalesce(sum(tokens) filter (where token_class = 'cache_read'), 0)::bigint as cache_read_tokens,
        coalesce(sum(tokens) filter (where token_class in ('cache_write_5m', 'cache_write_1h')), 0)::bigint
            as cache_write_tokens,
        coalesce(sum(tokens) filter (where token_class = 'output'), 0)::bigint as output_tokens,
        sum(cost_pico) as cost_pico
    from int_allocations
    where spend_class in ('background', 'retry', 'unlogged')
    group by all
),

job_calls as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        job_type,
        sum(calls)::bigint as calls
    from int_calls
    where
        usage_known
        and spend_class in ('background', 'retry')
    group by all
),

invoice as (
    select
        usage_date,
        provider,
        sum(invoice_cost_usd) as invoice_cost_usd
    from fct_spend_reconciliation
    group by all
),

final as (
    select
        dark.usage_date,
        dark.provider,
        dark.billing_account,
        int_cells.model,
        dark.price_tier,
        int_cells.allocation_basis,
        dark.dark_class,
        dark.job_type,
        case
            when dark.dark_class = 'unlogged'
                -- requests the provider counted that no priced log line accounts for
                then case
                    when int_cells.provider_requests is not null
                        then greatest(int_cells.provider_requests - int_cells.priced_calls, 0)
                end
            else coalesce(job_calls.calls, 0)
        end::bigint as calls,
        dark.uncached_input_tokens,
        dark.cache_read_tokens,
        dark.cache_write_tokens,
        dark.output_tokens,
        (dark.cost_pico::decimal(38, 0) * 0.000000000001)::decimal(38, 12) as cost_usd,
        case
            when invoice.invoice_cost_usd <> 0
                then round(dark.cost_pico::decimal(38, 0) * 0.000000000001 / invoice.invoice_cost_usd, 8)
        end::decimal(18, 8) as share_of_invoice
    from dark
    left join job_calls
        on
            dark.usage_date = job_calls.usage_date
            and dark.provider = job_calls.provider
            and dark.billing_account = job_calls.billing_account
            and dark.canonical_model = job_calls.canonical_model
            and dark.price_tier = job_calls.price_tier
            and dark.job_type = job_calls.job_type
    left join int_cells
        on
            dark.usage_date = int_cells.usage_date
            and dark.provider = int_cells.provider
            and dark.billing_account = int_cells.billing_account
            and dark.canonical_model = int_cells.canonical_model
            and dark.price_tier = int_cells.price_tier
    left join invoice
        on
            dark.usage_date = invoice.usage_date
            and dark.provider = invoice.provider
    where
        dark.dark_class <> 'unlogged'
        or dark.cost_pico <> 0
        or dark.uncached_input_tokens + dark.cache_read_tokens + dark.cache_write_tokens + dark.output_tokens > 0
)

select * from final
order by all
