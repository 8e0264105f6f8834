-- Logged model calls (app and worker logs) for one day, by their own timestamp, in disjoint token
-- classes, each with the class of spend it belongs to. OpenTelemetry's input_tokens includes cache
-- read and cache creation tokens. The log's single cache-write count is split later, per cell.
create or replace temp table stg_model_calls as
with source as (
    select * from bronze_model_calls
    where usage_date = $usage_date
),

classified as (
    select
        *,
        case
            when attempt >= 2 then 'retry'
            when job_type is not null or log_source = 'worker' then 'background'
            else 'user'
        end as spend_class,
    from source
)

select
    ---------- cell
    usage_date,
    provider,
    coalesce(billing_account, '__unknown__') as billing_account,
    model,
    ---------- who spent it
    spend_class,
    case spend_class
        when 'retry' then 'retry:' || coalesce(job_type, feature, 'unknown')
        when 'background' then coalesce(job_type, 'unspecified')
    end as job_type,
    usage_known,
    ---------- token classes
    input_tokens - cache_read_tokens - cache_creation_tokens as uncached_input,
    cache_read_tokens as cache_read,
    cache_creation_tokens as cache_write,
    output_tokens as output,
    ---------- lineage
    log_source,
    source_file,
    source_line,
from classified
