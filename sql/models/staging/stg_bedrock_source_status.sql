-- Whether the CUR for the day has arrived: 'ok' (Bedrock lines for the day), 'empty' (the billing
-- period's CUR reaches the day, with lines of some product on or after it, but none of Bedrock on
-- it) or 'missing' (no CUR for the period, or one that does not reach the day yet: CUR refreshes
-- the month as it goes). A missing export makes the day provisional, never $0.
select
    {{ usage_date() }}::date as usage_date,
    'aws.bedrock' as provider,
    case
        when exists (
            select 1 from {{ source('bronze', 'cur_lines') }} as bronze_cur_lines
            where usage_date = {{ usage_date() }}
                and (product_code like '%Bedrock%' or product_name like '%Bedrock%')
        ) then 'ok'
        when exists (select 1 from {{ source('bronze', 'cur_lines') }} as bronze_cur_lines where usage_date >= {{ usage_date() }}) then 'empty'
        else 'missing'
    end as cost_status
