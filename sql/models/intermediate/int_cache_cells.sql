-- The cache token classes of every cell (day, provider, billing account, canonical model, price
-- tier, with the model name fct_spend_reconciliation shows) the provider billed input in: the
-- billed tokens per class (uncached input, cache read, 5-minute and 1-hour writes), each class's
-- list rate as the fraction rate_num / rate_den picodollars per token (int_cell_rates: the catalog
-- the reconciliation prices with, tier rules included), and in picodollars what the reads saved
-- against the uncached input rate (savings_pico) and what the writes cost above it
-- (premium_pico); NULL when a class with tokens, or the uncached input rate, has no list rate.
-- fct_cache_efficiency adds the tiers up; fct_cache_efficiency_tenant prices a tenant's logged
-- cache tokens at its cell's rates.
with int_cell_rates as (
    select * from {{ ref('int_cell_rates') }}
),

int_cells as (
    select * from {{ ref('int_cells') }}
),

classes as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        coalesce(sum(billed_tokens) filter (where token_class = 'uncached_input'), 0)::hugeint as uncached_input,
        coalesce(sum(billed_tokens) filter (where token_class = 'cache_read'), 0)::hugeint as cache_read,
        coalesce(sum(billed_tokens) filter (where token_class = 'cache_write_5m'), 0)::hugeint as cache_write_5m,
        coalesce(sum(billed_tokens) filter (where token_class = 'cache_write_1h'), 0)::hugeint as cache_write_1h,
        any_value(rate_num) filter (where token_class = 'uncached_input') as input_num,
        any_value(rate_den) filter (where token_class = 'uncached_input') as input_den,
        any_value(rate_num) filter (where token_class = 'cache_read') as read_num,
        any_value(rate_den) filter (where token_class = 'cache_read') as read_den,
        any_value(rate_num) filter (where token_class = 'cache_write_5m') as write_5m_num,
        any_value(rate_den) filter (where token_class = 'cache_write_5m') as write_5m_den,
        any_value(rate_num) filter (where token_class = 'cache_write_1h') as write_1h_num,
        any_value(rate_den) filter (where token_class = 'cache_write_1h') as write_1h_den
    from int_cell_rates
    where token_class in ('uncached_input', 'cache_read', 'cache_write_5m', 'cache_write_1h')
    group by all
),

priced as (
    select
        *,
        case
            when cache_read = 0 then 0::hugeint
            when input_num is not null and read_num is not null
                then cache_read * input_num // input_den - cache_read * read_num // read_den
        end as savings_pico,
        case
            when cache_write_5m + cache_write_1h = 0 then 0::hugeint
            when
                input_num is not null
                and (cache_write_5m = 0 or write_5m_num is not null)
                and (cache_write_1h = 0 or write_1h_num is not null)
                then
                    coalesce(cache_write_5m * write_5m_num // write_5m_den, 0)
                    + coalesce(cache_write_1h * write_1h_num // write_1h_den, 0)
                    - (cache_write_5m + cache_write_1h) * input_num // input_den
        end as premium_pico
    from classes
),

final as (
    select
        priced.*,
        int_cells.model
    from priced
    inner join int_cells
        using (usage_date, provider, billing_account, canonical_model, price_tier)
)

select * from final
