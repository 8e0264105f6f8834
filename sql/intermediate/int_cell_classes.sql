-- The money to split, per cell and token class: billed tokens, logged tokens, the invoice's cost
-- for the class and the catalog's. Where the day's cost export has arrived, the class cost is the
-- invoice's: its own lines, plus a share of any line without a class split, weighted by catalog
-- cost over the account's cells. Otherwise it is the catalog estimate ('provisional'). Usage the
-- cost export never covers (priced_by = 'catalog', e.g. Anthropic Priority Tier) is always added
-- at catalog prices and flagged, so the day shows as 'estimated' rather than silently short.
create or replace temp table int_cell_classes as
with billed as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        token_class,
        sum(tokens)::bigint as billed_tokens,
        coalesce(sum(tokens) filter (where priced_by = 'catalog'), 0)::bigint as catalog_only_tokens,
    from int_provider_usage
    unpivot (tokens for token_class in (uncached_input, cache_read, cache_write_5m, cache_write_1h, output))
    group by usage_date, provider, billing_account, canonical_model, token_class
),

invoiced as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        token_class,
        sum(cost_usd) as invoice_cost_usd,
    from int_provider_costs
    where line_kind = 'token'
    group by all
),

logged as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        token_class,
        sum(tokens)::bigint as logged_tokens,
    from int_logged_classes
    group by all
),

cell_classes as (
    select usage_date, provider, billing_account, canonical_model, token_class from billed
    union
    select usage_date, provider, billing_account, canonical_model, token_class from invoiced
    union
    select usage_date, provider, billing_account, canonical_model, token_class from logged
),

priced as (
    select
        cell_classes.*,
        coalesce(billed.billed_tokens, 0) as billed_tokens,
        coalesce(logged.logged_tokens, 0) as logged_tokens,
        coalesce(invoiced.invoice_cost_usd, 0) as invoice_cost_usd,
        cast(coalesce(billed.billed_tokens, 0) * coalesce(dim_price.rate_mtok, 0) * 0.000001 as decimal(38, 12))
            as catalog_cost_usd,
        coalesce(billed.catalog_only_tokens, 0) as catalog_only_tokens,
        cast(coalesce(billed.catalog_only_tokens, 0) * coalesce(dim_price.rate_mtok, 0) * 0.000001 as decimal(38, 12))
            as catalog_only_cost_usd,
        dim_price.rate_mtok is not null as catalog_priced,
        coalesce(source_status.cost_status in ('ok', 'empty'), false) as invoice_arrived,
    from cell_classes
    left join billed using (usage_date, provider, billing_account, canonical_model, token_class)
    left join invoiced using (usage_date, provider, billing_account, canonical_model, token_class)
    left join logged using (usage_date, provider, billing_account, canonical_model, token_class)
    left join dim_price using (provider, canonical_model, token_class)
    left join source_status using (usage_date, provider)
),

unsplit as (
    select
        usage_date,
        provider,
        billing_account,
        (sum(cost_usd) * 1000000000000)::hugeint as unsplit_pico,
    from int_provider_costs
    where line_kind = 'unsplit'
    group by all
),

weighted as (
    select
        priced.*,
        (priced.catalog_cost_usd * 1000000000000)::hugeint as weight,
        sum((priced.catalog_cost_usd * 1000000000000)::hugeint)
            over (partition by priced.usage_date, priced.provider, priced.billing_account) as account_weight,
        row_number() over (
            partition by priced.usage_date, priced.provider, priced.billing_account
            order by priced.catalog_cost_usd desc, priced.canonical_model, priced.token_class
        ) as weight_rank,
        coalesce(unsplit.unsplit_pico, 0) as unsplit_pico,
    from priced
    left join unsplit using (usage_date, provider, billing_account)
),

shared as (
    select
        *,
        case when account_weight > 0 then unsplit_pico * weight // account_weight else 0 end as unsplit_share_pico,
    from weighted
),

-- floor division leaves a few picodollars of each unsplit line; the heaviest class takes them
balanced as (
    select
        *,
        unsplit_share_pico
            + case
                when weight_rank = 1 and account_weight > 0
                    then unsplit_pico - sum(unsplit_share_pico) over (partition by usage_date, provider, billing_account)
                else 0
            end as unsplit_pico_share,
    from shared
)

select
    usage_date,
    provider,
    billing_account,
    canonical_model,
    token_class,
    billed_tokens,
    logged_tokens,
    catalog_cost_usd,
    catalog_priced,
    invoice_arrived,
    catalog_only_tokens > 0 as catalog_estimated,
    case
        when invoice_arrived
            then invoice_cost_usd + unsplit_pico_share::decimal(38, 0) * 0.000000000001 + catalog_only_cost_usd
        else catalog_cost_usd
    end::decimal(38, 12) as class_cost_usd,
from balanced
