-- LiteLLM logging payloads (`StandardLoggingPayload`, what the LiteLLM proxy's logging callbacks
-- write, one JSON object per line) -> one flat-contract object (`doc`) per line, so that
-- `model_calls.sql` checks them with the same rules as flat lines and OTLP spans.
-- Input: the registered Arrow table `lines(file, line, raw)`; OTLP lines (`otlp_spans`) are not
-- looked at. A line is a LiteLLM payload when it is a JSON object with top-level `call_type` and
-- `startTime` keys (only lines whose text holds both words are parsed here).
--
-- The payload (litellm/types/utils.py `StandardLoggingPayload`, docs/proxy/logging_spec.md):
--   provider     `custom_llm_provider` (else `error_information.llm_provider`): openai and
--                text-completion-openai -> openai, anthropic -> anthropic, bedrock and
--                bedrock_converse -> aws.bedrock; any other value stays as written and is
--                rejected as an unknown provider (Azure, Vertex, ... are not invoices we read)
--   model        `model` (the deployment's model, as sent to the provider), else
--                `hidden_params.litellm_model_name`
--   tokens       `prompt_tokens` (LiteLLM's OpenAI-format usage: cache read and cache creation
--                tokens included, as OpenTelemetry's input_tokens), `completion_tokens`; cache
--                read and creation from the usage object (`metadata.usage_object`, else
--                `hidden_params.usage_object`): `cache_read_input_tokens`, else
--                `prompt_tokens_details.cached_tokens`; `cache_creation_input_tokens`, else
--                `prompt_tokens_details.cache_creation_tokens`
--   timestamp    `startTime` (Unix seconds, a number; UTC), or RFC 3339 text with its zone
--   ids          `id` -> gen_ai.response.id (the provider's response id), `trace_id` -> request_id
--   status       `success` -> ok, `failure` -> error
--   cost         `response_cost` -> gateway_cost_usd (the gateway's own estimate, kept as written)
--   attribution  billing.account, feature, job_type, job_id, user_id, tenant_id: the first value
--                found among the rule's sources, in the rule's order (`$rule_targets`,
--                `$rule_sources`: parallel lists, see pipelines/defs/logs/litellm.py). Sources:
--                team_id, team_alias, key_alias, user_id, org_id, end_user (the key's metadata
--                and the payload's `end_user`), `tag:<name>` (a request tag `<name>:<value>`) and
--                `metadata:<key>` (a string or number in `metadata.spend_logs_metadata`).
--
-- Only these fields are read. `messages`, `response`, `error_str`, `model_parameters` and every
-- other field that may hold prompt or completion text are never copied: a payload's `text` (the
-- `raw` of its rejection and the source of its `line_md5`) is its `doc`, the contract fields.
create or replace temp table litellm_lines as
with payloads as materialized (
    select
        file,
        line,
        json_extract(text, [
            '$.startTime',
            '$.custom_llm_provider',
            '$.error_information.llm_provider',
            '$.model',
            '$.hidden_params.litellm_model_name',
            '$.prompt_tokens',
            '$.completion_tokens',
            '$.id',
            '$.call_type',
            '$.status',
            '$.response_cost',
            '$.trace_id',
            '$.end_user',
            '$.request_tags',
            '$.metadata',
            '$.metadata.spend_logs_metadata',
            '$.metadata.usage_object',
            '$.hidden_params.usage_object'
        ]) as v
    from (
        select
            file,
            line,
            try(decode(raw)) as text
        from lines
        anti join otlp_spans using (file, line)
    ) as decoded
    where case
        when contains(text, '"call_type"') and contains(text, '"startTime"')
            then coalesce(try(
                json_type(text) = 'OBJECT'
                and json_exists(text, '$.call_type') and json_exists(text, '$.startTime')
            ), false)
        else false
    end
),

fields as (
    select
        file,
        line,
        v[1] as start_json,
        lower(coalesce(v[2] ->> '$', v[3] ->> '$')) as llm_provider,
        coalesce(nullif(trim(v[4] ->> '$'), ''), nullif(trim(v[5] ->> '$'), '')) as model,
        v[6] as prompt_json,
        v[7] as completion_json,
        v[8] ->> '$' as payload_id,
        v[9] ->> '$' as call_type,
        v[10] ->> '$' as payload_status,
        v[11] as cost_json,
        v[12] ->> '$' as trace_id,
        v[13] ->> '$' as end_user,
        v[14] as tags_json,
        v[15] as metadata_json,
        v[16] as spend_metadata_json,
        coalesce(case when json_type(v[17]) = 'OBJECT' then v[17] end, v[18]) as usage_json
    from payloads
),

---------- attribution: every candidate value of a payload, then the rule's first one per target
candidates as (
    select
        file,
        line,
        'team_id' as source,
        metadata_json ->> '$.user_api_key_team_id' as value
    from fields
    union all
    select
        file,
        line,
        'team_alias' as source,
        metadata_json ->> '$.user_api_key_team_alias' as value
    from fields
    union all
    select
        file,
        line,
        'key_alias' as source,
        metadata_json ->> '$.user_api_key_alias' as value
    from fields
    union all
    select
        file,
        line,
        'user_id' as source,
        metadata_json ->> '$.user_api_key_user_id' as value
    from fields
    union all
    select
        file,
        line,
        'org_id' as source,
        metadata_json ->> '$.user_api_key_org_id' as value
    from fields
    union all
    select
        file,
        line,
        'end_user' as source,
        coalesce(end_user, metadata_json ->> '$.user_api_key_end_user_id') as value
    from fields
    union all
    select
        file,
        line,
        'tag:' || regexp_extract(tag, '^([^:]+):', 1) as source,
        regexp_extract(tag, '^[^:]+:(.*)$', 1) as value
    from (
        select
            file,
            line,
            unnest(json_extract_string(tags_json, '$[*]')) as tag
        from fields
        where json_type(tags_json) = 'ARRAY'
    ) as tags
    where regexp_matches(tag, '^[^:]+:')
    union all
    select
        file,
        line,
        'metadata:' || key as source,
        spend_metadata_json ->> key as value
    from (
        select
            file,
            line,
            spend_metadata_json,
            unnest(json_keys(spend_metadata_json)) as key
        from fields
        where json_type(spend_metadata_json) = 'OBJECT'
    ) as metadata_keys
    where json_type(spend_metadata_json -> key) in ('VARCHAR', 'UBIGINT', 'BIGINT')
),

rule as (
    select
        unnest($rule_targets::varchar[]) as target,
        unnest($rule_sources::varchar[]) as source,
        generate_subscripts($rule_targets::varchar[], 1) as priority
),

attributed as (
    select
        file,
        line,
        arg_min(value, priority) filter (where target = 'billing.account') as billing_account,
        arg_min(value, priority) filter (where target = 'feature') as feature,
        arg_min(value, priority) filter (where target = 'job_type') as job_type,
        arg_min(value, priority) filter (where target = 'job_id') as job_id,
        arg_min(value, priority) filter (where target = 'user_id') as user_id,
        arg_min(value, priority) filter (where target = 'tenant_id') as tenant_id
    from candidates
    inner join rule using (source)
    where nullif(trim(value), '') is not null
    group by file, line
),

docs as (
    select
        fields.file,
        fields.line,
        case
            when start_json is null then 'missing startTime'
            when json_type(start_json) not in ('DOUBLE', 'UBIGINT', 'BIGINT', 'VARCHAR')
                then 'startTime is neither a number nor a string'
        end as timestamp_problem,
        json_object(
            'timestamp', case
                when json_type(start_json) in ('DOUBLE', 'UBIGINT', 'BIGINT')
                    then try(strftime(make_timestamp((start_json::double * 1e6)::bigint), '%Y-%m-%dT%H:%M:%S.%fZ'))
                -- a payload serialized with its datetimes as text (LiteLLM's GCS Pub/Sub and custom
                -- loggers): read like a flat record's timestamp, so one without a zone is rejected
                when json_type(start_json) = 'VARCHAR' then start_json ->> '$'
            end,
            'gen_ai.provider.name', case
                when llm_provider in ('openai', 'text-completion-openai') then 'openai'
                when llm_provider = 'anthropic' then 'anthropic'
                when llm_provider in ('bedrock', 'bedrock_converse') then 'aws.bedrock'
                else llm_provider
            end,
            'gen_ai.request.model', model,
            'gen_ai.operation.name', case
                when call_type in (
                    'completion', 'acompletion', 'text_completion', 'atext_completion', 'responses',
                    'aresponses', 'anthropic_messages'
                ) then 'chat'
                when call_type in ('embedding', 'aembedding') then 'embeddings'
                else call_type
            end,
            'gen_ai.response.id', payload_id,
            'gen_ai.usage.input_tokens', prompt_json,
            'gen_ai.usage.output_tokens', completion_json,
            'gen_ai.usage.cache_read.input_tokens', coalesce(
                usage_json -> '$.cache_read_input_tokens', usage_json -> '$.prompt_tokens_details.cached_tokens'
            ),
            'gen_ai.usage.cache_creation.input_tokens', coalesce(
                usage_json -> '$.cache_creation_input_tokens',
                usage_json -> '$.prompt_tokens_details.cache_creation_tokens'
            ),
            'gen_ai.usage.reasoning.output_tokens', usage_json -> '$.completion_tokens_details.reasoning_tokens',
            'gateway_cost_usd', cost_json,
            'status', case payload_status when 'success' then 'ok' when 'failure' then 'error' end,
            'request_id', trace_id,
            'billing.account', attributed.billing_account,
            'feature', attributed.feature,
            'job_type', attributed.job_type,
            'job_id', attributed.job_id,
            'user_id', attributed.user_id,
            'tenant_id', attributed.tenant_id
        )::varchar as doc
    from fields
    left join attributed using (file, line)
)

select
    file,
    line,
    null::bigint as span_index,
    null::blob as raw,
    doc as text,
    doc,
    true as span_is_call,
    null::varchar as otlp_problem,
    timestamp_problem
from docs
