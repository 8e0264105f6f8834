-- OpenAI Usage API results for one day, in disjoint token classes.
-- OpenAI's input_tokens INCLUDES cached and cache-write tokens; uncached input is what is left.
-- Hourly buckets are summed to the day. A later delivery of the day supersedes an earlier one.
-- Pages carry whatever grouping they were pulled with: a dimension the page was not grouped by is
-- null, and becomes the cell value '__all__' (project, model) so it is a cell of its own, never
-- dropped. price_tier is what changes the price of a token: 'batch' (batch = true), the
-- service_tier ('flex', 'priority', 'scale'; 'default'/'auto' are 'standard'; 'fast' is billed as
-- 'priority'), or '__all__' when the page was grouped by neither batch nor service_tier.
with source as (
    select * from {{ source('bronze', 'openai_usage') }}
    where usage_date = {{ usage_date() }}
),

latest_delivery as (
    select * from source
    qualify folder_date = max(folder_date) over (partition by endpoint)
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
        'openai' as provider,
        coalesce(project_id, '__all__') as billing_account,
        coalesce(model, '__all__') as export_model,
        case
            when batch is null and service_tier is null then '__all__'
            when batch then 'batch'
            when service_tier is null or lower(service_tier) in ('default', 'auto', 'standard') then 'standard'
            when lower(service_tier) = 'fast' then 'priority'
            else lower(service_tier)
        end as price_tier,
        ---------- token classes
        input_tokens - coalesce(input_cached_tokens, 0) - coalesce(input_cache_write_tokens, 0) as uncached_input,
        coalesce(input_cached_tokens, 0) as cache_read,
        coalesce(input_cache_write_tokens, 0) as cache_write_5m,
        0::bigint as cache_write_1h,
        coalesce(output_tokens, 0) as output,
        num_model_requests as requests
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
        sum(requests)::bigint as requests,
        'invoice' as priced_by
    from renamed
    group by all
)

select * from final
