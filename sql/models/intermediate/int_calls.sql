-- Logged calls keyed by the cell they meet the provider's usage in: the app and worker logs, plus
-- Bedrock invocations that only their requestMetadata attributes. One row per cell, spender,
-- logged model and tier and whether usage is known, with the calls and their tokens summed:
-- everything downstream adds calls up, and a day of millions of calls becomes a few thousand rows
-- here (the calls themselves stay in `stg_model_calls` and the providers' `stg_<provider>_calls`).
--   * The logs always carry a model and a billing account; where the day's usage export has no
--     such dimension (int_grain) the call's cell value is '__all__', and `rate_model` keeps the
--     logged model, whose catalog price weighs the call inside that cell.
--   * price_tier: the provider's cell of the call's own tier (log_tier) when the usage has one;
--     otherwise the tier that billed the most tokens of the (account, model) - the logs often do
--     not say; '__all__' where the usage is not split by tier; the log's tier where nothing billed.
--     Never an audio or image cell ('standard+audio'): the logs do not split modalities, so a call
--     lands on the base tier and int_logged_classes shares its tokens over the modality cells.
with dim_model as (
    select * from {{ ref('dim_model') }}
),

int_grain as (
    select * from {{ ref('int_grain') }}
),

int_provider_usage as (
    select * from {{ ref('int_provider_usage') }}
),

calls as (
    {{ union_providers('calls', also=['stg_model_calls']) }}
),

grouped as (
    select
        calls.usage_date,
        calls.provider,
        calls.billing_account,
        calls.model,
        dim_model.canonical_model as rate_model,
        coalesce(calls.log_tier, 'standard') as log_tier,
        calls.spend_class,
        calls.job_type,
        calls.usage_known,
        sum(calls.request_count)::bigint as calls,  -- an aggregate record stands for request_count requests
        sum(calls.uncached_input)::bigint as uncached_input,
        sum(calls.cache_read)::bigint as cache_read,
        sum(calls.cache_write)::bigint as cache_write,
        sum(calls.output)::bigint as output,
        -- the calls a gateway priced (LiteLLM's response_cost): fct_gateway_estimate
        coalesce(sum(calls.request_count) filter (where calls.gateway_cost_usd is not null), 0)::bigint
            as gateway_calls,
        coalesce(
            sum(calls.uncached_input + calls.cache_read + calls.cache_write + calls.output)
            filter (where calls.gateway_cost_usd is not null),
            0
        )::bigint as gateway_tokens,
        sum(calls.gateway_cost_usd)::decimal(38, 12) as gateway_cost_usd
    from calls
    inner join dim_model
        on
            calls.provider = dim_model.provider
            and calls.model = dim_model.model_name
    group by all
),

rolled_up as (
    select
        grouped.*,
        case when coalesce(int_grain.by_account, true) then grouped.billing_account else '__all__' end
            as cell_account,
        case when coalesce(int_grain.by_model, true) then grouped.rate_model else '__all__' end as canonical_model,
        coalesce(int_grain.by_tier, true) as by_tier
    from grouped
    left join int_grain on grouped.provider = int_grain.provider
),

tier_tokens as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        {{ base_tier('price_tier') }} as price_tier,
        sum(uncached_input + cache_read + cache_write_5m + cache_write_1h + output) as tokens
    from int_provider_usage
    group by all
),

usage_tiers as (
    select
        *,
        row_number() over (
            partition by usage_date, provider, billing_account, canonical_model
            order by tokens desc, price_tier asc
        ) as tier_rank
    from tier_tokens
),

final as (
    select
        rolled_up.usage_date,
        rolled_up.provider,
        rolled_up.cell_account as billing_account,
        rolled_up.canonical_model,
        case
            when not rolled_up.by_tier then '__all__'
            else coalesce(own_tier.price_tier, dominant_tier.price_tier, rolled_up.log_tier)
        end as price_tier,
        rolled_up.model,
        rolled_up.rate_model,
        rolled_up.log_tier,
        rolled_up.spend_class,
        rolled_up.job_type,
        rolled_up.usage_known,
        rolled_up.calls,
        rolled_up.uncached_input,
        rolled_up.cache_read,
        rolled_up.cache_write,
        rolled_up.output,
        rolled_up.gateway_calls,
        rolled_up.gateway_tokens,
        rolled_up.gateway_cost_usd
    from rolled_up
    left join usage_tiers as own_tier
        on
            rolled_up.usage_date = own_tier.usage_date
            and rolled_up.provider = own_tier.provider
            and rolled_up.cell_account = own_tier.billing_account
            and rolled_up.canonical_model = own_tier.canonical_model
            and rolled_up.log_tier = own_tier.price_tier
    left join usage_tiers as dominant_tier
        on
            rolled_up.usage_date = dominant_tier.usage_date
            and rolled_up.provider = dominant_tier.provider
            and rolled_up.cell_account = dominant_tier.billing_account
            and rolled_up.canonical_model = dominant_tier.canonical_model
            and dominant_tier.tier_rank = 1
)

select * from final
