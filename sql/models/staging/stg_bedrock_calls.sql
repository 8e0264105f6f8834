-- Calls attributed by Bedrock's invocation logs themselves: invocations of the day whose caller
-- put a job_type in requestMetadata and that no app or worker log recorded (a logged Bedrock call
-- carries the invocation's requestId as gen_ai.response.id, and is counted from the logs).
-- Same columns as stg_model_calls: attempt >= 2 (requestMetadata.attempt) is a retry of
-- 'retry:<job_type>', else background spend of the job type. Token classes as in
-- stg_bedrock_usage (inputTokenCount excludes cache), model resolved the same way.
with bedrock_invocations as (
    select * from {{ source('bronze', 'bedrock_invocations') }}
),

cur_lines as (
    select * from {{ source('bronze', 'cur_lines') }}
),

base_logged_calls as (
    select * from {{ ref('base_logged_calls') }}
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

logged as (
    select distinct response_id
    from base_logged_calls
    where
        provider = 'aws.bedrock'
        and response_id is not null
),

attributed as (
    select
        deduplicated.*,
        coalesce(profile_models.model, deduplicated.model_id) as model
    from deduplicated
    left join profile_models on deduplicated.model_id = profile_models.profile_arn
    anti join logged on deduplicated.request_id = logged.response_id
    where
        deduplicated.usage_date = {{ usage_date() }}
        and deduplicated.job_type is not null
)

select
    ---------- cell
    usage_date,
    'aws.bedrock' as provider,
    coalesce(billing_account, '__unknown__') as billing_account,
    model,
    -- the price tier, as stg_bedrock_usage names it
    case when coalesce(service_tier, 'default') = 'default' then 'standard' else service_tier end as log_tier,
    ---------- who spent it
    case when attempt >= 2 then 'retry' else 'background' end as spend_class,
    case when attempt >= 2 then 'retry:' || job_type else job_type end as job_type,
    usage_known,
    1::bigint as request_count,  -- one invocation each
    ---------- token classes
    input_tokens as uncached_input,
    cache_read_tokens as cache_read,
    cache_write_tokens as cache_write,
    output_tokens as output,
    null::bigint as reasoning_tokens,  -- an invocation log does not count them apart
    ---------- no gateway priced these calls (the column of stg_model_calls, for the union)
    null::decimal(38, 12) as gateway_cost_usd,
    ---------- attribution: the caller's requestMetadata feature, if any (no request, user or job ids)
    json_extract_string(request_metadata, '$.feature') as feature,
    null::varchar as request_id,
    null::varchar as parent_request_id,
    null::varchar as user_id,
    null::varchar as tenant_id,
    null::varchar as job_id,
    attempt,
    ---------- lineage
    md5_number('aws.bedrock|invocation:' || request_id) as call_key,  -- one row per invocation
    'bedrock_invocation' as log_source,
    source_file,
    source_line
from attributed
order by source_file, source_line
