-- Logged calls keyed by the catalog's canonical model id (aliases and dated ids become one): the
-- app and worker logs, plus Bedrock invocations that only their requestMetadata attributes.
-- One row per cell, spender and whether usage is known, with the calls and their tokens summed:
-- everything downstream adds calls up, and a day of millions of calls becomes a few thousand rows
-- here (the calls themselves stay in `stg_model_calls` and `stg_bedrock_calls`).
create or replace temp table int_calls as
with calls as (
    select * from stg_model_calls
    union all by name
    select * from stg_bedrock_calls
)

select
    calls.usage_date,
    calls.provider,
    calls.billing_account,
    calls.model,
    dim_model.canonical_model,
    calls.spend_class,
    calls.job_type,
    calls.usage_known,
    count(*) as calls,
    sum(calls.uncached_input)::bigint as uncached_input,
    sum(calls.cache_read)::bigint as cache_read,
    sum(calls.cache_write)::bigint as cache_write,
    sum(calls.output)::bigint as output,
from calls
inner join dim_model
    on dim_model.provider = calls.provider
    and dim_model.model_name = calls.model
group by all
