-- The list price in force on the day of each catalog model the day mentions, per token class and
-- modality (USD per million tokens): the `catalog` source's rows for the canonical models of
-- dim_model. Every model has a 'text', an 'audio' and an 'image' rate per class: the catalog's own
-- audio or image rate where it has one, the text rate otherwise (a catalog partition written
-- before modality rows existed is all text). A model the catalog does not know has no row here
-- (its cells are priced by the invoice alone). A negotiated or private price of the overrides file
-- (macros/price_overrides.sql) in force on the day replaces the catalog's rate of its class and
-- modality (and so the audio and image rates that fall back to an overridden text rate); the
-- ranges over days are dim_model_price.
with dim_model as (
    select * from {{ ref('dim_model') }}
),

overrides as (
    select
        provider,
        canonical_model,
        token_class,
        modality,
        rate_mtok
    from {{ price_overrides() }}
    where valid_from <= {{ usage_date() }} and (valid_to is null or {{ usage_date() }} < valid_to)
),

listed as (
    select
        provider,
        canonical_model,
        token_class,
        coalesce(modality, 'text') as modality,
        rate_mtok
    from {{ source('catalog', 'model_prices') }}
),

catalog as (
    select listed.*
    from listed
    anti join overrides using (provider, canonical_model, token_class, modality)
    union all
    select * from overrides
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
