{#- The rows of `model` whose combination of `columns` is not unique: one row per repeated key,
    with how many rows share it. A NULL is a value like any other here (two rows whose key
    differs only by NULL against NULL are a repeat). The grain test of the project's models (no
    dbt_utils: the project installs no dbt packages). -#}
{% test unique_combination(model, columns) %}

with keyed as (
    select
        {% for column in columns -%}
            {{ adapter.quote(column) }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ model }}
),

repeated as (
    select
        *,
        count(*) as n_rows
    from keyed
    group by all
    having count(*) > 1
)

select * from repeated

{% endtest %}
