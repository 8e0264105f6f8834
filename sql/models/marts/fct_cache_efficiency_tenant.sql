-- Prompt-cache health per tenant, per (usage_date, provider, billing_account, model, tenant_id),
-- from the logged calls that name a tenant and carry their usage (int_call_costs: each call's
-- cell as fct_spend_reconciliation names it, its uncached input, cache read and cache write
-- tokens), the cell's price tiers added up. The same measures as fct_cache_efficiency, at the
-- same list rates (int_cache_cells, the call's own cell and tier):
--   cache_hit_rate = cache_read / (uncached_input + cache_read + cache_write).
--   cache_savings_usd: the reads at the uncached input rate minus at the cache-read rate.
--   cache_write_premium_usd: the logs say how many tokens a call wrote, not for how long (the
--     5-minute or 1-hour TTL); the writes take their cell's average premium per billed write
--     token (the cell's premium x the tenant's writes / the cell's billed writes), or the
--     5-minute premium where the cell billed no write.
--   unread_write_tokens = greatest(writes - reads, 0) of the tenant on the day (a floor within
--     the day, as in fct_cache_efficiency; a tenant reading another tenant's prefix cannot be
--     told apart in the logs and counts as the reader's read).
--   unread_write_cost_usd: those tokens at the row's average write premium.
-- Calls without a tenant or without usage are left out: the tenant rows of a cell add up to what
-- the logs attribute, not to the provider's usage (fct_cache_efficiency has that).
with int_call_costs as (
    select * from {{ ref('int_call_costs') }}
),

int_cache_cells as (
    select * from {{ ref('int_cache_cells') }}
),

calls as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        price_tier,
        tenant_id,
        sum(request_count)::bigint as calls,
        sum(uncached_input)::hugeint as uncached_input,
        sum(cache_read)::hugeint as cache_read,
        sum(cache_write)::hugeint as cache_write
    from int_call_costs
    where tenant_id is not null and usage_known
    group by all
),

-- the tier cell's rates (its canonical model's; a model name shows one canonical model per cell)
priced as (
    select
        calls.*,
        case
            when calls.cache_read = 0 then 0::hugeint
            when cells.input_num is not null and cells.read_num is not null
                then
                    calls.cache_read * cells.input_num // cells.input_den
                    - calls.cache_read * cells.read_num // cells.read_den
        end as savings_pico,
        case
            when calls.cache_write = 0 then 0::hugeint
            when cells.premium_pico is not null and cells.cache_write_5m + cells.cache_write_1h > 0
                then cells.premium_pico * calls.cache_write // (cells.cache_write_5m + cells.cache_write_1h)
            when cells.input_num is not null and cells.write_5m_num is not null
                then
                    calls.cache_write * cells.write_5m_num // cells.write_5m_den
                    - calls.cache_write * cells.input_num // cells.input_den
        end as premium_pico
    from calls
    left join int_cache_cells as cells
        using (usage_date, provider, billing_account, model, price_tier)
),

tenants as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        tenant_id,
        sum(calls)::bigint as calls,
        sum(uncached_input)::bigint as uncached_input_tokens,
        sum(cache_read)::bigint as cache_read_tokens,
        sum(cache_write)::bigint as cache_write_tokens,
        bool_and(savings_pico is not null and premium_pico is not null) as list_priced,
        sum(savings_pico)::hugeint as savings_pico,
        sum(premium_pico)::hugeint as premium_pico
    from priced
    group by all
),

final as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        tenant_id,
        calls,
        ---------- tokens
        (uncached_input_tokens + cache_read_tokens + cache_write_tokens)::bigint as input_tokens,
        uncached_input_tokens,
        cache_read_tokens,
        cache_write_tokens,
        greatest(cache_write_tokens - cache_read_tokens, 0)::bigint as unread_write_tokens,
        ---------- ratio
        case
            when input_tokens > 0 then round(cache_read_tokens / input_tokens, 8)
        end::decimal(18, 8) as cache_hit_rate,
        ---------- money (DECIMAL(38, 12) dollars; NULL unless list_priced)
        case when list_priced then (savings_pico::decimal(38, 0) * 0.000000000001) end::decimal(38, 12)
            as cache_savings_usd,
        case when list_priced then (premium_pico::decimal(38, 0) * 0.000000000001) end::decimal(38, 12)
            as cache_write_premium_usd,
        case
            when not list_priced then null
            when unread_write_tokens = 0 then 0
            else (premium_pico * unread_write_tokens // cache_write_tokens)::decimal(38, 0) * 0.000000000001
        end::decimal(38, 12) as unread_write_cost_usd,
        case when list_priced then ((savings_pico - premium_pico)::decimal(38, 0) * 0.000000000001) end::decimal(38, 12)
            as net_cache_savings_usd,
        list_priced
    from tenants
    where uncached_input_tokens + cache_read_tokens + cache_write_tokens > 0
)

select * from final
order by all
