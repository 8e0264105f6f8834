-- Every provider's cost-export status for the day, and whether the day has settled: its export
-- arrived and the provider's settling window (whole days after the usage day) had passed at the
-- run's "as of" time. An unsettled day stays 'provisional' even when its numbers are invoiced.
create or replace temp table source_status as
with statuses as (
    select * from stg_openai_source_status
    union all by name
    select * from stg_anthropic_source_status
    union all by name
    select * from stg_bedrock_source_status
)

select
    statuses.*,
    statuses.cost_status in ('ok', 'empty')
        and $as_of::timestamptz >= (statuses.usage_date + 1 + coalesce(settle_days.settle_days, 0))::timestamptz
        as settled,
from statuses
left join settle_days using (provider)
