-- Bedrock's own usage for one day: the model invocation logs (per request, provider-side), by
-- the record's own timestamp, in disjoint token classes. For Anthropic models inputTokenCount
-- EXCLUDES cache reads and writes, so it is the uncached input as it is. The logs give one
-- combined cache-write count; where the response body gives its 1-hour part
-- (`cache_write_1h_tokens`), that part is the 1-hour class and the rest the 5-minute class, else all
-- of it is the 5-minute class. `price_tier` is the service tier the record says served it (`flex`,
-- `priority`, `reserved`; `standard` when it says `default` or nothing): a cell dimension for the
-- intermediate layer, which sums it away until it keys cells by price tier. A geographic (`us.`)
-- and a global (`global.`) cross-region profile of one model are two model names with two list
-- prices, so two cells already; the region billed is the caller's (`region`), not `inferenceRegion`.
-- A request delivered twice (same requestId) counts once. An application inference profile
-- invoked as modelId is resolved to the model the period's CUR bills for it, when the CUR names
-- exactly one; otherwise the model is the modelId as logged.
with bedrock_invocations as (
    select * from {{ source('bronze', 'bedrock_invocations') }}
),

cur_lines as (
    select * from {{ source('bronze', 'cur_lines') }}
),

deduplicated as (
    select * from bedrock_invocations
    qualify row_number() over (partition by request_id order by folder_date, source_file, source_line) = 1
),

profile_models as (
    select
        resource_id as profile_arn,
        any_value(model) as model
    from cur_lines
    where
        model is not null
        and resource_id like '%:application-inference-profile/%'
    group by resource_id
    having count(distinct model) = 1
),

source as (
    select
        deduplicated.*,
        coalesce(profile_models.model, deduplicated.model_id) as model
    from deduplicated
    left join profile_models on deduplicated.model_id = profile_models.profile_arn
    where deduplicated.usage_date = {{ usage_date() }}
),

final as (
    select
        usage_date,
        'aws.bedrock' as provider,
        coalesce(billing_account, '__unknown__') as billing_account,
        model,
        coalesce(sum(input_tokens), 0)::bigint as uncached_input,
        coalesce(sum(cache_read_tokens), 0)::bigint as cache_read,
        coalesce(sum(cache_write_tokens - coalesce(cache_write_1h_tokens, 0)), 0)::bigint as cache_write_5m,
        coalesce(sum(cache_write_1h_tokens), 0)::bigint as cache_write_1h,
        coalesce(sum(output_tokens), 0)::bigint as output,
        count(*)::bigint as requests,
        'invoice' as priced_by,
        case when coalesce(service_tier, 'default') = 'default' then 'standard' else service_tier end as price_tier
    from source
    group by all
)

select * from final
order by billing_account, model
