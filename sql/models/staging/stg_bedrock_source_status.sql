-- Whether the CUR for the day has arrived: 'ok' (Bedrock lines for the day), 'empty' (the billing
-- period's CUR reaches the day, with lines of some product on or after it, but none of Bedrock on
-- it) or 'missing' (no CUR for the period, or one that does not reach the day yet: CUR refreshes
-- the month as it goes). A missing export makes the day provisional, never $0.
with cur_lines as (
    select * from {{ source('bronze', 'cur_lines') }}
),

day_bedrock_lines as (
    select * from cur_lines
    where
        usage_date = {{ usage_date() }}
        and (product_code like '%Bedrock%' or product_name like '%Bedrock%')
),

lines_from_the_day as (
    select * from cur_lines
    where usage_date >= {{ usage_date() }}
),

final as (
    select
        {{ usage_date() }}::date as usage_date,
        'aws.bedrock' as provider,
        case
            when exists (select * from day_bedrock_lines) then 'ok'
            when exists (select * from lines_from_the_day) then 'empty'
            else 'missing'
        end as cost_status
)

select * from final
