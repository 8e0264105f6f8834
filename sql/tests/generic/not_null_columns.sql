{#- The rows of `model` where any of `columns` is NULL, with the number of NULLs per column: the
    not-null test of several columns in one query (one test node per model instead of one per
    column: each dbt test node costs a day's run tens of milliseconds). -#}
{% test not_null_columns(model, columns) %}

with nulls as (
    select
        {% for column in columns -%}
            count(*) filter (where {{ adapter.quote(column) }} is null) as {{ adapter.quote(column ~ '_nulls') }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ model }}
)

select * from nulls
where {% for column in columns -%}
    {{ adapter.quote(column ~ '_nulls') }} > 0{{ " or " if not loop.last }}
{%- endfor %}

{% endtest %}
