-- Anthropic cost_report lines for one day, dollars as DECIMAL (the parser already divided the
-- cents by 100). token_type names the token class; a token cost without a usable class split
-- (no token_type, or a report not grouped by description) is 'unsplit', shared out by catalog
-- weights later; web search, code execution and session usage are non-token. Priority Tier
-- costs are never here (see stg_anthropic_usage). A later delivery of the day supersedes.
-- price_tier comes from the line's own service_tier, context_window, inference_geo and speed
-- (staging/anthropic_price_tier, as in stg_anthropic_usage; '__all__' for a non-token line).
with source as (
    select * from {{ source('bronze', 'anthropic_costs') }}
    where usage_date = {{ usage_date() }}
),

latest_delivery as (
    select * from source
    qualify folder_date = max(folder_date) over ()
),

-- a page delivered twice under two names (same content hash) counts once
distinct_pages as (
    select * from latest_delivery
    qualify source_file = min(source_file) over (partition by file_sha256)
),

classified as (
    select
        *,
        case token_type
            when 'uncached_input_tokens' then 'uncached_input'
            when 'cache_read_input_tokens' then 'cache_read'
            when 'cache_creation.ephemeral_5m_input_tokens' then 'cache_write_5m'
            when 'cache_creation.ephemeral_1h_input_tokens' then 'cache_write_1h'
            when 'output_tokens' then 'output'
        end as token_class
    from distinct_pages
),

kinded as (
    select
        *,
        case
            when cost_type = 'tokens' and token_class is not null and model is not null then 'token'
            when cost_type = 'tokens' then 'unsplit'
            when cost_type is null and description is null then 'unsplit'
            else 'non_token'
        end as line_kind
    from classified
),

final as (
    select
        usage_date,
        'anthropic' as provider,
        coalesce(workspace_id, 'default') as billing_account,
        case when line_kind <> 'non_token' then model end as model,
        case when line_kind <> 'non_token' then token_class end as token_class,
        case
            when line_kind = 'non_token' then '__all__'
            else {{ anthropic_price_tier('service_tier', 'context_window', 'inference_geo', 'speed') }}
        end as price_tier,
        amount_usd as cost_usd,
        description as line_item,
        line_kind
    from kinded
)

select * from final
