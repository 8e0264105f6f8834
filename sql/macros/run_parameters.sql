{#- The run's parameters. The orchestrator (`pipelines/lib/dbt.py`) passes them as one JSON object in
    the environment variable DARKCOMPUTE_DBT_RUN rather than as `--vars`: dbt re-parses the whole
    project whenever its command-line vars change. The variable is read only when a model runs
    (`execute`), never while dbt parses, so a new day's values change nothing dbt parsed: each run
    reuses the saved parse as it is and writes none. Rendered as typed literals: a model's text
    never holds a value it was not given. While parsing, and without the variable (`dbt docs
    generate`), they are placeholders. -#}

{% macro run_parameter(name) -%}
    {%- set defaults = {
        "usage_date": "2026-01-01",
        "as_of": "2026-01-01T00:00:00+00:00",
        "settle_days": {},
        "lake_files": {},
        "duckdb": {},
        "price_overrides": [],
    } -%}
    {%- if not execute -%}
        {{ return(defaults[name]) }}
    {%- endif -%}
    {{ return(fromjson(env_var("DARKCOMPUTE_DBT_RUN", "{}")).get(name, defaults[name])) }}
{%- endmacro %}

{% macro usage_date() -%}
    date '{{ run_parameter("usage_date") }}'
{%- endmacro %}

{% macro as_of() -%}
    timestamptz '{{ run_parameter("as_of") }}'
{%- endmacro %}

{#- Each provider's settling window in whole days (DARKCOMPUTE_SETTLE_DAYS), as a relation. -#}
{% macro settle_days() -%}
    {%- set days = run_parameter("settle_days") -%}
    {%- if days -%}
    (select * from (values
        {%- for provider, n in days.items() %}
        ('{{ provider }}', {{ n | int }}::integer){{ "," if not loop.last }}
        {%- endfor %}
    ) as settle_days (provider, settle_days))
    {%- else -%}
    (select null::varchar as provider, null::integer as settle_days where false)
    {%- endif -%}
{%- endmacro %}

