-- Every cell and token class the provider billed or the logs mention, with what prices it: billed
-- and logged tokens, and the class's list rate per token as a fraction rate_num / rate_den (in
-- picodollars). A cell that hides its model or tier ('__all__': a usage export not grouped by it)
-- takes the list cost of the cost lines' own billed tokens (OpenAI `quantity`) when they add up to
-- the cell's (`mix_known`); else a cell of a known model takes the catalog's rate times its tier's
-- percentage (tier_pct), at its modality's rate (an audio or image cell, 'standard+audio', takes
-- the catalog's audio or image rate), and a '__all__' model cell the average list rate of the
-- tokens the logs put in it. From these: the class's catalog cost (`catalog_pico`) and
-- its weight for sharing coarse cost lines: the catalog cost of the tokens the invoice prices
-- (`invoiced_weight`, leaving out usage only the catalog prices, e.g. Anthropic Priority Tier).
with int_provider_usage as (
    select * from {{ ref('int_provider_usage') }}
),

int_logged_classes as (
    select * from {{ ref('int_logged_classes') }}
),

int_provider_costs as (
    select * from {{ ref('int_provider_costs') }}
),

dim_price as (
    select * from {{ ref('dim_price') }}
),

billed as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class,
        sum(tokens)::bigint as billed_tokens,
        coalesce(sum(tokens) filter (where priced_by = 'catalog'), 0)::bigint as catalog_only_tokens
    from int_provider_usage
    unpivot (tokens for token_class in (uncached_input, cache_read, cache_write_5m, cache_write_1h, output))
    group by all
),

logged as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class,
        sum(tokens)::bigint as logged_tokens,
        coalesce(sum(weight), 0)::hugeint as logged_weight,
        bool_and(weight is not null) as logged_rated,
        count(distinct (rate_model, log_tier)) as logged_rates  -- noqa: LT01, LT06
    from int_logged_classes
    group by all
),

-- the cost lines' own billed tokens and models, per cell class: the list cost of what was billed
-- when the usage cell hides it (a '__all__' model or tier), if every line says its tokens
line_mix as (
    select
        int_provider_costs.usage_date,
        int_provider_costs.provider,
        int_provider_costs.billing_account,
        int_provider_costs.canonical_model,
        int_provider_costs.price_tier,
        int_provider_costs.token_class,
        sum(int_provider_costs.quantity_tokens)::hugeint as line_tokens,
        sum(
            int_provider_costs.quantity_tokens::hugeint * round(dim_price.rate_mtok * 1000000)::hugeint
            * {{ tier_pct(
                'int_provider_costs.provider', 'int_provider_costs.rate_tier', 'int_provider_costs.token_class'
            ) }}
            // 100
        ) as line_pico,
        bool_and(int_provider_costs.quantity_tokens is not null and dim_price.rate_mtok is not null) as line_priced,
        count(distinct (int_provider_costs.rate_model, int_provider_costs.rate_tier)) as line_rates  -- noqa: LT01, LT06
    from int_provider_costs
    left join dim_price
        on
            int_provider_costs.provider = dim_price.provider
            and int_provider_costs.rate_model = dim_price.canonical_model
            and int_provider_costs.token_class = dim_price.token_class
            and {{ price_modality('int_provider_costs.rate_tier') }} = dim_price.modality
    where int_provider_costs.line_kind = 'token'
    group by all
),

cell_classes as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class
    from billed
    union
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class
    from logged
),

rated as (
    select
        cell_classes.*,
        coalesce(billed.billed_tokens, 0) as billed_tokens,
        coalesce(billed.catalog_only_tokens, 0) as catalog_only_tokens,
        coalesce(logged.logged_tokens, 0) as logged_tokens,
        coalesce(logged.logged_weight, 0) as logged_weight,
        coalesce(logged.logged_rated, false) as logged_rated,
        coalesce(logged.logged_rates, 0) as logged_rates,
        (cell_classes.canonical_model = '__all__' or {{ base_tier('cell_classes.price_tier') }} = '__all__')
        and coalesce(line_mix.line_priced, false) and line_mix.line_tokens = billed.billed_tokens
        and billed.billed_tokens > 0 as mix_known,
        coalesce(line_mix.line_rates, 0) as line_rates,
        case
            when mix_known then line_mix.line_pico
            when dim_price.rate_mtok is not null
                then
                    round(dim_price.rate_mtok * 1000000)::hugeint
                    * {{ tier_pct('cell_classes.provider', 'cell_classes.price_tier', 'cell_classes.token_class') }}
            when cell_classes.canonical_model = '__all__' and logged.logged_rated and logged.logged_tokens > 0
                then logged.logged_weight
        end as rate_num,
        case
            when mix_known then line_mix.line_tokens
            when dim_price.rate_mtok is not null then 100::hugeint
            when cell_classes.canonical_model = '__all__' and logged.logged_rated and logged.logged_tokens > 0
                then logged.logged_tokens::hugeint
        end as rate_den
    from cell_classes
    left join billed using (usage_date, provider, billing_account, canonical_model, price_tier, token_class)
    left join logged using (usage_date, provider, billing_account, canonical_model, price_tier, token_class)
    left join line_mix using (usage_date, provider, billing_account, canonical_model, price_tier, token_class)
    left join dim_price
        on
            cell_classes.provider = dim_price.provider
            and cell_classes.canonical_model = dim_price.canonical_model
            and cell_classes.token_class = dim_price.token_class
            and {{ price_modality('cell_classes.price_tier') }} = dim_price.modality
),

final as (
    select
        *,
        rate_num is not null as catalog_priced,
        coalesce(billed_tokens * rate_num // rate_den, 0)::hugeint as catalog_pico,
        coalesce(catalog_only_tokens * rate_num // rate_den, 0)::hugeint as catalog_only_pico,
        coalesce((billed_tokens - catalog_only_tokens) * rate_num // rate_den, 0)::hugeint as invoiced_weight,
        billed_tokens - catalog_only_tokens as invoiced_tokens
    from rated
)

select * from final
