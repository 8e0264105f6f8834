-- Every (provider, model name) the day's staging mentions, to be resolved against the catalog.
-- A name is never NULL here: staging writes '__all__' for a report not grouped by model, and
-- cost lines without a model (non-token, unsplit) are left out.
select distinct provider, model from {{ ref('stg_openai_usage') }} as stg_openai_usage where model is not null
union
select distinct provider, model from {{ ref('stg_openai_costs') }} as stg_openai_costs where model is not null
union
select distinct provider, model from {{ ref('stg_anthropic_usage') }} as stg_anthropic_usage where model is not null
union
select distinct provider, model from {{ ref('stg_anthropic_costs') }} as stg_anthropic_costs where model is not null
union
select distinct provider, model from {{ ref('stg_bedrock_usage') }} as stg_bedrock_usage where model is not null
union
select distinct provider, model from {{ ref('stg_bedrock_costs') }} as stg_bedrock_costs where model is not null
union
select distinct provider, model from {{ ref('stg_bedrock_calls') }} as stg_bedrock_calls where model is not null
union
select distinct provider, model from {{ ref('stg_model_calls') }} as stg_model_calls where model is not null
order by provider, model
