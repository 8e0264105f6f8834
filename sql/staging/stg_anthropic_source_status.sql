-- Whether Anthropic's cost_report for the day has arrived: 'ok' (lines for the day), 'empty'
-- (delivered, no lines) or 'missing'. A missing export makes the day provisional, never $0.
create or replace temp table stg_anthropic_source_status as
select
    $usage_date::date as usage_date,
    'anthropic' as provider,
    case
        when exists (select 1 from bronze_anthropic_costs where usage_date = $usage_date) then 'ok'
        when exists (select 1 from bronze_anthropic_costs_files where folder_date = $usage_date) then 'empty'
        else 'missing'
    end as cost_status
