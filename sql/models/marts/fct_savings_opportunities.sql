-- Where the same work could have cost less, per day, provider and spender (a feature, a job type
-- or a retry family, named as in fct_cost_tail), from the calls' shares of the invoice
-- (int_call_costs.cost_usd: effective rates, exact decimals).
-- (a) Background work billed at real-time rates that a batch tier would have priced lower:
--     realtime_cost_usd: the cost of a batch-eligible job type's calls on a real-time tier whose
--     provider and model have a batch price; batch_cost_usd: what they would have cost there
--     (cost x macros/batch_tier.sql's batch_pct / 100: 50% of a standard call, to the picodollar); savings_usd, the
--     difference. Batch-eligible: a background job type whose every logged record of the day says
--     trigger 'schedule' and has no parent request (nobody waits for it; a job a user action or an
--     event started may have someone waiting, and a user's own call never can be batched).
--     Retries are not counted (they are their job's retry family, not the job type).
-- (b) Reasoning: output_tokens, reasoning_tokens (NULL when no record of the spender logged a
--     reasoning count), their share, and reasoning_cost_usd: each call's cost x the list cost of
--     its reasoning tokens (catalog output rate x tier_pct of its tier) / its list cost, in integer
--     picodollars (NULL where the call's model has no catalog price).
-- (c) Uncached repeated prefixes: NULL. The logs carry token counts, not a prompt's prefix or a
--     hash of it, so a prefix sent again without a cache read cannot be told from a new prompt.
with int_call_costs as (
    select * from {{ ref('int_call_costs') }}
),

base_logged_calls as (
    select * from {{ ref('base_logged_calls') }}
),

dim_model as (
    select * from {{ ref('dim_model') }}
),

dim_price as (
    select * from {{ ref('dim_price') }}
),

scheduled_job_types as (
    select
        provider,
        job_type
    from base_logged_calls
    where usage_date = {{ usage_date() }} and job_type is not null
    group by all
    having bool_and(coalesce(trigger = 'schedule' and parent_request_id is null, false))
),

output_rates as (
    select
        dim_model.provider,
        dim_model.model_name,
        any_value(dim_price.rate_mtok) as output_rate_mtok
    from dim_model
    inner join dim_price
        on
            dim_model.provider = dim_price.provider
            and dim_model.canonical_model = dim_price.canonical_model
    where dim_price.token_class = 'output' and dim_price.modality = 'text'
    group by all
),

calls as (
    select
        int_call_costs.usage_date,
        int_call_costs.provider,
        case int_call_costs.spend_class when 'user' then 'feature' when 'background' then 'job_type' else 'retry' end
            as spender_kind,
        case int_call_costs.spend_class
            when 'user' then coalesce(int_call_costs.feature, 'unspecified') else int_call_costs.job_type
        end as spender,
        int_call_costs.request_count,
        int_call_costs.cost_usd,
        int_call_costs.output,
        int_call_costs.reasoning_tokens,
        int_call_costs.spend_class = 'background' and scheduled_job_types.job_type is not null as batch_eligible,
        {{ batch_pct('int_call_costs.provider', 'int_call_costs.model', 'int_call_costs.log_tier') }} as batch_pct,
        (int_call_costs.cost_usd * 1000000000000)::hugeint as cost_pico,
        (int_call_costs.list_cost_usd * 1000000000000)::hugeint as list_pico,
        (
            int_call_costs.reasoning_tokens * output_rates.output_rate_mtok
            * {{ tier_pct('int_call_costs.provider', 'int_call_costs.log_tier', "'output'") }}
            * 10000
        )::hugeint as reasoning_list_pico  -- tokens x USD per million x percent / 100 x 10^12 / 10^6
    from int_call_costs
    left join scheduled_job_types
        on
            int_call_costs.provider = scheduled_job_types.provider
            and int_call_costs.job_type = scheduled_job_types.job_type
    left join output_rates
        on
            int_call_costs.provider = output_rates.provider
            and int_call_costs.model = output_rates.model_name
),

spenders as (
    select
        usage_date,
        provider,
        spender_kind,
        spender,
        sum(request_count)::bigint as calls,
        sum(cost_usd)::decimal(38, 12) as cost_usd,
        bool_or(batch_eligible) as batch_eligible,
        coalesce(sum(cost_usd) filter (where batch_eligible and batch_pct is not null), 0)::decimal(38, 12)
            as realtime_cost_usd,
        -- percent x cost summed exactly, divided by 100 once (rounded to the picodollar)
        coalesce(sum(cost_usd * batch_pct) filter (where batch_eligible and batch_pct is not null), 0) * 0.01
            as batch_cost_pct_usd,
        sum(output)::bigint as output_tokens,
        sum(reasoning_tokens)::bigint as reasoning_tokens,
        -- NULL, never a partial sum, when a call with reasoning tokens has no list price to share by
        case
            when bool_or(
                reasoning_tokens > 0 and not coalesce(list_pico > 0 and reasoning_list_pico is not null, false)
            ) then null
            else sum(
                case
                    when reasoning_tokens = 0 then 0::hugeint
                    else cost_pico * reasoning_list_pico // list_pico
                end
            )
        end as reasoning_cost_pico
    from calls
    group by all
),

final as (
    select
        usage_date,
        provider,
        spender_kind,
        spender,
        calls,
        cost_usd,
        ---------- (a) batch
        batch_eligible,
        realtime_cost_usd,
        batch_cost_pct_usd::decimal(38, 12) as batch_cost_usd,
        (realtime_cost_usd - batch_cost_pct_usd::decimal(38, 12))::decimal(38, 12) as savings_usd,
        ---------- (b) reasoning
        output_tokens,
        reasoning_tokens,
        case
            when output_tokens > 0 and reasoning_tokens is not null
                then (reasoning_tokens * 100000000 // output_tokens)::decimal(38, 0) * 0.00000001
        end::decimal(18, 8) as reasoning_output_share,
        (reasoning_cost_pico::decimal(38, 0) * 0.000000000001)::decimal(38, 12) as reasoning_cost_usd,
        ---------- (c) uncached repeated prefixes: the logs carry no prefix identity
        null::bigint as uncached_prefix_tokens,
        null::decimal(38, 12) as uncached_prefix_cost_usd
    from spenders
)

select * from final
order by all
