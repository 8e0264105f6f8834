-- Model-call log lines -> one typed row per flat line and one per OTLP span, each with its
-- outcome: 'record', 'skipped' (not a model call) or 'rejected' (with a reason).
-- Inputs: the registered Arrow table `lines(file, line, raw)` and the temp tables `otlp_spans`
-- and `litellm_lines` (`otlp_spans.sql`, then `litellm_payloads.sql`, run first). A line is flat
-- JSONL unless one of them claims it; a flat line, the flattened attributes of a span and a
-- LiteLLM payload's contract fields (`doc`) go through the same checks below, once each.
-- A record may carry the usage of many requests (a Batch API job, a re-index): `request_count`
-- says how many (1 when absent). Counts are rejected only when they cannot be true: negative,
-- not an integer, or above `$max_record_tokens` (DARKCOMPUTE_MAX_RECORD_TOKENS) in one record.
-- A valid JSON object that is neither a call nor a known non-call event (an `event` or
-- `event.name` key: job lifecycle lines, OpenTelemetry log events) is skipped and marked
-- `unrecognized`, with its keys (never its values) for the file's sample.
-- `span_index` is null for flat lines (and for OTLP lines without spans or with a malformed
-- envelope); `line_counts.sql` counts lines, not spans.
--
-- A rejected line never keeps its text (a log line may carry prompt text in keys outside the
-- contract, `gen_ai.prompt`, `gen_ai.input.messages`, ...): `rejected_raw` is the line's JSON shape
-- (`json_structure`: keys and value types) with the values of the contract's fields only (objects
-- and arrays among them reduced to their shape too); a line that is not JSON, not UTF-8 or longer
-- than `DARKCOMPUTE_MAX_LINE_BYTES` (its `raw` is null: `pipelines/lib/lines.py` never hands its
-- bytes over) keeps only its length, `{"bytes": N}`. Rejected OTLP rows keep what
-- `otlp_spans.sql` left of them.
create or replace temp table parsed_lines as
with contract as (
    -- the keys read below, in the order of `extracted`'s paths
    select [
        'timestamp', 'gen_ai.provider.name', 'gen_ai.system', 'gen_ai.request.model', 'gen_ai.response.model',
        'gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'gen_ai.usage.output_tokens',
        'gen_ai.usage.completion_tokens', 'gen_ai.usage.cache_read.input_tokens',
        'gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.reasoning.output_tokens', 'gen_ai.response.id',
        'gen_ai.operation.name', 'billing.account', 'service_tier', 'batch', 'attempt', 'status', 'request_id',
        'user_id', 'tenant_id', 'feature', 'job_id', 'job_type', 'queue', 'trigger', 'parent_request_id',
        'request_count', 'gateway_cost_usd', 'openai.response.service_tier', 'gen_ai.openai.response.service_tier',
        'openai.request.service_tier', 'gen_ai.openai.request.service_tier', 'event', 'event.name',
        'gateway_cost_attribute'
    ] as keys
),

flat_lines as (
    select
        file,
        line,
        raw,
        bytes,
        try(decode(raw)) as text
    from lines
    anti join otlp_spans using (file, line)
    anti join litellm_lines using (file, line)
),

documents as (
    select
        file,
        line,
        null::bigint as span_index,
        raw,
        text,
        text as doc,
        null::boolean as span_is_call,
        null::varchar as otlp_problem,
        null::varchar as timestamp_problem,
        true as is_flat,
        raw is null as too_long,
        bytes
    from flat_lines
    union all
    select
        file,
        line,
        span_index,
        raw,
        text,
        doc,
        span_is_call,
        otlp_problem,
        timestamp_problem,
        false as is_flat,
        false as too_long,
        null::bigint as bytes
    from otlp_spans
    union all
    select
        file,
        line,
        span_index,
        raw,
        text,
        doc,
        span_is_call,
        otlp_problem,
        timestamp_problem,
        false as is_flat,
        false as too_long,
        null::bigint as bytes
    from litellm_lines
),

extracted as (
    select
        *,
        try(json_extract(doc, [
            '$.timestamp',
            '$."gen_ai.provider.name"',
            '$."gen_ai.system"',
            '$."gen_ai.request.model"',
            '$."gen_ai.response.model"',
            '$."gen_ai.usage.input_tokens"',
            '$."gen_ai.usage.prompt_tokens"',
            '$."gen_ai.usage.output_tokens"',
            '$."gen_ai.usage.completion_tokens"',
            '$."gen_ai.usage.cache_read.input_tokens"',
            '$."gen_ai.usage.cache_creation.input_tokens"',
            '$."gen_ai.usage.reasoning.output_tokens"',
            '$."gen_ai.response.id"',
            '$."gen_ai.operation.name"',
            '$."billing.account"',
            '$.service_tier',
            '$.batch',
            '$.attempt',
            '$.status',
            '$.request_id',
            '$.user_id',
            '$.tenant_id',
            '$.feature',
            '$.job_id',
            '$.job_type',
            '$.queue',
            '$.trigger',
            '$.parent_request_id',
            '$.request_count',
            '$.gateway_cost_usd',
            '$."openai.response.service_tier"',
            '$."gen_ai.openai.response.service_tier"',
            '$."openai.request.service_tier"',
            '$."gen_ai.openai.request.service_tier"',
            '$.event',
            '$."event.name"',
            '$.gateway_cost_attribute'
        ])) as v
    from documents
),

fields as (
    select
        file,
        line,
        span_index,
        raw,
        text,
        span_is_call,
        otlp_problem,
        timestamp_problem,
        is_flat,
        too_long,
        bytes,
        v,
        v is not null as is_json,
        ---------- strings (a JSON null counts as absent)
        nullif(v[1] ->> '$', '') as timestamp_text,
        lower(coalesce(v[2] ->> '$', v[3] ->> '$')) as provider_raw,
        nullif(trim(v[4] ->> '$'), '') as request_model,
        nullif(trim(v[5] ->> '$'), '') as response_model,
        v[13] ->> '$' as response_id,
        v[14] ->> '$' as operation,
        v[15] ->> '$' as billing_account,
        -- the flat key, else OpenTelemetry's: the tier that served the call over the one asked for
        -- (`openai.*` are the GenAI conventions' current names, `gen_ai.openai.*` the deprecated ones)
        coalesce(v[16] ->> '$', v[31] ->> '$', v[32] ->> '$', v[33] ->> '$', v[34] ->> '$') as service_tier,
        v[19] ->> '$' as status,
        v[20] ->> '$' as request_id,
        v[21] ->> '$' as user_id,
        v[22] ->> '$' as tenant_id,
        v[23] ->> '$' as feature,
        v[24] ->> '$' as job_id,
        v[25] ->> '$' as job_type,
        v[26] ->> '$' as queue,
        v[27] ->> '$' as trigger,
        v[28] ->> '$' as parent_request_id,
        ---------- integers: the JSON value, kept raw so a wrong type can be named
        coalesce(v[6], v[7]) as input_json,
        coalesce(v[8], v[9]) as output_json,
        v[10] as cache_read_json,
        v[11] as cache_creation_json,
        v[12] as reasoning_json,
        v[18] as attempt_json,
        v[17] as batch_json,
        v[29] as request_count_json,
        v[30] as gateway_cost_json,
        -- the attribute the gateway cost came from, for a reason (OTLP names its own)
        coalesce(v[37] ->> '$', 'response_cost') as gateway_cost_name,
        coalesce(v[35], v[36]) is not null as is_event
    from extracted
),

typed as (
    select
        *,
        json_type(input_json) as input_type,
        json_type(output_json) as output_type,
        json_type(cache_read_json) as cache_read_type,
        json_type(cache_creation_json) as cache_creation_type,
        json_type(reasoning_json) as reasoning_type,
        json_type(attempt_json) as attempt_type,
        json_type(request_count_json) as request_count_type,
        try_cast(timestamp_text as timestamptz) as ts,
        coalesce(
            span_is_call,
            provider_raw is not null
            or request_model is not null
            or response_model is not null
            or input_json is not null
            or output_json is not null
        ) as looks_like_call
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
            when otlp_problem is not null then otlp_problem
            when not looks_like_call and json_type(text) <> 'OBJECT' then 'not a JSON object'
            when not looks_like_call then null
            when provider_raw is null then 'missing gen_ai.provider.name'
            when provider_raw not in ('openai', 'anthropic', 'aws.bedrock')
                then 'unknown provider: ' || left(provider_raw, 64)
            when coalesce(response_model, request_model) is null
                then 'missing gen_ai.request.model and gen_ai.response.model'
            when timestamp_text is null then coalesce(timestamp_problem, 'missing timestamp')
            when not regexp_matches(timestamp_text, '([zZ]|[+-]\d\d:?\d\d)$')
                then 'timestamp without a time zone: ' || left(timestamp_text, 64)
            when ts is null then 'unparseable timestamp: ' || left(timestamp_text, 64)
            when input_type not in ('UBIGINT', 'BIGINT', 'NULL')
                then 'gen_ai.usage.input_tokens is not an integer'
            when output_type not in ('UBIGINT', 'BIGINT', 'NULL')
                then 'gen_ai.usage.output_tokens is not an integer'
            when cache_read_type not in ('UBIGINT', 'BIGINT', 'NULL')
                then 'gen_ai.usage.cache_read.input_tokens is not an integer'
            when cache_creation_type not in ('UBIGINT', 'BIGINT', 'NULL')
                then 'gen_ai.usage.cache_creation.input_tokens is not an integer'
            when reasoning_type not in ('UBIGINT', 'BIGINT', 'NULL')
                then 'gen_ai.usage.reasoning.output_tokens is not an integer'
            when attempt_type not in ('UBIGINT', 'BIGINT', 'NULL') or try_cast(attempt_json as bigint) < 1
                then 'attempt is not a positive integer'
            when request_count_type not in ('UBIGINT', 'BIGINT', 'NULL') or try_cast(request_count_json as hugeint) < 1
                then 'request_count is not a positive integer'
            when coalesce(json_type(gateway_cost_json), 'NULL') not in ('UBIGINT', 'BIGINT', 'DOUBLE', 'NULL')
                then gateway_cost_name || ' is not a number'
            when
                try_cast(gateway_cost_json ->> '$' as decimal(38, 12)) is null
                and json_type(gateway_cost_json) <> 'NULL'
                then gateway_cost_name || ' out of range'
            when try_cast(gateway_cost_json ->> '$' as decimal(38, 12)) < 0 then gateway_cost_name || ' is negative'
            when
                least(
                    try_cast(input_json as hugeint), try_cast(output_json as hugeint),
                    try_cast(cache_read_json as hugeint), try_cast(cache_creation_json as hugeint),
                    try_cast(reasoning_json as hugeint)
                ) < 0
                then 'negative token count'
            when
                greatest(
                    try_cast(input_json as hugeint), try_cast(output_json as hugeint),
                    try_cast(cache_read_json as hugeint), try_cast(cache_creation_json as hugeint),
                    try_cast(reasoning_json as hugeint), try_cast(request_count_json as hugeint)
                ) > $max_record_tokens
                then
                    'count above ' || $max_record_tokens
                    || ' in one record, more than any day could hold (DARKCOMPUTE_MAX_RECORD_TOKENS)'
            when
                try_cast(input_json as bigint)
                < coalesce(try_cast(cache_read_json as bigint), 0)
                + coalesce(try_cast(cache_creation_json as bigint), 0)
                then 'input_tokens smaller than its cache read + cache creation tokens (they must be included)'
            when (ts at time zone 'UTC')::date not between $folder_date::date - 1 and $folder_date::date + 1
                then
                    'timestamp ' || left(timestamp_text, 64)
                    || ' is outside this folder''s window (the day before, the folder day or the day after)'
        end as reason
    from typed
)

select
    file,
    line,
    span_index,
    case
        when reason is not null then 'rejected'
        when not is_json or not looks_like_call then 'skipped'
        else 'record'
    end as outcome,
    case
        when reason is not null then reason
        when not is_json then 'blank line'
        when not looks_like_call then 'not a model call'
    end as reason,
    -- the line's bytes are used only where they are needed: a record's fingerprint, a reject's shape
    case when reason is null and is_json and looks_like_call then md5(text) end as line_md5,
    case
        when reason is null then null
        when not is_flat then left(text, 4096)
        when not is_json then json_object('bytes', bytes)::varchar
        when json_type(text) <> 'OBJECT'
            then coalesce(
                left(try(json_structure(text))::varchar, 4096),
                json_object('bytes', bytes)::varchar
            )
        else coalesce(left(try(json_merge_patch(
            json_structure(text),
            to_json(map_from_entries(list_filter(
                list_transform(list_zip(contract.keys, v), lambda kv: {
                    'k': kv[1],
                    'v': case
                        when json_type(kv[2]) in ('OBJECT', 'ARRAY', 'NULL') then json_structure(kv[2]) else kv[2]
                    end
                }),
                lambda entry: entry.v is not null
            )))
        ))::varchar, 4096), json_object('bytes', bytes)::varchar)  -- too deep for json_structure: its length
    end as rejected_raw,
    -- a JSON object no rule knows: its keys only (never values), for the file's sample
    case
        when reason is null and is_json and not looks_like_call and not is_event and is_flat
            then json_type(text) = 'OBJECT'
        else false
    end as unrecognized,
    case
        when reason is null and is_json and not looks_like_call and not is_event and is_flat
            then case when json_type(text) = 'OBJECT' then json_keys(text) end
    end as unrecognized_keys,
    ts,
    provider_raw as provider,
    request_model,
    response_model,
    operation,
    try_cast(input_json as bigint) as input_tokens,
    try_cast(output_json as bigint) as output_tokens,
    try_cast(cache_read_json as bigint) as cache_read_tokens,
    try_cast(cache_creation_json as bigint) as cache_creation_tokens,
    try_cast(reasoning_json as bigint) as reasoning_tokens,
    response_id,
    billing_account,
    service_tier,
    try_cast(batch_json as boolean) as batch,
    coalesce(try_cast(attempt_json as integer), 1) as attempt,
    coalesce(try_cast(request_count_json as bigint), 1) as request_count,
    -- the number as written (JSON numbers reach DuckDB as the shortest text of their double), to Decimal
    try_cast(gateway_cost_json ->> '$' as decimal(38, 12)) as gateway_cost_usd,
    status,
    request_id,
    user_id,
    tenant_id,
    feature,
    job_id,
    job_type,
    queue,
    trigger,
    parent_request_id
from checked
cross join contract
