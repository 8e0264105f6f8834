-- The report's savings section: per provider and spender over the period, background work billed
-- at real-time rates that the batch tier would have priced lower (what it cost, what it would
-- have cost, the difference) and what reasoning tokens cost; spenders with neither are left out.
-- The largest savings first.
with spenders as (
    select
        spender_kind || ' ' || spender as spender,
        provider,
        count(distinct usage_date) filter (where savings_usd > 0) as saving_days,
        sum(realtime_cost_usd) as realtime_cost_usd,
        sum(batch_cost_usd) as batch_cost_usd,
        sum(savings_usd) as savings_usd,
        sum(output_tokens) as output_tokens,
        sum(reasoning_tokens) as reasoning_tokens,
        sum(reasoning_cost_usd) as reasoning_cost_usd
    from fct_savings_opportunities
    where usage_date between $date_from and $date_to
    group by all
)

select
    spender,
    provider,
    saving_days,
    realtime_cost_usd,
    batch_cost_usd,
    savings_usd,
    case
        when output_tokens > 0 and reasoning_tokens is not null
            then (reasoning_tokens * 100000000 // output_tokens)::decimal(38, 0) * 0.00000001
    end::decimal(18, 8) as reasoning_output_share,
    reasoning_cost_usd
from spenders
where savings_usd > 0 or reasoning_cost_usd > 0
order by savings_usd desc, reasoning_cost_usd desc nulls last, spender asc, provider asc
limit $top
