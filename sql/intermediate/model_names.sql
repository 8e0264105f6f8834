-- Every (provider, model name) the day's staging mentions, to be resolved against the catalog.
select distinct provider, model from stg_openai_usage
union
select distinct provider, model from stg_openai_costs where model is not null
union
select distinct provider, model from stg_anthropic_usage where model is not null
union
select distinct provider, model from stg_anthropic_costs where model is not null
union
select distinct provider, model from stg_bedrock_usage where model is not null
union
select distinct provider, model from stg_bedrock_costs where model is not null
union
select distinct provider, model from stg_bedrock_calls
union
select distinct provider, model from stg_model_calls
order by provider, model
