-- Whether OpenAI's cost export for the day has arrived: 'ok' (lines for the day), 'empty'
-- (delivered, no lines), 'incomplete' (the folder holding the day's lines, else the day's own, is
-- a listing cut short: every page says has_more) or 'missing'. A missing or incomplete export
-- makes the day provisional, never $0 or a part of the invoice published final.
with costs as (
    select * from {{ source('bronze', 'openai_costs') }}
),

cost_rejects as (
    select * from {{ source('bronze', 'openai_costs_rejects') }}
),

cost_files as (
    select * from {{ source('bronze', 'openai_costs_files') }}
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
        'openai' as provider,
        case
            when exists (select * from incomplete_listings) then 'incomplete'
            when exists (select * from day_costs) then 'ok'
            when exists (select * from day_files) then 'empty'
            else 'missing'
        end as cost_status
)

select * from final
