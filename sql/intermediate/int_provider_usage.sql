-- Provider-side usage of every provider, keyed by the catalog's canonical model id.
create or replace temp table int_provider_usage as
with unioned as (
    select * from stg_openai_usage
    union all by name
    select * from stg_anthropic_usage
    union all by name
    select * from stg_bedrock_usage
)

select
    unioned.*,
    dim_model.canonical_model,
from unioned
inner join dim_model
    on dim_model.provider = unioned.provider
    and dim_model.model_name = unioned.model
