-- Prompt-cache health per (usage_date, provider, billing_account, model), from the providers'
-- own usage (int_cell_rates: the tokens each cell billed per class, and the class's list rate
-- from the catalog the reconciliation prices with), the cell's price tiers added up.
--   cache_hit_rate = cache_read / (uncached_input + cache_read + cache_write_5m + cache_write_1h):
--     the share of input read from the cache.
--   cache_savings_usd: the reads at the uncached input rate minus the reads at the cache-read
--     rate (what the cache saved against sending the same tokens uncached, at list price).
--   cache_write_premium_usd: the writes at their write rate minus the writes at the uncached
--     input rate (the premium paid to put prefixes in the cache; 0 where writes cost nothing
--     extra, OpenAI).
--   unread_write_tokens = greatest(writes - reads, 0) on the row's day: the write tokens no read
--     of the day could have paid back, even if every read had hit a distinct written token.
--     The logs and exports do not say which read hit which write, so this is a floor within the
--     day (a prefix written twice and read twice over is 0 here even when one copy was never
--     read), and the day is the window (a 1-hour write at 23:30 read after midnight counts as
--     unread today, and today's reads of it do not lower tomorrow's).
--   unread_write_cost_usd: those tokens at the row's average write premium
--     (cache_write_premium_usd x unread_write_tokens / write tokens), picodollars floored.
-- Money is DECIMAL(38, 12), computed in picodollars (hugeint) from the rate fractions.
with int_cache_cells as (
    select * from {{ ref('int_cache_cells') }}
),

cells as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        sum(uncached_input)::bigint as uncached_input_tokens,
        sum(cache_read)::bigint as cache_read_tokens,
        sum(cache_write_5m)::bigint as cache_write_5m_tokens,
        sum(cache_write_1h)::bigint as cache_write_1h_tokens,
        bool_and(savings_pico is not null and premium_pico is not null) as list_priced,
        sum(savings_pico)::hugeint as savings_pico,
        sum(premium_pico)::hugeint as premium_pico
    from int_cache_cells
    group by all
),

final as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        ---------- tokens
        (uncached_input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens)::bigint
            as input_tokens,
        uncached_input_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        greatest(cache_write_5m_tokens + cache_write_1h_tokens - cache_read_tokens, 0)::bigint as unread_write_tokens,
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
            else
                (
                    premium_pico * unread_write_tokens // (cache_write_5m_tokens + cache_write_1h_tokens)
                )::decimal(38, 0) * 0.000000000001
        end::decimal(38, 12) as unread_write_cost_usd,
        case when list_priced then ((savings_pico - premium_pico)::decimal(38, 0) * 0.000000000001) end::decimal(38, 12)
            as net_cache_savings_usd,
        list_priced
    from cells
    where uncached_input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens > 0
)

select * from final
order by all
