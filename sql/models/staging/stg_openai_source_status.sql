-- Whether OpenAI's cost export for the day has arrived: 'ok' (lines for the day), 'empty'
-- (delivered, no lines), 'incomplete' (the folder holding the day's lines, else the day's own, is
-- a listing cut short: every page says has_more) or 'missing'. A missing or incomplete export
-- makes the day provisional, never $0 or a part of the invoice published final.
select
    {{ usage_date() }}::date as usage_date,
    'openai' as provider,
    case
        when exists (
            select 1 from {{ source('bronze', 'openai_costs_rejects') }} as bronze_openai_costs_rejects
            where starts_with(reason, 'listing incomplete')
                and folder_date = coalesce(
                    (select max(folder_date) from {{ source('bronze', 'openai_costs') }} as bronze_openai_costs where usage_date = {{ usage_date() }}), {{ usage_date() }})
        ) then 'incomplete'
        when exists (select 1 from {{ source('bronze', 'openai_costs') }} as bronze_openai_costs where usage_date = {{ usage_date() }}) then 'ok'
        when exists (select 1 from {{ source('bronze', 'openai_costs_files') }} as bronze_openai_costs_files where folder_date = {{ usage_date() }}) then 'empty'
        else 'missing'
    end as cost_status
