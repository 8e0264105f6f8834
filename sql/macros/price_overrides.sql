{#- The negotiated and private prices of the overrides file (prices/overrides.csv, or the file
    DARKCOMPUTE_PRICE_OVERRIDES names), validated by the orchestrator (pipelines/lib/prices.py
    load_overrides) and passed in the run parameter `price_overrides`, as a relation:
    provider, canonical_model, token_class, modality, rate_mtok DECIMAL(18, 9), valid_from,
    valid_to (exclusive; NULL: still in force), origin ('<file>:<line>'). Typed-empty when the file
    has no row. -#}
{% macro price_overrides() -%}
    {%- set rows = run_parameter("price_overrides") -%}
    (select
        null::varchar as provider,
        null::varchar as canonical_model,
        null::varchar as token_class,
        null::varchar as modality,
        null::decimal(18, 9) as rate_mtok,
        null::date as valid_from,
        null::date as valid_to,
        null::varchar as origin
    where false
    {%- for row in rows %}
    union all
    select
        '{{ row.provider | replace("'", "''") }}',
        '{{ row.canonical_model | replace("'", "''") }}',
        '{{ row.token_class | replace("'", "''") }}',
        '{{ row.modality | replace("'", "''") }}',
        '{{ row.rate_mtok | replace("'", "''") }}'::decimal(18, 9),
        date '{{ row.valid_from | replace("'", "''") }}',
        {% if row.valid_to %}date '{{ row.valid_to | replace("'", "''") }}'{% else %}null::date{% endif %},
        '{{ row.origin | replace("'", "''") }}'
    {%- endfor %})
{%- endmacro %}
