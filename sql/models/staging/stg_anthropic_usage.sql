-- Anthropic usage_report results for one day, in disjoint token classes.
-- Anthropic's uncached_input_tokens EXCLUDES cache reads and writes (unlike OpenAI's input_tokens),
-- so each class is a reported field as is. Hourly buckets are summed to the day; a later delivery
-- of the day supersedes an earlier one. The report counts no requests. Priority Tier costs are
-- never in cost_report, so that usage is priced from the catalog ('catalog'), the rest by the
-- invoice ('invoice'). workspace_id null is the default workspace; a null model (a report not
-- grouped by model) is the cell '__all__'. price_tier joins what changes a token's price:
-- service_tier ('standard', 'batch', 'priority' for priority and priority_on_demand, 'flex',
-- 'flex_discount'), '+long_context' (context_window '200k-1M'), '+geo_us' (inference_geo 'us')
-- and '+fast' (speed 'fast'); '__all__' when the report was grouped by none of them.
-- web_search_requests (server_tool_use) are counted per cell; their cost is the cost report's
-- 'Web Search Usage' line, a non-token row of the workspace.
with source as (
    select * from {{ source('bronze', 'anthropic_usage') }}
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

renamed as (
    select
        ---------- cell
        usage_date,
        'anthropic' as provider,
        coalesce(workspace_id, 'default') as billing_account,
        coalesce(model, '__all__') as export_model,
        {{ anthropic_price_tier('service_tier', 'context_window', 'inference_geo', 'speed') }} as price_tier,
        ---------- token classes
        uncached_input_tokens as uncached_input,
        cache_read_input_tokens as cache_read,
        cache_creation_5m_input_tokens as cache_write_5m,
        cache_creation_1h_input_tokens as cache_write_1h,
        output_tokens as output,
        coalesce(web_search_requests, 0) as web_search_requests,
        ---------- who prices it
        case
            when service_tier in ('priority', 'priority_on_demand') then 'catalog'
            else 'invoice'
        end as priced_by
    from distinct_pages
),

final as (
    select
        usage_date,
        provider,
        billing_account,
        export_model as model,
        price_tier,
        sum(uncached_input)::bigint as uncached_input,
        sum(cache_read)::bigint as cache_read,
        sum(cache_write_5m)::bigint as cache_write_5m,
        sum(cache_write_1h)::bigint as cache_write_1h,
        sum(output)::bigint as output,
        null::bigint as requests,
        sum(web_search_requests)::bigint as web_search_requests,
        priced_by
    from renamed
    group by usage_date, provider, billing_account, export_model, price_tier, priced_by
)

select * from final
