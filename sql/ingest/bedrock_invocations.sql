-- Bedrock model invocation log records (schemaType ModelInvocationLog) -> one typed row per line,
-- each with its outcome: 'record', 'skipped' (blank, or not an invocation record) or 'rejected'.
-- Input: the registered Arrow table `lines(file, line, raw)`. Each line is parsed once, and only
-- the named fields are taken: request and response bodies (input.inputBodyJson,
-- output.outputBodyJson, which hold users' prompts) are never selected, not even for a rejected
-- line, whose `redacted` text keeps the named fields only. Of the response body only what bears
-- on the bill is read, where the record carries it (text delivery on): the service tier served
-- (`serviceTier.type`, Converse), the guardrail's verdict (`stopReason` "guardrail_intervened",
-- or InvokeModel's "amazon-bedrock-guardrailAction"), and the 1-hour share of the cache writes
-- (Converse `usage.cacheDetails[{ttl, inputTokens}]`, or the Anthropic body's
-- `usage.cache_creation.ephemeral_1h_input_tokens`).
create or replace temp table parsed_invocations as
with decoded as (
    select
        file,
        line,
        bytes,
        raw is null as too_long,  -- longer than DARKCOMPUTE_MAX_LINE_BYTES: never decoded
        try(decode(raw)) as text
    from lines
),

extracted as (
    select
        *,
        try(json_extract(text, [
            '$.timestamp',
            '$.accountId',
            '$.region',
            '$.requestId',
            '$.operation',
            '$.modelId',
            '$.identity.arn',
            '$.identity[0].arn',
            '$.requestMetadata',
            '$.input.inputTokenCount',
            '$.input.cacheReadInputTokenCount',
            '$.input.cacheWriteInputTokenCount',
            '$.output.outputTokenCount',
            '$.schemaType',
            '$.inferenceRegion',
            '$.serviceTier',
            '$.output.outputBodyJson.serviceTier.type',
            '$.output.outputBodyJson.stopReason',
            '$.output.outputBodyJson."amazon-bedrock-guardrailAction"',
            '$.output.outputBodyJson.usage.cacheDetails',
            '$.output.outputBodyJson.usage.cache_creation.ephemeral_1h_input_tokens'
        ])) as v
    from decoded
),

fields as (
    select
        file,
        line,
        bytes,
        too_long,
        text,
        v,
        v is not null as is_json,
        ---------- strings (a JSON null or an empty string counts as absent)
        nullif(v[1] ->> '$', '') as timestamp_text,
        nullif(v[2] ->> '$', '') as account_id,
        nullif(v[3] ->> '$', '') as region,
        nullif(v[4] ->> '$', '') as request_id,
        nullif(v[5] ->> '$', '') as operation,
        nullif(trim(v[6] ->> '$'), '') as model_id,
        nullif(coalesce(v[7] ->> '$', v[8] ->> '$'), '') as identity_arn,
        v[14] ->> '$' as schema_type,
        ---------- where and how it was served (the region billed is `region`, the caller's)
        nullif(v[15] ->> '$', '') as inference_region,
        lower(nullif(trim(coalesce(
            case when json_type(v[16]) = 'OBJECT' then v[16] ->> '$.type' else v[16] ->> '$' end,
            v[17] ->> '$'
        )), '')) as service_tier,
        case
            when v[18] ->> '$' = 'guardrail_intervened' then 'INTERVENED'
            else upper(nullif(trim(v[19] ->> '$'), ''))
        end as guardrail_action,
        v[20] as cache_details_json,
        case
            when v[20] is not null then try(from_json(v[20], '[{"ttl": "VARCHAR", "inputTokens": "BIGINT"}]'))
        end as cache_details,
        v[21] as cache_1h_json,
        ---------- the caller's requestMetadata map, and the two keys attribution uses
        v[9] as metadata_json,
        nullif(trim(v[9] ->> '$.job_type'), '') as job_type,
        v[9] ->> '$.attempt' as attempt_text,
        ---------- token counts: the JSON value, kept raw so a wrong type can be named
        v[10] as input_json,
        v[11] as cache_read_json,
        v[12] as cache_write_json,
        v[13] as output_json
    from extracted
),

typed as (
    select
        *,
        json_type(metadata_json) as metadata_type,
        json_type(input_json) as input_type,
        json_type(cache_read_json) as cache_read_type,
        json_type(cache_write_json) as cache_write_type,
        json_type(output_json) as output_type,
        json_type(cache_1h_json) as cache_1h_type,
        case
            when cache_details is not null
                then coalesce(list_sum(list_transform(
                    list_filter(cache_details, lambda d: d.ttl = '1h'), lambda d: d.inputTokens
                )), 0)
            else try_cast(cache_1h_json as bigint)
        end as cache_write_1h,
        try_cast(timestamp_text as timestamptz) as ts,
        left(ltrim(text, e' \t\r\n'), 1) = '{' as is_object,
        schema_type = 'ModelInvocationLog' or request_id is not null or model_id is not null as looks_like_invocation
    from fields
),

checked as (
    select
        *,
        case
            when too_long then 'line of ' || bytes || ' bytes is longer than DARKCOMPUTE_MAX_LINE_BYTES: not read'
            when text is null then 'invalid UTF-8'
            when not is_json and trim(text, e' \t\r\n') = '' then null
            when not is_json then 'invalid JSON (truncated or malformed line)'
            when not is_object then 'not a JSON object'
            when not looks_like_invocation then null
            when timestamp_text is null then 'missing timestamp'
            when not regexp_matches(timestamp_text, '([zZ]|[+-]\d\d:?\d\d)$')
                then 'timestamp without a time zone: ' || timestamp_text
            when ts is null then 'unparseable timestamp: ' || timestamp_text
            when request_id is null then 'missing requestId'
            when model_id is null then 'missing modelId'
            when metadata_type not in ('OBJECT', 'NULL') then 'requestMetadata is not a JSON object'
            when attempt_text is not null and coalesce(try_cast(attempt_text as integer) < 1, true)
                then 'requestMetadata.attempt is not a positive integer: ' || attempt_text
            when input_type not in ('UBIGINT', 'BIGINT', 'NULL') then 'input.inputTokenCount is not an integer'
            when cache_read_type not in ('UBIGINT', 'BIGINT', 'NULL')
                then 'input.cacheReadInputTokenCount is not an integer'
            when cache_write_type not in ('UBIGINT', 'BIGINT', 'NULL')
                then 'input.cacheWriteInputTokenCount is not an integer'
            when output_type not in ('UBIGINT', 'BIGINT', 'NULL') then 'output.outputTokenCount is not an integer'
            when cache_details_json is not null and cache_details is null
                then 'output.outputBodyJson.usage.cacheDetails is not a list of {ttl, inputTokens}'
            when cache_1h_type not in ('UBIGINT', 'NULL')
                then 'usage.cache_creation.ephemeral_1h_input_tokens is not a non-negative integer'
            when cache_write_1h < 0 then 'negative token count'
            when cache_write_1h > coalesce(try_cast(cache_write_json as hugeint), 0)
                then
                    '1-hour cache writes (' || cache_write_1h || ') above input.cacheWriteInputTokenCount ('
                    || coalesce(try_cast(cache_write_json as hugeint), 0) || ')'
            when
                least(
                    try_cast(input_json as hugeint), try_cast(cache_read_json as hugeint),
                    try_cast(cache_write_json as hugeint), try_cast(output_json as hugeint)
                ) < 0
                then 'negative token count'
            when
                greatest(
                    try_cast(input_json as hugeint), try_cast(cache_read_json as hugeint),
                    try_cast(cache_write_json as hugeint), try_cast(output_json as hugeint)
                ) > $max_tokens_per_call
                then 'token count above ' || $max_tokens_per_call || ' for one invocation'
            when (ts at time zone 'UTC')::date not between $folder_date::date - 1 and $folder_date::date + 1
                then
                    'timestamp ' || timestamp_text
                    || ' is outside this folder''s window (the day before, the folder day or the day after)'
        end as reason
    from typed
)

select
    file,
    line,
    case
        when reason is not null then 'rejected'
        when not is_json or not looks_like_invocation then 'skipped'
        else 'record'
    end as outcome,
    case
        when reason is not null then reason
        when not is_json then 'blank line'
        when not looks_like_invocation then 'not a model invocation record'
    end as reason,
    ts,
    account_id,
    region,
    inference_region,
    request_id,
    operation,
    model_id,
    identity_arn,
    case when metadata_type = 'OBJECT' then metadata_json::varchar end as request_metadata,
    job_type,
    coalesce(try_cast(attempt_text as integer), 1) as attempt,
    try_cast(input_json as bigint) as input_tokens,
    try_cast(cache_read_json as bigint) as cache_read_tokens,
    try_cast(cache_write_json as bigint) as cache_write_tokens,
    cache_write_1h as cache_write_1h_tokens,
    try_cast(output_json as bigint) as output_tokens,
    service_tier,
    guardrail_action,
    ---------- what a rejected line keeps: the named fields, never a body
    case
        when reason is null then null
        when is_json
            then json_object(
                'schemaType', v[14], 'timestamp', v[1], 'accountId', v[2], 'region', v[3], 'requestId', v[4],
                'operation', v[5], 'modelId', v[6], 'identity.arn', coalesce(v[7], v[8]), 'requestMetadata', v[9],
                'input.inputTokenCount', v[10], 'input.cacheReadInputTokenCount', v[11],
                'input.cacheWriteInputTokenCount', v[12], 'output.outputTokenCount', v[13],
                'inferenceRegion', v[15], 'serviceTier', coalesce(v[16], v[17]), 'cacheDetails', v[20],
                'ephemeral_1h_input_tokens', v[21]
            )::varchar
        else json_object(
            'redacted', 'not valid JSON: the line is not kept because it may hold prompt text',
            'bytes', bytes,
            'requestId', nullif(regexp_extract(text, '"requestId"\s*:\s*"([0-9A-Za-z-]{1,64})"', 1), ''),
            'timestamp', nullif(regexp_extract(text, '"timestamp"\s*:\s*"([0-9T:.+Zz-]{10,40})"', 1), '')
        )::varchar
    end as redacted
from checked
