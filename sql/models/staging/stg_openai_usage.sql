-- OpenAI Usage API results for one day, in disjoint token classes.
-- OpenAI's input_tokens INCLUDES cached and cache-write tokens; uncached input is what is left.
-- Hourly buckets are summed to the day. A later delivery of the day supersedes an earlier one.
-- Pages carry whatever grouping they were pulled with: a dimension the page was not grouped by is
-- null, and becomes the cell value '__all__' (project, model) so it is a cell of its own, never
-- dropped. price_tier is what changes the price of a token: 'batch' (batch = true), the
-- service_tier ('flex', 'priority', 'scale'; 'default'/'auto' are 'standard'; 'fast' is billed as
-- 'priority'), or '__all__' when the page was grouped by neither batch nor service_tier.
-- The audio and image tokens a page carries (input_audio_tokens: uncached audio input,
-- input_cached_audio_tokens, output_audio_tokens; the same for image) are parts of input_tokens,
-- input_cached_tokens and output_tokens, priced at the model's audio and image rates: they are cells
-- of their own, the tier with a modality suffix ('standard+audio', '__all__+image'), as the cost
-- lines name them ('<model> audio, input'). The text cell keeps the totals minus those parts (and
-- all of the requests and cache writes). An absent field is 0 (pages older than it); a modality
-- cell exists only where it has tokens, so pages without any are read as before.
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
        input_tokens - coalesce(input_cached_tokens, 0) - coalesce(input_cache_write_tokens, 0)
        - coalesce(input_audio_tokens, 0) - coalesce(input_image_tokens, 0) as uncached_input,
        coalesce(input_cached_tokens, 0) - coalesce(input_cached_audio_tokens, 0)
        - coalesce(input_cached_image_tokens, 0) as cache_read,
        coalesce(input_cache_write_tokens, 0) as cache_write_5m,
        0::bigint as cache_write_1h,
        coalesce(output_tokens, 0) - coalesce(output_audio_tokens, 0) - coalesce(output_image_tokens, 0) as output,
        num_model_requests as requests,
        ---------- the audio and image parts (cells of their own)
        coalesce(input_audio_tokens, 0) as audio_uncached_input,
        coalesce(input_cached_audio_tokens, 0) as audio_cache_read,
        coalesce(output_audio_tokens, 0) as audio_output,
        coalesce(input_image_tokens, 0) as image_uncached_input,
        coalesce(input_cached_image_tokens, 0) as image_cache_read,
        coalesce(output_image_tokens, 0) as image_output
    from distinct_pages
),

modalities as (
    select
        usage_date,
        provider,
        billing_account,
        export_model,
        price_tier,
        uncached_input,
        cache_read,
        cache_write_5m,
        cache_write_1h,
        output,
        requests
    from renamed
    union all
    select
        usage_date,
        provider,
        billing_account,
        export_model,
        price_tier || '+audio' as price_tier,
        audio_uncached_input as uncached_input,
        audio_cache_read as cache_read,
        0::bigint as cache_write_5m,
        0::bigint as cache_write_1h,
        audio_output as output,
        0::bigint as requests
    from renamed
    where audio_uncached_input + audio_cache_read + audio_output > 0
    union all
    select
        usage_date,
        provider,
        billing_account,
        export_model,
        price_tier || '+image' as price_tier,
        image_uncached_input as uncached_input,
        image_cache_read as cache_read,
        0::bigint as cache_write_5m,
        0::bigint as cache_write_1h,
        image_output as output,
        0::bigint as requests
    from renamed
    where image_uncached_input + image_cache_read + image_output > 0
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
    from modalities
    group by all
)

select * from final
