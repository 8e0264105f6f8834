-- The list price in force on the day of each catalog model the day mentions, per token class
-- (USD per million tokens): the `catalog` source's rows for the canonical models of dim_model.
-- A model the catalog does not know has no row here (its cells are priced by the invoice alone).
with dim_model as (
    select * from {{ ref('dim_model') }}
),

catalog as (
    select * from {{ source('catalog', 'model_prices') }}
),

models as (
    select distinct
        provider,
        canonical_model
    from dim_model
),

final as (
    select
        catalog.provider,
        catalog.canonical_model,
        catalog.token_class,
        catalog.rate_mtok
    from catalog
    inner join models using (provider, canonical_model)
)

select * from final
