-- The report's cost-tail section: per day, provider and spender with at least 100 calls (so its
-- top 1% is a real tail, not one call of a handful), the distribution of the cost per call and the
-- share of the spend in its costliest 1% of calls, the heaviest tails first.
select
    spender_kind || ' ' || spender as spender,
    usage_date,
    provider,
    calls,
    p50_cost_usd,
    p99_cost_usd,
    max_cost_usd,
    cost_usd,
    top_cost_usd,
    top_share
from fct_cost_tail
where usage_date between $date_from and $date_to and calls >= 100
order by top_share desc nulls last, top_cost_usd desc, spender asc, usage_date asc, provider asc
limit $top
