-- Provider-side usage of every provider, keyed by the catalog's canonical model id and the price
-- tier ('__all__' where the export was not grouped by the dimension). A staging without a
-- price_tier column (Bedrock, until its tier fields reach bronze) is 'standard'.
with dim_model as (
    select * from {{ ref('dim_model') }}
),

unioned as (
    {{ union_providers('usage') }}
),

final as (
    select
        unioned.* replace (coalesce(unioned.price_tier, 'standard') as price_tier),
        dim_model.canonical_model
    from unioned
    inner join dim_model
        on
            unioned.provider = dim_model.provider
            and unioned.model = dim_model.model_name
)

select * from final
