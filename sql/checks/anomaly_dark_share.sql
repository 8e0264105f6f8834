-- Providers whose dark-compute share of the invoice on $day (fct_dark_compute's dollars over
-- fct_spend_reconciliation's invoice) is above $factor times its median over the previous days
-- ($history: the days whose partitions exist and where the provider has an invoice), with at
-- least $min_history such days and at least $min_usd of dark compute on the day.
with params as (
    select
        $factor as max_factor,
        $min_usd as floor_usd,
        $min_history as history_needed,
        $day::DATE as check_date
),

history_days as (
    select unnest($history::DATE[]) as history_date
),

invoice as (
    select
        usage_date,
        provider,
        sum(invoice_cost_usd) as invoice_usd
    from read_parquet($recon_files, union_by_name = true)
    group by all
),

dark as (
    select
        usage_date,
        provider,
        sum(cost_usd) as dark_usd
    from read_parquet($dark_files, union_by_name = true)
    group by all
),

shares as (
    select
        invoice.usage_date,
        invoice.provider,
        invoice.invoice_usd,
        coalesce(dark.dark_usd, 0) as dark_usd,
        (coalesce(dark.dark_usd, 0) / invoice.invoice_usd)::DECIMAL(18, 8) as dark_share
    from invoice
    left join dark using (usage_date, provider)
    where invoice.invoice_usd > 0
),

medians as (
    select
        provider,
        median(dark_share)::DECIMAL(18, 8) as median_share,
        count(*) as history_count
    from shares
    where usage_date in (select history_days.history_date from history_days)
    group by all
)

select
    shares.provider,
    shares.dark_usd,
    shares.invoice_usd,
    shares.dark_share,
    medians.median_share,
    medians.history_count,
    case when medians.median_share > 0 then round(shares.dark_share / medians.median_share, 2) end as ratio
from shares
inner join medians using (provider)
cross join params
where
    shares.usage_date = params.check_date
    and medians.history_count >= params.history_needed
    and shares.dark_usd >= params.floor_usd
    and shares.dark_share > params.max_factor * medians.median_share
order by shares.provider
