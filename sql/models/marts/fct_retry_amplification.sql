-- Retry amplification: how many requests went on the wire per call the logs recorded, and what
-- the requests no log saw cost. One row per (usage_date, provider, billing_account, model): the
-- token rows of fct_spend_reconciliation summed over their price tiers (no '__non_token__' row).
--   provider_requests  the requests the provider counted (OpenAI num_model_requests, Bedrock
--                      invocation-log records); NULL where the provider counts none (Anthropic's
--                      usage report) or its usage export of the day has no rows, never 0
--   logged_calls       the calls the logs recorded (app and worker logs; on Bedrock also the
--                      invocation records that request metadata attributes), usage-unknown included
--   logged_retries     of them, attempt >= 2 (spend_class 'retry'); logged_first_attempts the rest
--   metadata_calls     of them, Bedrock invocation records attributed by their requestMetadata alone
--                      (no app or worker log line recorded them)
--   unseen_requests    provider_requests - logged_calls: requests no log saw (SDK-internal
--                      retries, fallbacks, a service that logs nothing, a line no parser could read)
--   amplification_ratio = provider_requests / logged_calls: 1.0 = every request on the wire was
--                      logged once; 3.0 = two hidden requests behind each logged one. NULL where no
--                      app or worker log recorded a call of the cell (a service that logs nothing,
--                      tagged or not: its requests are unseen, but not amplified by retries)
--   requests_per_first_attempt_ratio = provider_requests / logged_first_attempts: requests on the
--                      wire per call the application made (its own logged retries included)
--   unseen_cost_usd    the cell's unlogged invoice dollars (unlogged_cost_usd: billed usage no
--                      logged call accounts for) minus an estimate of the usage of the calls logged
--                      without usage (usage_unknown_calls x the cell's logged dollars per call with
--                      usage, in whole picodollars, never more than the unlogged dollars). Exact where
--                      no call was logged without usage; NULL where every logged call lacks usage.
with fct_spend_reconciliation as (
    select * from {{ ref('fct_spend_reconciliation') }}
),

int_calls as (
    select * from {{ ref('int_calls') }}
),

int_cells as (
    select * from {{ ref('int_cells') }}
),

stg_bedrock_calls as (
    select * from {{ ref('stg_bedrock_calls') }}
),

int_provider_usage as (
    select * from {{ ref('int_provider_usage') }}
),

-- the providers whose usage export of the day has rows: without one, nobody counted requests
counted as (
    select distinct provider
    from int_provider_usage
),

-- Bedrock invocations only their request metadata attributes (Bedrock cells are never rolled up:
-- its invocation logs name the account and model of every request)
metadata as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        sum(request_count)::bigint as metadata_calls
    from stg_bedrock_calls
    group by all
),

-- the logged retries of each reconciliation cell, keyed by the model name the reconciliation shows
retries as (
    select
        int_cells.usage_date,
        int_cells.provider,
        int_cells.billing_account,
        int_cells.model,
        int_cells.price_tier,
        sum(int_calls.calls)::bigint as logged_retries
    from int_calls
    inner join int_cells
        using (usage_date, provider, billing_account, canonical_model, price_tier)
    where int_calls.spend_class = 'retry'
    group by all
),

cells as (
    select
        recon.usage_date,
        recon.provider,
        recon.billing_account,
        recon.model,
        -- a provider that counts no requests counts none in any tier of the cell
        case
            when bool_or(recon.provider_requests is null) or bool_or(counted.provider is null) then null
            else sum(recon.provider_requests)
        end::bigint as provider_requests,
        sum(recon.logged_calls)::bigint as logged_calls,
        coalesce(sum(retries.logged_retries), 0)::bigint as logged_retries,
        sum(recon.usage_unknown_calls)::bigint as usage_unknown_calls,
        sum(recon.invoice_cost_usd)::decimal(38, 12) as invoice_cost_usd,
        sum(recon.retry_cost_usd)::decimal(38, 12) as retry_cost_usd,
        sum(recon.unlogged_cost_usd)::decimal(38, 12) as unlogged_cost_usd,
        (sum(recon.unlogged_cost_usd) * 1000000000000)::hugeint as unlogged_pico,
        (sum(recon.user_cost_usd + recon.background_cost_usd + recon.retry_cost_usd) * 1000000000000)::hugeint
            as logged_pico,
        case
            when bool_or(recon.status = 'provisional') then 'provisional'
            when bool_or(recon.status = 'estimated') then 'estimated'
            else 'final'
        end as status,
        max(recon.reconciled_at) as reconciled_at
    from fct_spend_reconciliation as recon
    left join retries
        using (usage_date, provider, billing_account, model, price_tier)
    left join counted on recon.provider = counted.provider
    where recon.model <> '__non_token__'
    group by recon.usage_date, recon.provider, recon.billing_account, recon.model
),

estimated as (
    select
        cells.*,
        coalesce(metadata.metadata_calls, 0) as metadata_calls,
        cells.logged_calls - cells.logged_retries as logged_first_attempts,
        case
            when cells.usage_unknown_calls = 0 then 0::hugeint
            when cells.logged_calls > cells.usage_unknown_calls
                then cells.logged_pico * cells.usage_unknown_calls // (cells.logged_calls - cells.usage_unknown_calls)
        end as usage_unknown_pico
    from cells
    left join metadata using (usage_date, provider, billing_account, model)
),

unseen as (
    select
        *,
        case
            when usage_unknown_pico is null then null
            when usage_unknown_pico >= unlogged_pico then 0::hugeint
            else unlogged_pico - usage_unknown_pico
        end as unseen_pico
    from estimated
),

final as (
    select
        usage_date,
        provider,
        billing_account,
        model,
        ---------- counts
        provider_requests,
        logged_calls,
        logged_first_attempts,
        logged_retries,
        metadata_calls,
        usage_unknown_calls,
        (provider_requests - logged_calls)::bigint as unseen_requests,
        ---------- ratios
        case
            when logged_calls > metadata_calls then round(provider_requests / logged_calls, 6)
        end::decimal(18, 6) as amplification_ratio,
        case
            when logged_calls > metadata_calls and logged_first_attempts > 0
                then round(provider_requests / logged_first_attempts, 6)
        end::decimal(18, 6) as requests_per_first_attempt_ratio,
        ---------- money (DECIMAL(38, 12) dollars)
        invoice_cost_usd,
        retry_cost_usd,
        unlogged_cost_usd,
        (unseen_pico::decimal(38, 0) * 0.000000000001)::decimal(38, 12) as unseen_cost_usd,
        case
            when invoice_cost_usd <> 0
                then round((unseen_pico::decimal(38, 0) * 0.000000000001)::decimal(38, 12) / invoice_cost_usd, 6)
        end::decimal(18, 6) as unseen_cost_share,
        status,
        reconciled_at
    from unseen
)

select * from final
order by all
