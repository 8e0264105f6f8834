-- Logged model calls (app and worker logs) for one day, by their own timestamp, in disjoint token
-- classes, each with the class of spend it belongs to. OpenTelemetry's input_tokens includes cache
-- read and cache creation tokens. The log's single cache-write count is split later, per cell.
-- A call logged twice (an at-least-once shipper, or the app and a worker both logging it) counts
-- once: the same provider and gen_ai.response.id, or, without an id, the same record content.
-- log_tier is the price tier the record claims (batch, service_tier; an Anthropic call of more
-- than 200k input tokens is long context), matched to the provider's cells later.
-- A record may be an aggregate (a batch job's or a re-index's usage on one line): its tokens are
-- counted like any call's, and `request_count` says how many requests it stands for (an
-- aggregate is long context when its requests average more than 200k input tokens).
-- The key is hashed to 128 bits (`md5_number`): partitioning millions of calls by a fixed-width
-- number sorts faster than by the text, and a collision is beyond any realistic volume.
with base_logged_calls as (
    select * from {{ ref('base_logged_calls') }}
),

source as (
    -- a record from a lake written before aggregates (request_count null) is one call
    select * replace (coalesce(request_count, 1) as request_count) from base_logged_calls
    where usage_date = {{ usage_date() }}
),

keyed as (
    select
        *,
        md5_number(provider || '|' || coalesce(
            'id:' || response_id,
            'md5:' || md5(concat_ws(
                '|', ts, model, request_model, input_tokens, output_tokens, cache_read_tokens,
                cache_creation_tokens, billing_account, attempt, status, request_id, user_id, tenant_id,
                feature, job_id, job_type, queue, trigger, parent_request_id, operation, nullif(request_count, 1)
            ))
        )) as call_key
    from source
),

deduplicated as (
    select
        * replace (
            -- the gateway's estimate survives its line: a proxy's payload that loses to the
            -- worker's line of the same call still lends it its cost
            coalesce(gateway_cost_usd, max(gateway_cost_usd) over (partition by call_key)) as gateway_cost_usd
        )
    from keyed
    -- the worker's line wins over the app's (it knows the job), then the earliest delivery
    qualify row_number() over (
        partition by call_key
        order by log_source desc, folder_date asc, source_file asc, source_line asc
    ) = 1
),

classified as (
    select
        *,
        case
            when attempt >= 2 then 'retry'
            when job_type is not null or log_source = 'worker' then 'background'
            else 'user'
        end as spend_class
    from deduplicated
),

final as (
    select
        ---------- cell
        usage_date,
        provider,
        coalesce(billing_account, '__unknown__') as billing_account,
        model,
        concat_ws(
            '+',
            case
                when batch then 'batch'
                when lower(service_tier) in ('priority', 'priority_on_demand', 'fast') then 'priority'
                when lower(service_tier) in ('flex', 'flex_discount', 'scale') then lower(service_tier)
                else 'standard'
            end,
            case when provider = 'anthropic' and input_tokens > 200000 * request_count then 'long_context' end)
            as log_tier,
        ---------- who spent it
        spend_class,
        case spend_class
            when 'retry' then 'retry:' || coalesce(job_type, feature, 'unknown')
            when 'background' then coalesce(job_type, 'unspecified')
        end as job_type,
        usage_known,
        request_count,  -- the requests the record stands for (1 for one call; more for a job's aggregate)
        ---------- token classes
        input_tokens - cache_read_tokens - cache_creation_tokens as uncached_input,
        cache_read_tokens as cache_read,
        cache_creation_tokens as cache_write,
        output_tokens as output,
        reasoning_tokens,  -- of the output, as logged (NULL when the log does not say)
        ---------- the gateway's own estimate (LiteLLM's response_cost), never used to price the invoice
        gateway_cost_usd,
        ---------- attribution, as logged (int_call_costs carries them to the per-call dollars)
        feature,
        request_id,
        parent_request_id,
        user_id,
        tenant_id,
        job_id,
        attempt,
        ---------- lineage
        call_key,  -- the de-duplication key: one row per key
        log_source,
        source_file,
        source_line
    from classified
)

select * from final
