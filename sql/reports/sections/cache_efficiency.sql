-- The report's prompt-cache section: per provider, billing account and model over the period
-- ($date_from .. $date_to, fct_cache_efficiency), the share of input read from the cache, the
-- writes, what the reads saved at list price, what the writes never read back cost, and the net;
-- the $top cells that saved the most (then the most input).
select
    provider,
    billing_account,
    model,
    sum(input_tokens)::bigint as input_tokens,
    case
        when sum(input_tokens) > 0 then round(sum(cache_read_tokens) / sum(input_tokens), 4)
    end::decimal(18, 4) as cache_hit_rate,
    sum(cache_write_5m_tokens)::bigint as cache_write_5m_tokens,
    sum(cache_write_1h_tokens)::bigint as cache_write_1h_tokens,
    sum(cache_savings_usd)::decimal(38, 12) as cache_savings_usd,
    sum(unread_write_cost_usd)::decimal(38, 12) as unread_write_cost_usd,
    sum(net_cache_savings_usd)::decimal(38, 12) as net_cache_savings_usd
from fct_cache_efficiency
where usage_date between $date_from and $date_to
group by provider, billing_account, model
order by cache_savings_usd desc nulls last, input_tokens desc, provider asc, billing_account asc, model asc
limit $top
