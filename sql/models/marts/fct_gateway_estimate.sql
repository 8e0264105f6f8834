-- The gateway's estimate against the bill: per reconciliation cell (the keys of
-- fct_spend_reconciliation) whose logs carry a gateway's own per-call cost (LiteLLM's
-- `response_cost`), what the gateway would have reported and what the invoice says, the
-- difference split in two parts that sum to it exactly:
--   invoice_cost_usd - gateway_cost_usd = quantity_gap_usd + price_gap_usd   (on every row)
-- seen_invoice_cost_usd: the invoice dollars of the calls the gateway priced. Each spender group
--   of the cell (user, a job type, a retry family: int_allocations) has its invoice dollars;
--   the gateway-priced calls of the group take them in proportion to their tokens
--   (group dollars x gateway tokens // group tokens, in picodollars; exact when a group's calls
--   all carry a gateway cost or none does).
-- quantity_gap_usd = invoice - seen: usage the gateway never saw (the unlogged class, retries
--   and other calls logged without a gateway cost, calls logged without usage).
-- price_gap_usd = seen - gateway: the gateway pricing the calls it saw differently from the bill.
-- A sibling of fct_spend_reconciliation, not columns on it: the existing marts stay as they are.
with int_calls as (
    select * from {{ ref('int_calls') }}
),

int_allocations as (
    select * from {{ ref('int_allocations') }}
),

int_cells as (
    select * from {{ ref('int_cells') }}
),

fct_spend_reconciliation as (
    select * from {{ ref('fct_spend_reconciliation') }}
),

gateway_groups as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        spend_class,
        coalesce(job_type, '') as job_type,
        sum(gateway_calls)::bigint as gateway_calls,
        coalesce(sum(gateway_tokens) filter (where usage_known), 0)::hugeint as gateway_tokens,
        sum(gateway_cost_usd) as gateway_cost_usd
    from int_calls
    group by all
),

gateway_cells as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier
    from gateway_groups
    group by all
    having sum(gateway_calls) > 0
),

spender_groups as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        spend_class,
        coalesce(job_type, '') as job_type,
        sum(tokens)::hugeint as tokens,
        sum(cost_pico)::hugeint as cost_pico
    from int_allocations
    where spend_class <> 'unlogged'
    group by all
),

seen as (
    select
        gateway_groups.usage_date,
        gateway_groups.provider,
        gateway_groups.billing_account,
        gateway_groups.canonical_model,
        gateway_groups.price_tier,
        gateway_groups.gateway_calls,
        gateway_groups.gateway_cost_usd,
        case
            when coalesce(spender_groups.tokens, 0) > 0
                then
                    spender_groups.cost_pico * least(gateway_groups.gateway_tokens, spender_groups.tokens)
                    // spender_groups.tokens
            else 0::hugeint
        end as seen_pico
    from gateway_groups
    inner join gateway_cells
        using (usage_date, provider, billing_account, canonical_model, price_tier)
    left join spender_groups
        using (usage_date, provider, billing_account, canonical_model, price_tier, spend_class, job_type)
),

cells as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        sum(gateway_calls)::bigint as gateway_calls,
        coalesce(sum(gateway_cost_usd), 0)::decimal(38, 12) as gateway_cost_usd,
        (sum(seen_pico)::decimal(38, 0) * 0.000000000001)::decimal(38, 12) as seen_invoice_cost_usd
    from seen
    group by all
),

final as (
    select
        recon.usage_date,
        recon.provider,
        recon.billing_account,
        recon.model,
        recon.price_tier,
        ---------- counts
        recon.logged_calls,
        cells.gateway_calls,
        ---------- money (DECIMAL(38, 12) dollars)
        cells.gateway_cost_usd,
        recon.invoice_cost_usd,
        (recon.invoice_cost_usd - cells.gateway_cost_usd)::decimal(38, 12) as difference_usd,
        cells.seen_invoice_cost_usd,
        (recon.invoice_cost_usd - cells.seen_invoice_cost_usd)::decimal(38, 12) as quantity_gap_usd,
        (cells.seen_invoice_cost_usd - cells.gateway_cost_usd)::decimal(38, 12) as price_gap_usd,
        ---------- ratios
        case
            when recon.invoice_cost_usd <> 0
                then round(cells.gateway_cost_usd / recon.invoice_cost_usd, 8)
        end::decimal(18, 8) as gateway_share_of_invoice,
        case
            when cells.seen_invoice_cost_usd <> 0
                then round(cells.gateway_cost_usd / cells.seen_invoice_cost_usd, 8)
        end::decimal(18, 8) as gateway_price_ratio,
        recon.status,
        recon.reconciled_at
    from cells
    inner join int_cells
        using (usage_date, provider, billing_account, canonical_model, price_tier)
    inner join fct_spend_reconciliation as recon
        on
            int_cells.usage_date = recon.usage_date
            and int_cells.provider = recon.provider
            and int_cells.billing_account = recon.billing_account
            and int_cells.model = recon.model
            and int_cells.price_tier = recon.price_tier
)

select * from final
order by all
