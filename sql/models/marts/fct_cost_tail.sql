-- The tail of the cost per call, per day, provider and spender: what a blended bill hides.
-- A spender is a feature (user calls: spender_kind 'feature'), a job type (background calls:
-- 'job_type') or a retry family ('retry', named as fct_dark_compute names it: 'retry:<job type or
-- feature>'). A call's cost is its share of the invoice (int_call_costs.cost_usd: effective
-- rates, exact decimals). Only calls whose usage was logged, one request per record, make the
-- distribution (`excluded_records` counts the others: a call logged without usage has no cost of
-- its own, an aggregate record stands for many requests).
--   p50/p90/p99_cost_usd: quantile_disc, the nearest rank (the cost of the call at position
--   ceil(q x calls) in ascending order): always the exact cost of a real call, never interpolated.
--   top_calls = ceil(calls / 100), at least 1; top_cost_usd: the spend of the top_calls costliest
--   calls (the sum of the k largest costs is the same whichever of tied calls is counted; the
--   ranking breaks ties by request, job and attempt so it is deterministic all the same).
--   top_share: top_cost_usd / cost_usd, truncated to 8 decimals (integer picodollar arithmetic).
-- One pass over int_call_costs: a window ranks the calls of each spender, one aggregate reads them.
with int_call_costs as (
    select * from {{ ref('int_call_costs') }}
),

calls as (
    select
        usage_date,
        provider,
        case spend_class when 'user' then 'feature' when 'background' then 'job_type' else 'retry' end
            as spender_kind,
        case spend_class when 'user' then coalesce(feature, 'unspecified') else job_type end as spender,
        usage_known and request_count = 1 as in_distribution,
        cost_usd,
        request_id,
        job_id,
        attempt
    from int_call_costs
),

ranked as (
    select
        *,
        row_number() over (
            partition by usage_date, provider, spender_kind, spender, in_distribution
            order by cost_usd desc, request_id asc nulls last, job_id asc nulls last, attempt asc nulls last
        ) as cost_rank,
        count(*) over (partition by usage_date, provider, spender_kind, spender, in_distribution) as group_calls
    from calls
),

spenders as (
    select
        usage_date,
        provider,
        spender_kind,
        spender,
        (count(*) filter (where in_distribution))::bigint as calls,
        (count(*) filter (where not in_distribution))::bigint as excluded_records,
        coalesce(sum(cost_usd) filter (where in_distribution), 0)::decimal(38, 12) as cost_usd,
        quantile_disc(cost_usd, 0.5) filter (where in_distribution) as p50_cost_usd,
        quantile_disc(cost_usd, 0.9) filter (where in_distribution) as p90_cost_usd,
        quantile_disc(cost_usd, 0.99) filter (where in_distribution) as p99_cost_usd,
        max(cost_usd) filter (where in_distribution) as max_cost_usd,
        ((count(*) filter (where in_distribution) + 99) // 100)::bigint as top_calls,
        coalesce(
            sum(cost_usd) filter (where in_distribution and cost_rank <= (group_calls + 99) // 100), 0
        )::decimal(38, 12) as top_cost_usd
    from ranked
    group by all
),

final as (
    select
        usage_date,
        provider,
        spender_kind,
        spender,
        calls,
        excluded_records,
        cost_usd,
        p50_cost_usd::decimal(38, 12) as p50_cost_usd,
        p90_cost_usd::decimal(38, 12) as p90_cost_usd,
        p99_cost_usd::decimal(38, 12) as p99_cost_usd,
        max_cost_usd::decimal(38, 12) as max_cost_usd,
        top_calls,
        top_cost_usd,
        case
            when cost_usd > 0
                then (
                    ((top_cost_usd * 1000000000000)::hugeint * 100000000 // (cost_usd * 1000000000000)::hugeint)
                    ::decimal(38, 0) * 0.00000001
                )
        end::decimal(18, 8) as top_share
    from spenders
)

select * from final
order by all
