-- OpenTelemetry OTLP/JSON log lines (the Collector file exporter writes one TracesData object,
-- `{"resourceSpans": [...]}`, per line) -> one row per span, its attributes flattened into a
-- JSON object with the flat log contract's keys (`doc`), so that `model_calls.sql` checks spans
-- and flat lines with the same rules. Input: the registered Arrow table `lines(file, line, raw)`.
-- A line is OTLP when it is a JSON object with a top-level `resourceSpans` key; only lines whose
-- text contains `resourceSpans` are parsed here, so a flat line costs one substring search.
-- Set-based throughout: lists are unnested, JSON is parsed by DuckDB, no loop over lines.
--
-- The encoding (opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding"): keys in
-- lowerCamelCase; 64-bit integers (`intValue`, `startTimeUnixNano`) are decimal strings, and
-- numbers are accepted too; an attribute is `{"key": ..., "value": AnyValue}` where AnyValue holds
-- one of stringValue, boolValue, intValue, doubleValue, arrayValue, kvlistValue, bytesValue.
--
-- Rows (every OTLP line has at least one, so `model_calls.sql` can tell OTLP lines apart):
--   * one per span, `span_index` 1, 2, ... in the line's order (all resources and scopes);
--   * one per line whose envelope is malformed (`span_index` null, `otlp_problem` set): rejected;
--   * one per line without any span (`span_index` null, an empty envelope): skipped.
-- A span's attributes win over its resource's (e.g. `billing.account` or `job_type` set on the
-- resource for a whole service); scope attributes are not read. A span is a model call when its
-- own attributes carry a GenAI call attribute (provider, model or token usage): resource
-- attributes only fill in, so an HTTP or DB span of a service is never taken for a call.
-- `timestamp` is `startTimeUnixNano` (UTC, cut to microseconds); `status` is the `status`
-- attribute, else the span status (code 1 'ok', 2 'error').
-- `gateway_cost_usd` (the instrumentation's own per-call estimate in USD, as LiteLLM's
-- `response_cost`) is the first of these span attributes present on the span itself:
--   `langfuse.observation.cost_details`  Langfuse SDKs (a JSON object as a string; its `total`,
--                                        else `input` + `output`, as Langfuse's ingestion reads it)
--   `gen_ai.usage.cost`                  OpenLIT; read by Langfuse's OTel ingestion
--   `llm.cost.total`                     OpenInference (Arize); read by Langfuse's OTel ingestion
--   `gen_ai.cost.total_cost`             LiteLLM's OpenTelemetry callback (`cost_breakdown`)
--   `litellm.cost.total`                 LiteLLM's OpenTelemetry v2 callback
--   `operation.cost`                     Pydantic AI (Logfire)
-- a double (a JSON number, or a string in proto3 JSON) or an int64; `gateway_cost_attribute`
-- names the one read, for the reason of a rejection (not a number, out of range, negative).
-- OpenLLMetry (Traceloop) writes no cost attribute.
--
-- Only the attributes the flat contract names are read (`contract`). GenAI instrumentations may
-- record prompt and completion text in other attributes and in events (`gen_ai.input.messages`,
-- ...), and the lake never holds such text, so a span's `text` (the `raw` of its rejection, and
-- the source of its `line_md5`) is the span as written with only its identity (traceId, spanId,
-- name, startTimeUnixNano, status) and its own and its resource's contract attributes; a
-- malformed envelope's `text` is the line's JSON shape (`json_structure`: keys and types, no values).
create or replace temp table otlp_spans as
with contract as (
    select
        [
            'gen_ai.provider.name', 'gen_ai.system', 'gen_ai.request.model', 'gen_ai.response.model',
            'gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'gen_ai.usage.output_tokens',
            'gen_ai.usage.completion_tokens', 'gen_ai.usage.cache_read.input_tokens',
            'gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.reasoning.output_tokens',
            'gen_ai.response.id', 'gen_ai.operation.name', 'billing.account', 'service_tier', 'batch', 'attempt',
            'status', 'request_id', 'user_id', 'tenant_id', 'feature', 'job_id', 'job_type', 'queue', 'trigger',
            'parent_request_id', 'request_count', 'openai.response.service_tier', 'gen_ai.openai.response.service_tier',
            'openai.request.service_tier', 'gen_ai.openai.request.service_tier', 'langfuse.observation.cost_details',
            'gen_ai.usage.cost', 'llm.cost.total', 'gen_ai.cost.total_cost', 'litellm.cost.total', 'operation.cost'
        ] as keys,
        -- an instrumentation's own per-call cost in USD, the first of them on the span (see header)
        [
            'langfuse.observation.cost_details', 'gen_ai.usage.cost', 'llm.cost.total', 'gen_ai.cost.total_cost',
            'litellm.cost.total', 'operation.cost'
        ] as cost_keys
),

otlp_lines as materialized (
    select
        file,
        line,
        text,
        -- the envelope typed in one parse; null when it does not fit exactly (a type differs,
        -- or an optional key is absent), which `envelopes` then looks into
        try(
            json_transform_strict(
                text, '{"resourceSpans": [{"resource": {"attributes": [{"key": "VARCHAR", "value": "JSON"}]},
                                          "scopeSpans": [{"spans": ["JSON"]}]}]}'
            )
        )
            as strict_envelope
    from (
        select
            file,
            line,
            try(decode(raw)) as text
        from lines
    ) as decoded
    where case
        when contains(text, 'resourceSpans') then coalesce(try(json_exists(text, '$.resourceSpans')), false)
        else false
    end
),

---------- the envelope: arrays and objects where OTLP has them (wildcards skip absent keys)
envelopes as materialized (
    select
        file,
        line,
        text,
        case
            when strict_envelope is not null then null
            when json_type(text, '$.resourceSpans') not in ('ARRAY', 'NULL')
                then 'resourceSpans is not an array'
            when not list_distinct(json_type(text, '$.resourceSpans[*]')) <@ ['OBJECT', 'NULL']
                then 'a resourceSpans entry is not an object'
            when not list_distinct(json_type(text, '$.resourceSpans[*].resource')) <@ ['OBJECT', 'NULL']
                then 'resource is not an object'
            when not list_distinct(json_type(text, '$.resourceSpans[*].resource.attributes')) <@ ['ARRAY', 'NULL']
                then 'resource attributes is not an array'
            when not list_distinct(json_type(text, '$.resourceSpans[*].scopeSpans')) <@ ['ARRAY', 'NULL']
                then 'scopeSpans is not an array'
            when not list_distinct(json_type(text, '$.resourceSpans[*].scopeSpans[*]')) <@ ['OBJECT', 'NULL']
                then 'a scopeSpans entry is not an object'
            when not list_distinct(json_type(text, '$.resourceSpans[*].scopeSpans[*].spans')) <@ ['ARRAY', 'NULL']
                then 'spans is not an array'
        end as envelope_problem,
        coalesce(
            strict_envelope,
            json_transform(text, '{"resourceSpans": [{"resource": {"attributes": [{"key": "VARCHAR", "value": "JSON"}]},
                                   "scopeSpans": [{"spans": ["JSON"]}]}]}')
        ) as envelope
    from otlp_lines
),

---------- spans, in the line's order, each with its resource's attributes
line_spans as (
    select
        file,
        line,
        flatten(list_transform(
            envelope.resourceSpans,
            lambda r: list_transform(
                flatten(list_transform(r.scopeSpans, lambda s: s.spans)),
                lambda span: { 'resource_attributes': r.resource.attributes, 'span': span }
            )
        )) as spans
    from envelopes
    where envelope_problem is null
),

spans as materialized (
    select
        file,
        line,
        span_index,
        entry.resource_attributes,
        entry.span,
        json_transform(entry.span, '{"traceId": "JSON", "spanId": "JSON", "name": "JSON", "startTimeUnixNano": "JSON",
                                     "status": "JSON", "attributes": [{"key": "VARCHAR", "value": "JSON"}]}') as fields,
        case
            when json_type(entry.span) <> 'OBJECT' then 'malformed OTLP span: not a JSON object'
            when coalesce(json_type(entry.span -> '$.attributes'), 'NULL') not in ('ARRAY', 'NULL')
                then 'malformed OTLP span: attributes is not an array'
        end as otlp_problem
    from (
        select
            file,
            line,
            unnest(spans) as entry,
            generate_subscripts(spans, 1) as span_index
        from line_spans
    ) as span_entries
),

---------- attributes: resource (precedence 1) and span (precedence 2), values unwrapped
attributes as (
    select
        file,
        line,
        span_index,
        1 as precedence,
        unnest(resource_attributes) as attribute
    from spans
    union all
    select
        file,
        line,
        span_index,
        2 as precedence,
        unnest(fields.attributes) as attribute
    from spans
),

attribute_values as (
    select
        file,
        line,
        span_index,
        precedence,
        attribute.key,
        attribute.value as any_value,
        coalesce(json_type(attribute.value), 'NULL') as kind,
        json_transform(attribute.value, '{"stringValue": "JSON", "intValue": "JSON", "boolValue": "JSON",
            "doubleValue": "JSON", "bytesValue": "JSON", "arrayValue": "JSON", "kvlistValue": "JSON"}') as typed
    from attributes, contract
    where list_contains(contract.keys, attribute.key)
),

unwrapped as (
    select
        file,
        line,
        span_index,
        precedence,
        key,
        case
            when kind = 'NULL' then null
            -- not an AnyValue object: taken as written, and checked like a flat value
            when kind <> 'OBJECT' then any_value
            else coalesce(
                typed.stringValue,
                -- int64 as a decimal string (proto3 JSON) or as a number; anything else stays as
                -- written, so a token count that is not an integer is rejected as such
                case
                    when
                        json_type(typed.intValue) = 'VARCHAR'
                        and regexp_full_match(typed.intValue ->> '$', '-?[0-9]{1,19}')
                        then try_cast(typed.intValue ->> '$' as bigint)::json
                end,
                typed.intValue,
                typed.boolValue,
                -- a double as a string (proto3 JSON allows it): its number, as written; "NaN" and
                -- "Infinity" stay strings, which no number check accepts
                case
                    when
                        json_type(typed.doubleValue) = 'VARCHAR'
                        and regexp_full_match(typed.doubleValue ->> '$', '-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?')
                        then (typed.doubleValue ->> '$')::json
                end,
                typed.doubleValue,
                typed.bytesValue,
                typed.arrayValue,
                typed.kvlistValue,
                -- an unknown value type: the object itself, which no integer or provider check accepts
                case when any_value <> '{}' then any_value end
            )
        end as value
    from attribute_values
),

merged as (
    select
        file,
        line,
        span_index,
        key,
        arg_max(value, precedence) as value,
        max(precedence) = 2 as on_span
    from unwrapped
    where value is not null
    group by file, line, span_index, key
),

span_attributes as (
    select
        file,
        line,
        span_index,
        json_group_object(key, value) as attributes,
        bool_or(on_span and key in (
            'gen_ai.provider.name', 'gen_ai.system', 'gen_ai.request.model', 'gen_ai.response.model',
            'gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens',
            'gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens'
        )) as is_call,
        -- the span's own cost attribute first in `cost_keys` (never its resource's; an empty
        -- string is absent, as Langfuse reads it)
        arg_min(key, cost_rank) filter (where cost_rank is not null) as cost_key,
        arg_min(value, cost_rank) filter (where cost_rank is not null) as cost_value
    from (
        select
            merged.*,
            case
                when merged.on_span and merged.value::varchar <> '""'
                    then nullif(list_position(contract.cost_keys, merged.key), 0)
            end as cost_rank
        from merged
        cross join contract
    ) as ranked
    group by file, line, span_index
),

---------- the gateway cost: the attribute's number as written (`model_calls.sql` checks it and
-- reads its text to a Decimal); Langfuse's cost_details is a JSON object as a string: its `total`,
-- else `input` + `output` when those are all it holds (Langfuse's rule), else no total, rejected
span_costs as (
    select
        *,
        try((cost_value ->> '$')::json) as details,
        details -> '$.input' as details_input,
        details -> '$.output' as details_output,
        case
            when json_type(details_input) in ('UBIGINT', 'BIGINT', 'DOUBLE')
                then try_cast(details_input ->> '$' as decimal(38, 12))
        end as input_usd,
        case
            when json_type(details_output) in ('UBIGINT', 'BIGINT', 'DOUBLE')
                then try_cast(details_output ->> '$' as decimal(38, 12))
        end as output_usd,
        case
            when coalesce(cost_key, '') <> 'langfuse.observation.cost_details' then cost_value
            when coalesce(json_type(details), '') <> 'OBJECT' then '"not a JSON object"'::json
            when coalesce(json_type(details -> '$.total'), 'NULL') <> 'NULL' then details -> '$.total'
            when not list_filter(json_keys(details), lambda k: k <> 'total') <@ ['input', 'output']
                then '"no total"'::json
            -- a part that is not a number (or out of range) goes on as written, for its reason
            when coalesce(json_type(details_input), 'NULL') <> 'NULL' and input_usd is null then details_input
            when coalesce(json_type(details_output), 'NULL') <> 'NULL' and output_usd is null then details_output
            else (coalesce(input_usd, 0) + coalesce(output_usd, 0))::varchar::json
        end as gateway_cost,
        case
            when cost_key = 'langfuse.observation.cost_details' then 'langfuse.observation.cost_details total'
            else cost_key
        end as gateway_cost_attribute
    from span_attributes
),

---------- per span: its start time and status, and the flat-contract object
span_rows as (
    select
        spans.file,
        spans.line,
        spans.span_index,
        json_object(
            'traceId', fields.traceId, 'spanId', fields.spanId, 'name', fields.name,
            'startTimeUnixNano', fields.startTimeUnixNano, 'status', fields.status,
            'attributes', list_filter(fields.attributes, lambda a: list_contains(contract.keys, a.key)),
            'resource', json_object(
                'attributes', list_filter(resource_attributes, lambda a: list_contains(contract.keys, a.key))
            )
        )::varchar as text,
        fields.startTimeUnixNano ->> '$' as start_nanos,
        case
            when regexp_full_match(fields.startTimeUnixNano ->> '$', '[0-9]{1,20}')
                then try(strftime(
                    make_timestamp(((fields.startTimeUnixNano ->> '$')::hugeint // 1000)::bigint),
                    '%Y-%m-%dT%H:%M:%S.%fZ'
                ))
        end as start_time,
        case fields.status ->> '$.code'
            when '1' then 'ok'
            when 'STATUS_CODE_OK' then 'ok'
            when '2' then 'error'
            when 'STATUS_CODE_ERROR' then 'error'
        end as span_status,
        coalesce(span_costs.attributes, '{}') as attributes,
        coalesce(span_costs.is_call, false) as span_is_call,
        span_costs.gateway_cost,
        span_costs.gateway_cost_attribute,
        otlp_problem
    from spans
    cross join contract
    left join span_costs
        on
            spans.file = span_costs.file
            and spans.line = span_costs.line
            and spans.span_index = span_costs.span_index
)

select
    file,
    line,
    span_index,
    null::blob as raw,
    text,
    json_merge_patch(
        json_object('status', span_status),
        attributes,
        json_object(
            'timestamp', start_time, 'gateway_cost_usd', gateway_cost, 'gateway_cost_attribute', gateway_cost_attribute
        )
    )::varchar as doc,
    span_is_call,
    otlp_problem,
    case
        when start_nanos is null then 'missing startTimeUnixNano'
        when start_time is null then 'unparseable startTimeUnixNano: ' || start_nanos
    end as timestamp_problem
from span_rows

union all

select
    file,
    line,
    null as span_index,
    null::blob as raw,
    -- too deep for json_structure (128 levels): only its length
    coalesce(try(json_structure(text))::varchar, json_object('bytes', strlen(text))::varchar) as text,
    '{}' as doc,
    false as span_is_call,
    case when envelope_problem is not null then 'malformed OTLP line: ' || envelope_problem end as otlp_problem,
    null as timestamp_problem
from envelopes
where
    envelope_problem is not null
    or not exists (
        select * from spans
        where spans.file = envelopes.file and spans.line = envelopes.line
    )
