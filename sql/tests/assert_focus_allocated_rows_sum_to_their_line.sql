{#- FOCUS 1.3 split cost allocation: the allocated rows of each invoice line sum exactly to the line
    in every summable column, and agree on its dimensions. A token line is int_cell_classes' class
    cost and billed tokens; a non-token line is the provider's non-token cost lines (and unsplit
    totals that cover no billed usage) of its line id. Returns the lines that break it: dollars or
    tokens that do not add up (a line missing from either side counts as $0 and 0 tokens on it),
    PricingQuantity that is not the tokens in millions, AllocatedRatio that does not sum to 1 on a
    split line, or a dimension (category, SKU price, tags, account) that differs within a line. -#}
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'focus_costs'}}}) }}

with token_lines as (
    select
        {{ focus_line_id('classes.usage_date', 'classes.provider', 'classes.billing_account',
                         ['cells.model', 'classes.price_tier', 'classes.token_class']) }} as line_id,
        classes.class_cost_pico::decimal(38, 0) * 0.000000000001 as cost_usd,
        classes.billed_tokens::decimal(38, 0) as tokens
    from {{ ref('int_cell_classes') }} as classes
    inner join {{ ref('int_cells') }} as cells
        using (usage_date, provider, billing_account, canonical_model, price_tier)
),

non_token_lines as (
    select
        {{ focus_line_id('usage_date', 'provider', 'billing_account',
                         ["'non_token'", "coalesce(line_item, '')",
                          focus_non_token_category('line_item', 'cost_usd')]) }} as line_id,
        cost_usd,
        null::decimal(38, 0) as tokens
    from {{ ref('int_provider_costs') }}
    where line_kind = 'non_token'
    union all
    select
        {{ focus_line_id('usage_date', 'provider', 'billing_account', ["'unsplit'", 'line_id']) }} as line_id,
        cost_pico::decimal(38, 0) * 0.000000000001 as cost_usd,
        null::decimal(38, 0) as tokens
    from {{ ref('int_cost_shares') }}
    where not placed
),

lines as (
    select
        line_id,
        sum(cost_usd) as cost_usd,
        sum(tokens) as tokens
    from (
        select * from token_lines
        union all
        select * from non_token_lines
    ) as all_lines
    group by all
),

allocated as (
    select
        "x_LineId" as line_id,
        sum("BilledCost") as cost_usd,
        sum("EffectiveCost") as effective_cost_usd,
        sum("ContractedCost") as contracted_cost_usd,
        sum("ConsumedQuantity") as tokens,
        sum("PricingQuantity") as pricing_quantity,
        sum(("AllocatedMethodDetails"::json -> '$.Elements[0].AllocatedRatio')::varchar::decimal(13, 12)) as ratio,
        count("AllocatedMethodId") as split_rows,
        count(distinct ("ChargeCategory", "SkuPriceId", "Tags", "SubAccountId"))  -- noqa: LT01, LT06
            as dimension_values
    from {{ ref('focus_costs') }}
    group by all
),

compared as (
    select
        coalesce(lines.line_id, allocated.line_id) as line_id,
        coalesce(lines.cost_usd, 0) as line_cost_usd,
        coalesce(allocated.cost_usd, 0) as allocated_cost_usd,
        coalesce(lines.tokens, 0) as line_tokens,
        coalesce(allocated.tokens, 0) as allocated_tokens,
        allocated.effective_cost_usd,
        allocated.contracted_cost_usd,
        allocated.pricing_quantity,
        allocated.ratio,
        allocated.split_rows,
        allocated.dimension_values
    from lines
    full outer join allocated on lines.line_id = allocated.line_id
)

select * from compared
where
    line_cost_usd <> allocated_cost_usd
    or line_tokens <> allocated_tokens
    or effective_cost_usd <> allocated_cost_usd
    or contracted_cost_usd <> allocated_cost_usd
    or coalesce(pricing_quantity, 0) * 1000000 <> allocated_tokens
    or (split_rows > 0 and ratio <> 1)
    or dimension_values > 1
