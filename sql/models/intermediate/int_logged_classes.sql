-- Logged tokens per cell, token class and spender (user, a job type, or a retry), for calls whose
-- usage is known, per logged model and tier. The log's one cache-write count is shared over the
-- cell's billed 5-minute and 1-hour write classes in proportion (all 5-minute when the provider
-- billed neither). `weight` is the tokens' catalog cost in picodollars (list rate x the tier's
-- percentage, tier_pct), NULL when the catalog lacks the logged model: it weighs calls of several
-- models or tiers that share one cell (a usage export not grouped by model or tier).
-- Modalities: the logs do not say which of a call's tokens were audio or image, so where the
-- provider billed audio or image tokens of the call's cell and class ('standard+audio' beside
-- 'standard'), the logged tokens are shared over those cells in proportion to the billed tokens of
-- each (floor division; the remainder stays text), and weighed at each modality's rate. Every
-- logged call of the class thus takes the same mix as the bill (rule documented in the README).
with int_calls as (
    select * from {{ ref('int_calls') }}
),

int_provider_usage as (
    select * from {{ ref('int_provider_usage') }}
),

dim_price as (
    select * from {{ ref('dim_price') }}
),

known_calls as (
    select * from int_calls
    where usage_known
),

long_form as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        rate_model,
        log_tier,
        spend_class,
        job_type,
        token_class,
        sum(tokens)::bigint as tokens
    from known_calls
    unpivot (tokens for token_class in (uncached_input, cache_read, cache_write, output))
    group by all
),

billed_writes as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        sum(cache_write_5m)::bigint as billed_5m,
        sum(cache_write_1h)::bigint as billed_1h
    from int_provider_usage
    group by all
),

writes as (
    select
        long_form.*,
        case
            when coalesce(billed_writes.billed_5m + billed_writes.billed_1h, 0) = 0 then long_form.tokens
            else (
                long_form.tokens::hugeint * billed_writes.billed_5m
                // (billed_writes.billed_5m + billed_writes.billed_1h)
            )::bigint
        end as tokens_5m
    from long_form
    left join billed_writes
        using (usage_date, provider, billing_account, canonical_model, price_tier)
    where long_form.token_class = 'cache_write'
),

by_class as (
    select * from long_form
    where token_class <> 'cache_write'
    union all
    select * exclude (tokens_5m) replace ('cache_write_5m' as token_class, tokens_5m as tokens) from writes
    union all
    select * exclude (tokens_5m) replace ('cache_write_1h' as token_class, tokens - tokens_5m as tokens) from writes
),

-- the billed tokens of each base tier's cell class, and of its audio and image cells
billed_modalities as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        {{ base_tier('price_tier') }} as price_tier,
        token_class,
        sum(tokens)::hugeint as billed,
        coalesce(sum(tokens) filter (where {{ price_modality('price_tier') }} = 'audio'), 0)::hugeint as billed_audio,
        coalesce(sum(tokens) filter (where {{ price_modality('price_tier') }} = 'image'), 0)::hugeint as billed_image
    from int_provider_usage
    unpivot (tokens for token_class in (uncached_input, cache_read, cache_write_5m, cache_write_1h, output))
    group by all
    having billed_audio + billed_image > 0
),

split as (
    select
        by_class.*,
        (by_class.tokens::hugeint * billed_modalities.billed_audio // billed_modalities.billed)::bigint as audio,
        (by_class.tokens::hugeint * billed_modalities.billed_image // billed_modalities.billed)::bigint as image
    from by_class
    inner join billed_modalities
        using (usage_date, provider, billing_account, canonical_model, price_tier, token_class)
),

classes as (
    select by_class.* from by_class
    anti join billed_modalities
        using (usage_date, provider, billing_account, canonical_model, price_tier, token_class)
    union all
    select * exclude (audio, image) replace (tokens - audio - image as tokens) from split
    union all
    select * exclude (audio, image) replace (price_tier || '+audio' as price_tier, audio as tokens) from split
    where audio > 0
    union all
    select * exclude (audio, image) replace (price_tier || '+image' as price_tier, image as tokens) from split
    where image > 0
),

final as (
    select
        classes.*,
        classes.tokens::hugeint * round(dim_price.rate_mtok * 1000000)::hugeint
        * {{ tier_pct('classes.provider', 'classes.log_tier', 'classes.token_class') }} // 100 as weight
    from classes
    left join dim_price
        on
            classes.provider = dim_price.provider
            and classes.rate_model = dim_price.canonical_model
            and classes.token_class = dim_price.token_class
            and {{ price_modality('classes.price_tier') }} = dim_price.modality
)

select * from final
