-- The list price in force on the day of each catalog model the day mentions, per token class and
-- modality (USD per million tokens): the `catalog` source's rows for the canonical models of
-- dim_model. Every model has a 'text', an 'audio' and an 'image' rate per class: the catalog's own
-- audio or image rate where it has one, the text rate otherwise (a catalog partition written
-- before modality rows existed is all text). A model the catalog does not know has no row here
-- (its cells are priced by the invoice alone).
with dim_model as (
    select * from {{ ref('dim_model') }}
),

catalog as (
    select
        provider,
        canonical_model,
        token_class,
        coalesce(modality, 'text') as modality,
        rate_mtok
    from {{ source('catalog', 'model_prices') }}
),

models as (
    select distinct
        provider,
        canonical_model
    from dim_model
),

text_rates as (
    select * from catalog
    where modality = 'text'
),

modalities as (
    select modality_values.modality from (values ('text'), ('audio'), ('image')) as modality_values (modality)
),

final as (
    select
        text_rates.provider,
        text_rates.canonical_model,
        text_rates.token_class,
        modalities.modality,
        coalesce(own.rate_mtok, text_rates.rate_mtok) as rate_mtok
    from text_rates
    inner join models using (provider, canonical_model)
    cross join modalities
    left join catalog as own
        on
            text_rates.provider = own.provider
            and text_rates.canonical_model = own.canonical_model
            and text_rates.token_class = own.token_class
            and modalities.modality = own.modality
)

select * from final
