-- Provider cost lines of every provider (dollars, DECIMAL), keyed by canonical model where the
-- line names one. line_kind: 'token' (model and token class known), 'unsplit' (a token cost with
-- no class split) or 'non_token' (search, storage, credits...).
create or replace temp table int_provider_costs as
with unioned as (
    select * from stg_openai_costs
    union all by name
    select * from stg_anthropic_costs
    union all by name
    select * from stg_bedrock_costs
)

select
    unioned.*,
    dim_model.canonical_model,
from unioned
left join dim_model
    on dim_model.provider = unioned.provider
    and dim_model.model_name = unioned.model
