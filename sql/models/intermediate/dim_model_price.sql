-- The prices in force over time of every catalog model the day mentions (dim_model): one row per
-- provider, canonical model, token class, modality and range of days [valid_from, valid_to) over
-- which the rate did not change, valid_to NULL for the range still in force. Built from every daily
-- catalog partition of the lake up to the day (each is genai-prices' prices as of its own day,
-- pipelines/lib/prices.py) and the overrides file (macros/price_overrides.sql), which wins within
-- its range. A day between two partitions takes the earlier partition's rate; a class a partition
-- does not list is unpriced there (no row). price_source says where the rate comes from
-- ('genai-prices' or 'override', with override_origin '<file>:<line>'). dim_price is the same
-- price for the one day the run prices.
{#- parsing records the source; a run reads every catalog partition up to the day -#}
{% set partitions = lake_relation('catalog', 'model_prices', ':history') if execute
    else source('catalog', 'model_prices') %}

with dim_model as (
    select distinct
        provider,
        canonical_model
    from {{ ref('dim_model') }}
),

history as (
    select
        catalog_partitions.folder_date as catalog_date,
        catalog_partitions.provider,
        catalog_partitions.canonical_model,
        catalog_partitions.token_class,
        coalesce(catalog_partitions.modality, 'text') as modality,
        catalog_partitions.rate_mtok
    from {{ partitions }} as catalog_partitions
    semi join dim_model using (provider, canonical_model)
),

overrides as (
    select price_overrides.*
    from {{ price_overrides() }} as price_overrides
    semi join dim_model using (provider, canonical_model)
),

price_keys as (
    select distinct
        provider,
        canonical_model,
        token_class,
        modality
    from history
    union
    select distinct
        provider,
        canonical_model,
        token_class,
        modality
    from overrides
),

catalog_days as (
    select distinct catalog_date from history
),

-- every key on every catalog day: NULL where that day's catalog does not list it
catalog_grid as (
    select
        price_keys.provider,
        price_keys.canonical_model,
        price_keys.token_class,
        price_keys.modality,
        catalog_days.catalog_date,
        history.rate_mtok
    from price_keys
    cross join catalog_days
    left join history
        on
            price_keys.provider = history.provider
            and price_keys.canonical_model = history.canonical_model
            and price_keys.token_class = history.token_class
            and price_keys.modality = history.modality
            and catalog_days.catalog_date = history.catalog_date
),

-- the days a price can change on: each catalog day, each override's first and end day
change_days as (
    select catalog_date as change_day from catalog_days
    union
    select valid_from from overrides
    union
    select valid_to from overrides
    where valid_to is not null
),

points as (
    select
        price_keys.provider,
        price_keys.canonical_model,
        price_keys.token_class,
        price_keys.modality,
        change_days.change_day
    from price_keys
    cross join change_days
),

priced as (
    select
        points.provider,
        points.canonical_model,
        points.token_class,
        points.modality,
        points.change_day,
        coalesce(overrides.rate_mtok, catalog_grid.rate_mtok) as rate_mtok,
        case
            when overrides.rate_mtok is not null then 'override'
            when catalog_grid.rate_mtok is not null then 'genai-prices'
        end as price_source,
        overrides.origin as override_origin
    from points
    asof left join catalog_grid
        on
            points.provider = catalog_grid.provider
            and points.canonical_model = catalog_grid.canonical_model
            and points.token_class = catalog_grid.token_class
            and points.modality = catalog_grid.modality
            and points.change_day >= catalog_grid.catalog_date
    left join overrides
        on
            points.provider = overrides.provider
            and points.canonical_model = overrides.canonical_model
            and points.token_class = overrides.token_class
            and points.modality = overrides.modality
            and points.change_day >= overrides.valid_from
            and (overrides.valid_to is null or points.change_day < overrides.valid_to)
),

-- what a point is priced at, as one text (a NULL rate or origin as empty): a range ends where it changes
keyed as (
    select
        *,
        concat_ws('|', coalesce(rate_mtok::varchar, ''), coalesce(price_source, ''), coalesce(override_origin, ''))
            as price_key
    from priced
),

changes as (
    select
        *,
        case
            when
                price_key = lag(price_key) over (
                    partition by provider, canonical_model, token_class, modality order by change_day
                )
                then 0
            else 1
        end as is_change
    from keyed
),

islands as (
    select
        *,
        sum(is_change) over (
            partition by provider, canonical_model, token_class, modality order by change_day
        ) as island
    from changes
),

ranges as (
    select
        provider,
        canonical_model,
        token_class,
        modality,
        island,
        any_value(rate_mtok) as rate_mtok,
        any_value(price_source) as price_source,
        any_value(override_origin) as override_origin,
        min(change_day) as valid_from
    from islands
    group by provider, canonical_model, token_class, modality, island
),

final as (
    select
        provider,
        canonical_model,
        token_class,
        modality,
        rate_mtok,
        valid_from,
        lead(valid_from) over (
            partition by provider, canonical_model, token_class, modality order by valid_from
        ) as valid_to,
        price_source,
        override_origin
    from ranges
    qualify rate_mtok is not null
)

select * from final
