-- Providers whose dark-compute share of the invoice on $day (fct_dark_compute's dollars over
-- fct_spend_reconciliation's invoice) is above $factor times its median over the previous days
-- ($history: the days whose partitions exist and where the provider has an invoice), with at
-- least $min_history such days and at least $min_usd of dark compute on the day.
with invoice as (
    select usage_date, provider, sum(invoice_cost_usd) as invoice_usd
    from read_parquet($recon_files, union_by_name = true)
    group by all
),

dark as (
    select usage_date, provider, sum(cost_usd) as dark_usd
    from read_parquet($dark_files, union_by_name = true)
    group by all
),

shares as (
    select
        invoice.usage_date,
        invoice.provider,
        invoice.invoice_usd,
        coalesce(dark.dark_usd, 0) as dark_usd,
        (coalesce(dark.dark_usd, 0) / invoice.invoice_usd)::decimal(18, 8) as share
    from invoice
    left join dark using (usage_date, provider)
    where invoice.invoice_usd > 0
),

medians as (
    select provider, median(share)::decimal(18, 8) as median_share, count(*) as days
    from shares
    where usage_date in (select unnest($history::date []))
    group by all
)

select
    shares.provider,
    shares.dark_usd,
    shares.invoice_usd,
    shares.share,
    medians.median_share,
    medians.days,
    case when medians.median_share > 0 then round(shares.share / medians.median_share, 2) end as ratio
from shares
inner join medians using (provider)
where
    shares.usage_date = $day
    and medians.days >= $min_history
    and shares.dark_usd >= $min_usd
    and shares.share > $factor * medians.median_share
order by shares.provider
