{#- The status of a provider's paginated cost export (OpenAI costs, Anthropic cost_report) for the
    run's day, one row: 'ok' (lines for the day), 'empty' (delivered, no lines), 'incomplete' (the
    folder holding the day's lines, else the day's own, is a listing cut short: every page says
    has_more) or 'missing'. `table` is the export's bronze table; its `_files` and `_rejects`
    tables say what was delivered and what was cut short. -#}
{% macro cost_export_status(provider, table) -%}
with costs as (
    select * from {{ source('bronze', table) }}
),

cost_rejects as (
    select * from {{ source('bronze', table ~ '_rejects') }}
),

cost_files as (
    select * from {{ source('bronze', table ~ '_files') }}
),

day_files as (
    select * from cost_files
    where folder_date = {{ usage_date() }}
),

day_costs as (
    select * from costs
    where usage_date = {{ usage_date() }}
),

-- the folder holding the day's lines, else the day's own, listed only in part
incomplete_listings as (
    select * from cost_rejects
    where
        starts_with(reason, 'listing incomplete')
        and folder_date = coalesce(
            (select max(day_costs.folder_date) as latest_folder_date from day_costs), {{ usage_date() }}
        )
),

final as (
    select
        {{ usage_date() }}::date as usage_date,
        '{{ provider }}' as provider,
        case
            when exists (select * from incomplete_listings) then 'incomplete'
            when exists (select * from day_costs) then 'ok'
            when exists (select * from day_files) then 'empty'
            else 'missing'
        end as cost_status
)

select * from final
{%- endmacro %}
