-- Every (provider, model name) the day's staging mentions, to be resolved against the catalog.
-- A name is never NULL here: staging writes '__all__' for a report not grouped by model, and
-- cost lines without a model (non-token, unsplit) are left out.
with model_names as (
    {{ union_providers(
        ['usage', 'costs', 'calls'], also=['stg_model_calls'], columns='distinct provider, model', operator='union'
    ) }}
),

final as (
    select distinct
        provider,
        model
    from model_names
    where model is not null
)

select * from final
order by provider, model
