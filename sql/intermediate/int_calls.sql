-- Logged calls keyed by the catalog's canonical model id (aliases and dated ids become one): the
-- app and worker logs, plus Bedrock invocations that only their requestMetadata attributes.
create or replace temp table int_calls as
with calls as (
    select * from stg_model_calls
    union all by name
    select * from stg_bedrock_calls
)

select
    calls.*,
    dim_model.canonical_model,
from calls
inner join dim_model
    on dim_model.provider = calls.provider
    and dim_model.model_name = calls.model
