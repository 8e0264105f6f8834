-- The accepted invocation records of `parsed_invocations`, in the bronze schema. The billing
-- account is the application inference profile when the caller invoked one (its ARN is the
-- modelId), else the caller's principal (else, when the record names none, the account id).
-- Token counts are as logged: inputTokenCount EXCLUDES cache reads and writes; the 1-hour cache
-- writes are part of cache_write_tokens (NULL when the record does not say: then all count as
-- 5-minute writes). A request a guardrail blocked on input logs zero tokens (the model never ran;
-- only the guardrail's text units are billed, as non-token CUR lines); one blocked on output
-- logs, and is billed, the tokens the model used.
-- Input: `parsed_invocations` and `source_files(file, sha256)`.
select
    $folder_date::date as folder_date,
    (ts at time zone 'UTC')::date as usage_date,
    ts,
    account_id,
    region,
    inference_region,
    request_id,
    operation,
    model_id,
    identity_arn,
    case
        when regexp_matches(model_id, '^arn:aws[a-z-]*:bedrock:[^:]*:[0-9]*:application-inference-profile/.+')
            then model_id
        else coalesce(identity_arn, account_id)
    end as billing_account,
    request_metadata,
    job_type,
    attempt,
    ---------- usage (unknown when inputTokenCount is absent)
    input_tokens is not null as usage_known,
    input_tokens,
    case when input_tokens is not null then coalesce(cache_read_tokens, 0) end as cache_read_tokens,
    case when input_tokens is not null then coalesce(cache_write_tokens, 0) end as cache_write_tokens,
    case when input_tokens is not null then cache_write_1h_tokens end as cache_write_1h_tokens,
    case when input_tokens is not null then coalesce(output_tokens, 0) end as output_tokens,
    service_tier,
    guardrail_action,
    ---------- lineage
    file as source_file,
    line as source_line,
    source_files.sha256 as file_sha256
from parsed_invocations
inner join source_files using (file)
where outcome = 'record'
order by file, line
