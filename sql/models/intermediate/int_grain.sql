-- The grain each provider's usage export carries for the day: whether its pages were grouped by
-- billing account (OpenAI project), model and price tier. A dimension no usage row carries (every
-- row '__all__') is one the logs and the cost lines are rolled up over too, so that all three
-- sides meet in the same cells: the finest grain they share. A provider without usage rows keeps
-- every dimension. The audio and image cells ('<tier>+audio') do not count as a grouping by tier.
with int_provider_usage as (
    select * from {{ ref('int_provider_usage') }}
),

final as (
    select
        provider,
        bool_or(billing_account <> '__all__') as by_account,
        bool_or(canonical_model <> '__all__') as by_model,
        -- a modality cell ('__all__+audio') is a part of its tier's cell, not a tier grouping
        bool_or({{ base_tier('price_tier') }} <> '__all__') as by_tier
    from int_provider_usage
    group by provider
)

select * from final
