-- The accepted model calls of `parsed_lines`, in the bronze schema. The spans of one OTLP line
-- share its `source_line` and come in the line's order. `line_md5` is the md5 of the line for a
-- flat line and, for a span, of the span as `otlp_spans.sql` keeps it (its traceId, spanId, ...
-- and contract attributes): a fingerprint of the call that does not change when the collector
-- batches the span into another line.
select
    $log_source as log_source,
    $folder_date::date as folder_date,
    (ts at time zone 'UTC')::date as usage_date,
    ts,
    provider,
    coalesce(response_model, request_model) as model,
    request_model,
    response_model,
    operation,
    ---------- usage, as logged (OpenTelemetry: input includes cache read and creation), of
    ---------- `request_count` requests (an aggregate record: a batch job, a re-index); the gateway's
    ---------- own cost estimate (LiteLLM's response_cost), never used to split the invoice
    input_tokens is not null as usage_known,
    input_tokens,
    coalesce(output_tokens, case when input_tokens is not null then 0 end) as output_tokens,
    coalesce(cache_read_tokens, 0) as cache_read_tokens,
    coalesce(cache_creation_tokens, 0) as cache_creation_tokens,
    reasoning_tokens,
    request_count,
    gateway_cost_usd,
    ---------- attribution
    billing_account,
    service_tier,
    batch,
    attempt,
    status,
    request_id,
    response_id,
    user_id,
    tenant_id,
    feature,
    job_id,
    job_type,
    queue,
    trigger,
    parent_request_id,
    ---------- lineage
    file as source_file,
    line as source_line,
    line_md5
from parsed_lines
where outcome = 'record'
order by file, line, span_index
