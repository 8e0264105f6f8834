-- The day's invoice as a FinOps FOCUS 1.3 cost and usage dataset, each line split into allocated
-- charges (FOCUS 1.3 "data generator-calculated split cost allocation"), one row per
-- (x_LineId, x_DarkClass, x_JobType).
-- An origin line is a token line, a cell's token class (usage_date, provider, billing_account,
-- model, price_tier, token_class) at the price the invoice placed on it (int_cell_classes; the
-- catalog estimate while provisional), or a non-token cost line (search, storage, credits, tax,
-- and unsplit totals that cover no billed usage). A token line is split over its spenders as
-- int_allocations splits it (user, each background job type, each retry family) and the
-- unallocated rest (`unlogged`); a non-token line is one row, not split. Every summable column
-- (BilledCost, EffectiveCost, ListCost, ContractedCost, ConsumedQuantity, PricingQuantity) of a
-- line's allocated rows sums exactly to the line: money in integer picodollars, quantities in
-- whole tokens, the remainders of floor division on the `unlogged` row.
with int_allocations as (
    select * from {{ ref('int_allocations') }}
),

int_cell_classes as (
    select * from {{ ref('int_cell_classes') }}
),

int_cells as (
    select * from {{ ref('int_cells') }}
),

int_provider_costs as (
    select * from {{ ref('int_provider_costs') }}
),

int_cost_shares as (
    select * from {{ ref('int_cost_shares') }}
),

int_source_status as (
    select * from {{ ref('int_source_status') }}
),

token_lines as (
    select
        int_cell_classes.usage_date,
        int_cell_classes.provider,
        int_cell_classes.billing_account,
        int_cell_classes.canonical_model,
        int_cell_classes.price_tier,
        int_cell_classes.token_class,
        int_cells.model,
        int_cell_classes.allocation_basis,
        int_cell_classes.use_weights,
        int_cell_classes.catalog_estimated,
        int_cell_classes.billed_tokens,
        int_cell_classes.logged_tokens,
        int_cell_classes.class_cost_pico as line_cost_pico,
        -- a class the catalog has no rate for lists at what was billed
        case
            when int_cell_classes.catalog_priced then int_cell_classes.catalog_pico
            else int_cell_classes.class_cost_pico
        end::hugeint as line_list_pico,
        {{ focus_line_id('int_cell_classes.usage_date', 'int_cell_classes.provider',
                         'int_cell_classes.billing_account',
                         ['int_cells.model', 'int_cell_classes.price_tier', 'int_cell_classes.token_class']) }}
            as line_id
    from int_cell_classes
    inner join int_cells
        using (usage_date, provider, billing_account, canonical_model, price_tier)
    where int_cell_classes.class_cost_pico <> 0 or int_cell_classes.billed_tokens > 0
),

-- each spender's tokens, scaled down like its dollars where the logs claim more than was billed
spenders as (
    select
        token_lines.line_id,
        int_allocations.spend_class as dark_class,
        int_allocations.job_type,
        int_allocations.cost_pico,
        case
            when token_lines.logged_tokens > token_lines.billed_tokens
                then int_allocations.tokens::hugeint * token_lines.billed_tokens // token_lines.logged_tokens
            else int_allocations.tokens
        end::bigint as quantity
    from int_allocations
    inner join token_lines
        using (usage_date, provider, billing_account, canonical_model, price_tier, token_class)
    where int_allocations.spend_class <> 'unlogged'
),

line_spent as (
    select
        line_id,
        sum(cost_pico) as spent_pico,
        sum(quantity) as spent_quantity
    from spenders
    group by all
),

-- the unallocated rest of each line: its dollars (int_allocations' unlogged row) and its tokens
unallocated as (
    select
        token_lines.line_id,
        'unlogged' as dark_class,
        '__unlogged__' as job_type,
        token_lines.line_cost_pico - coalesce(line_spent.spent_pico, 0) as cost_pico,
        (token_lines.billed_tokens - coalesce(line_spent.spent_quantity, 0))::bigint as quantity
    from token_lines
    left join line_spent using (line_id)
),

allocated as (
    select * from spenders
    union all
    select * from unallocated
),

-- each row's share of its line (in 1e-12, so exact integers): by dollars, or by tokens on a $0 line
shared as (
    select
        allocated.*,
        token_lines.line_cost_pico,
        token_lines.line_list_pico,
        case
            when token_lines.line_cost_pico <> 0
                then allocated.cost_pico * 1000000000000 // token_lines.line_cost_pico
            when token_lines.billed_tokens > 0
                then allocated.quantity::hugeint * 1000000000000 // token_lines.billed_tokens
            else 0::hugeint
        end as ratio_pico,
        -- the list cost shared like the dollars (through the ratio only where the product could
        -- pass HUGEINT: a line over $10M)
        case
            when
                token_lines.line_cost_pico <> 0 and abs(token_lines.line_list_pico) < 10000000000000000000
                and abs(token_lines.line_cost_pico) < 10000000000000000000
                then token_lines.line_list_pico * allocated.cost_pico // token_lines.line_cost_pico
            when token_lines.line_cost_pico <> 0
                then
                    token_lines.line_list_pico * (allocated.cost_pico * 1000000000000 // token_lines.line_cost_pico)
                    // 1000000000000
            when token_lines.billed_tokens > 0
                then token_lines.line_list_pico * allocated.quantity // token_lines.billed_tokens
            else 0::hugeint
        end as list_share_pico
    from allocated
    inner join token_lines using (line_id)
),

token_rows as (
    select
        token_lines.*,
        shared.dark_class,
        shared.job_type,
        shared.cost_pico,
        shared.quantity,
        -- the remainders of floor division go to the unallocated row, so the rows sum to the line
        case
            when shared.dark_class = 'unlogged'
                then 1000000000000 - coalesce(sum(shared.ratio_pico) filter (where shared.dark_class <> 'unlogged')
                    over (partition by shared.line_id), 0)
            else shared.ratio_pico
        end as ratio_pico,
        case
            when shared.dark_class = 'unlogged'
                then shared.line_list_pico - coalesce(
                    sum(shared.list_share_pico)
                    filter (where shared.dark_class <> 'unlogged') over (partition by shared.line_id), 0
                )
            else shared.list_share_pico
        end as list_pico
    from shared
    inner join token_lines using (line_id)
),

token_charges as (
    select
        usage_date,
        provider,
        billing_account,
        line_id,
        'Usage' as charge_category,
        concat(model, ' ', replace(token_class, '_', ' '), ' tokens, ', price_tier, ' tier') as charge_description,
        model,
        price_tier,
        token_class,
        allocation_basis,
        catalog_estimated,
        dark_class,
        job_type,
        cost_pico,
        list_pico,
        quantity,
        ratio_pico,
        case when use_weights then 'darkcompute/list-price-weights' else 'darkcompute/logged-tokens' end
            as allocated_method_id
    from token_rows
    -- a spender with nothing of the line (no dollars, tokens or list) is not a charge
    where cost_pico <> 0 or quantity <> 0 or list_pico <> 0 or ratio_pico <> 0
),

non_token_lines as (
    select
        usage_date,
        provider,
        billing_account,
        line_item,
        {{ focus_non_token_category('line_item', 'cost_usd') }} as charge_category,
        cost_usd
    from int_provider_costs
    where line_kind = 'non_token'
),

non_token_charges as (
    select
        usage_date,
        provider,
        billing_account,
        {{ focus_line_id('usage_date', 'provider', 'billing_account',
                         ["'non_token'", "coalesce(line_item, '')", 'charge_category']) }} as line_id,
        charge_category,
        coalesce(line_item, 'non-token charge') as charge_description,
        sum(cost_usd) as cost_usd
    from non_token_lines
    group by all
    union all
    -- an unsplit token total that covers no billed usage (as in fct_spend_reconciliation's non-token row)
    select
        usage_date,
        provider,
        billing_account,
        {{ focus_line_id('usage_date', 'provider', 'billing_account', ["'unsplit'", 'line_id']) }} as line_id,
        {{ focus_non_token_category('null', 'cost_pico') }} as charge_category,
        'token charge without a token class, covering no billed usage' as charge_description,
        cost_pico::decimal(38, 0) * 0.000000000001 as cost_usd
    from int_cost_shares
    where not placed
),

charges as (
    select
        usage_date,
        provider,
        billing_account,
        line_id,
        charge_category,
        charge_description,
        model,
        price_tier,
        token_class,
        allocation_basis,
        catalog_estimated,
        dark_class,
        job_type,
        (cost_pico::decimal(38, 0) * 0.000000000001)::decimal(38, 12) as cost_usd,
        (list_pico::decimal(38, 0) * 0.000000000001)::decimal(38, 12) as list_usd,
        quantity,
        (ratio_pico::decimal(38, 0) * 0.000000000001)::decimal(13, 12) as allocated_ratio,
        allocated_method_id
    from token_charges
    union all
    select
        usage_date,
        provider,
        billing_account,
        line_id,
        charge_category,
        charge_description,
        null as model,
        null as price_tier,
        null as token_class,
        'cost_line' as allocation_basis,
        false as catalog_estimated,
        'non_token' as dark_class,
        null as job_type,
        cost_usd::decimal(38, 12) as cost_usd,
        cost_usd::decimal(38, 12) as list_usd,
        null as quantity,
        null as allocated_ratio,
        null as allocated_method_id
    from non_token_charges
),

charged as (
    select
        charges.*,
        case
            when not coalesce(int_source_status.settled, false) then 'provisional'
            when charges.catalog_estimated then 'estimated'
            else 'final'
        end as status,
        timezone('UTC', charges.usage_date::timestamp) as period_start
    from charges
    left join int_source_status using (usage_date, provider)
),

final as (
    select
        ---------- FOCUS 1.3 cost metrics (USD, exact DECIMAL(38, 12))
        charges.cost_usd as "BilledCost",
        charges.cost_usd as "EffectiveCost",
        charges.list_usd as "ListCost",
        charges.cost_usd as "ContractedCost",
        'USD' as "BillingCurrency",
        ---------- the charge
        charges.charge_category as "ChargeCategory",
        null::varchar as "ChargeClass",
        charges.charge_description as "ChargeDescription",
        case when charges.charge_category = 'Usage' then 'Usage-Based' else 'One-Time' end as "ChargeFrequency",
        charges.period_start as "ChargePeriodStart",
        charges.period_start + interval 1 day as "ChargePeriodEnd",
        timezone('UTC', date_trunc('month', charges.usage_date)::timestamp) as "BillingPeriodStart",
        timezone('UTC', date_trunc('month', charges.usage_date)::timestamp + interval 1 month) as "BillingPeriodEnd",
        ---------- quantities (tokens; null for what is not tokens)
        case when charges.quantity is not null then charges.quantity::decimal(38, 0) end as "ConsumedQuantity",
        case when charges.quantity is not null then 'Tokens' end as "ConsumedUnit",
        (charges.quantity::decimal(38, 0) / 1000000)::decimal(38, 6) as "PricingQuantity",
        case when charges.quantity is not null then '1000000 Tokens' end as "PricingUnit",
        ---------- who served and billed it
        case charges.provider
            when 'openai' then 'OpenAI API'
            when 'anthropic' then 'Claude API'
            when 'aws.bedrock' then 'Amazon Bedrock'
            else charges.provider
        end as "ServiceName",
        'AI and Machine Learning' as "ServiceCategory",
        'Generative AI' as "ServiceSubcategory",
        case charges.provider
            when 'openai' then 'OpenAI'
            when 'anthropic' then 'Anthropic'
            when 'aws.bedrock' then 'Amazon Web Services'
            else charges.provider
        end as "ServiceProviderName",
        case charges.provider
            when 'openai' then 'OpenAI'
            when 'anthropic' then 'Anthropic'
            when 'aws.bedrock' then 'Amazon Web Services'
            else charges.provider
        end as "InvoiceIssuerName",
        -- an organization-level line (`__all__`) is not a sub account's
        nullif(charges.billing_account, '__all__') as "SubAccountId",
        ---------- what was bought (token lines)
        case when charges.token_class is not null then concat(charges.model, '/', charges.token_class) end as "SkuId",
        case
            when charges.token_class is not null
                then concat(charges.model, '/', charges.token_class, '/', charges.price_tier)
        end as "SkuPriceId",
        case
            when charges.token_class is not null
                then json_object(
                    'x_Model', charges.model, 'x_TokenClass', charges.token_class,
                    'x_PriceTier', charges.price_tier
                )::varchar
        end as "SkuPriceDetails",
        json_object(
            'darkcompute/status', charges.status, 'darkcompute/allocation_basis', charges.allocation_basis
        )::varchar as "Tags",
        ---------- the split of the line (FOCUS 1.3 allocated charges; null on a line not split)
        charges.allocated_method_id as "AllocatedMethodId",
        case
            when charges.allocated_method_id is not null
                then json_object('Elements', [json_object(
                    'AllocatedRatio', charges.allocated_ratio, 'UsageUnit', 'Tokens', 'UsageQuantity', charges.quantity
                )])::varchar
        end as "AllocatedMethodDetails",
        -- the unallocated rest of a line (`unlogged`) is allocated to no one
        case
            when charges.allocated_method_id is not null and charges.dark_class <> 'unlogged'
                then concat_ws('/', charges.dark_class, charges.job_type)
        end as "AllocatedResourceId",
        case
            when charges.allocated_method_id is not null and charges.dark_class <> 'unlogged'
                then concat_ws('/', charges.dark_class, charges.job_type)
        end as "AllocatedResourceName",
        case
            when charges.allocated_method_id is not null
                then case
                    when charges.job_type is null then json_object('dark_class', charges.dark_class)
                    else json_object('dark_class', charges.dark_class, 'job_type', charges.job_type)
                end::varchar
        end as "AllocatedTags",
        ---------- darkcompute's own columns (FOCUS custom columns: the x_ prefix)
        charges.line_id as "x_LineId",
        charges.dark_class as "x_DarkClass",
        charges.job_type as "x_JobType",
        charges.model as "x_Model",
        charges.price_tier as "x_PriceTier",
        charges.token_class as "x_TokenClass",
        charges.allocation_basis as "x_AllocationBasis",
        charges.status as "x_Status",
        charges.usage_date as "x_UsageDate",
        charges.provider as "x_Provider",
        charges.billing_account as "x_BillingAccount"
    from charged as charges
)

select * from final
order by "x_UsageDate", "x_Provider", "x_LineId", "x_DarkClass", "x_JobType"
