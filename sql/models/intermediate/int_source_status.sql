-- Every provider's cost-export status for the day, whether its invoice has arrived, and whether
-- the day has settled: its invoice arrived and the provider's settling window (whole days after
-- the usage day) had passed at the run's "as of" time. An unsettled day stays 'provisional' even
-- when its numbers are invoiced. An export that arrived 'empty' is the invoice only when the
-- provider's usage export is empty too (a $0 day); against usage rows it is a cost export that
-- is not there yet (pages that parse but hold no result), so the usage is priced from the
-- catalog and the day is 'provisional', like a missing export, never $0 final.
with statuses as (
    {{ union_providers('source_status') }}
),

usage_providers as (
    {{ union_providers('usage', columns='distinct provider', operator='union') }}
),

arrived as (
    select
        statuses.*,
        statuses.cost_status = 'ok'
        or (statuses.cost_status = 'empty' and usage_providers.provider is null) as invoice_arrived
    from statuses
    left join usage_providers using (provider)
),

final as (
    select
        arrived.*,
        arrived.invoice_arrived
        and {{ as_of() }} >= (arrived.usage_date + 1 + coalesce(settle_days.settle_days, 0))::timestamptz
            as settled
    from arrived
    left join {{ settle_days() }} as settle_days using (provider)
)

select * from final
