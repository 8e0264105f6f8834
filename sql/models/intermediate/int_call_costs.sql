-- Every logged call's dollars: one row per logged call record after de-duplication (the app and
-- worker logs' `stg_model_calls`, Bedrock's own attributed invocations), with who made it
-- (feature, request, user, tenant, job) and two prices:
--   * list_cost_usd: its tokens at the catalog's list price of its own model and tier (NULL when
--     the catalog lacks a price of a class it used);
--   * cost_usd: its share of the INVOICE. int_allocations gives each (cell, spend_class,
--     job_type) group its dollars per token class; each class's dollars are shared over the
--     group's calls by their tokens of the class (by their tokens at list price where the cell
--     weighs calls of several models or tiers, int_cell_classes.use_weights), in integer
--     picodollars with floor division, and the group's remainder (under a picodollar per call)
--     goes to its heaviest call (most tokens, then the largest call_key). A group's calls sum
--     EXACTLY to its allocation: the user calls of a cell to fct_spend_reconciliation.user_cost_usd,
--     the background or retry calls of a (cell, job_type) to fct_dark_compute.cost_usd.
-- The cell is the one int_calls puts the call in, read from it: per (cell account, logged model,
-- log tier) the cell and tier int_calls chose; the account is rolled up to '__all__' as int_calls
-- does where the usage export is not grouped by account (int_grain). The model is named as
-- fct_spend_reconciliation names it (int_cells.model). An audio or image cell's share of a call
-- ('standard+audio') is folded into the call's base cell, and the 5-minute and 1-hour cache
-- writes into one class: every call of a class takes the bill's mix (as int_logged_classes says).
-- Set-based, two scans of the calls: the weights are linear in the tokens, so a group's total
-- weight comes from int_calls' sums; the first scan sums each group's floor shares and finds its
-- heaviest call, the second writes the rows. Per-call arithmetic is BIGINT (macros/call_costs.sql).
with calls as (
    {{ union_providers('calls', also=['stg_model_calls']) }}
),

call_keys as (
    {{ union_providers('calls', also=['stg_model_calls'], columns=
        'usage_date, provider, billing_account, model, log_tier, spend_class, job_type, usage_known, '
        ~ 'uncached_input, cache_read, cache_write, output, call_key') }}
),

int_grain as (
    select * from {{ ref('int_grain') }}
),

int_calls as (
    select * from {{ ref('int_calls') }}
),

int_cells as (
    select * from {{ ref('int_cells') }}
),

int_cell_classes as (
    select * from {{ ref('int_cell_classes') }}
),

int_allocations as (
    select * from {{ ref('int_allocations') }}
),

int_provider_usage as (
    select * from {{ ref('int_provider_usage') }}
),

dim_price as (
    select * from {{ ref('dim_price') }}
),

-- where int_calls put the calls: per (cell account, logged model, log tier, spender) the cell and
-- the group, numbered (a few thousand rows; each call is joined to it once per scan)
placed as (
    select distinct
        usage_date,
        provider,
        billing_account,
        model,
        log_tier,
        rate_model,
        canonical_model,
        price_tier,
        spend_class,
        job_type
    from int_calls
),

numbered as (
    select
        *,
        dense_rank() over (
            order by usage_date, provider, billing_account, canonical_model, price_tier, spend_class, job_type
        ) as group_id
    from placed
),

-- whether each (base) cell class weighs its calls by list price (int_allocations' use_weights)
weighed as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        {{ base_tier('price_tier') }} as price_tier,
        coalesce(bool_or(use_weights) filter (where token_class = 'uncached_input'), false) as weigh_uncached_input,
        coalesce(bool_or(use_weights) filter (where token_class = 'cache_read'), false) as weigh_cache_read,
        coalesce(bool_or(use_weights) filter (where token_class in ('cache_write_5m', 'cache_write_1h')), false)
            as weigh_cache_write,
        coalesce(bool_or(use_weights) filter (where token_class = 'output'), false) as weigh_output
    from int_cell_classes
    group by all
),

-- the cell's billed 5-minute and 1-hour cache writes: a logged write is split in their proportion
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

-- the catalog's text rate per token class, in picodollars per token
rates as (
    select
        provider,
        canonical_model,
        max(round(rate_mtok * 1000000)) filter (where token_class = 'uncached_input')::bigint as rate_uncached_input,
        max(round(rate_mtok * 1000000)) filter (where token_class = 'cache_read')::bigint as rate_cache_read,
        max(round(rate_mtok * 1000000)) filter (where token_class = 'cache_write_5m')::bigint as rate_cache_write_5m,
        max(round(rate_mtok * 1000000)) filter (where token_class = 'cache_write_1h')::bigint as rate_cache_write_1h,
        max(round(rate_mtok * 1000000)) filter (where token_class = 'output')::bigint as rate_output
    from dim_price
    where modality = 'text'
    group by all
),

-- the catalog rates of each (cell account, logged model, log tier, spender) x the tier's percentage
-- (picodollars per token x 100: a class's list cost is tokens x rate // 100)
tiered as (
    select
        numbered.*,
        int_cells.model as cell_model,
        coalesce(weighed.weigh_uncached_input, false) as weigh_uncached_input,
        coalesce(weighed.weigh_cache_read, false) as weigh_cache_read,
        coalesce(weighed.weigh_cache_write, false) as weigh_cache_write,
        coalesce(weighed.weigh_output, false) as weigh_output,
        coalesce(billed_writes.billed_5m, 0) as billed_5m,
        coalesce(billed_writes.billed_1h, 0) as billed_1h,
        rates.rate_uncached_input
        * {{ tier_pct('numbered.provider', 'numbered.log_tier', "'uncached_input'") }} as rate_uncached_input,
        rates.rate_cache_read * {{ tier_pct('numbered.provider', 'numbered.log_tier', "'cache_read'") }}
            as rate_cache_read,
        rates.rate_cache_write_5m * {{ tier_pct('numbered.provider', 'numbered.log_tier', "'cache_write_5m'") }}
            as rate_cache_write_5m,
        rates.rate_cache_write_1h * {{ tier_pct('numbered.provider', 'numbered.log_tier', "'cache_write_1h'") }}
            as rate_cache_write_1h,
        rates.rate_output * {{ tier_pct('numbered.provider', 'numbered.log_tier', "'output'") }} as rate_output
    from numbered
    left join int_cells
        on
            numbered.usage_date = int_cells.usage_date
            and numbered.provider = int_cells.provider
            and numbered.billing_account = int_cells.billing_account
            and numbered.canonical_model = int_cells.canonical_model
            and numbered.price_tier = int_cells.price_tier
    left join weighed
        on
            numbered.usage_date = weighed.usage_date
            and numbered.provider = weighed.provider
            and numbered.billing_account = weighed.billing_account
            and numbered.canonical_model = weighed.canonical_model
            and numbered.price_tier = weighed.price_tier
    left join billed_writes
        on
            numbered.usage_date = billed_writes.usage_date
            and numbered.provider = billed_writes.provider
            and numbered.billing_account = billed_writes.billing_account
            and numbered.canonical_model = billed_writes.canonical_model
            and numbered.price_tier = billed_writes.price_tier
    left join rates
        on
            numbered.provider = rates.provider
            and numbered.rate_model = rates.canonical_model
),

-- what a call's share of each class is weighed by, per token: 1 (its tokens), or in a weighed cell
-- its list rate (picodollars per token; a cache write at the cell's blend of 5-minute and 1-hour)
cell_keys as (
    select
        usage_date,
        provider,
        billing_account,
        model as logged_model,
        log_tier,
        spend_class,
        coalesce(job_type, '') as group_job_type,
        group_id,
        canonical_model,
        price_tier,
        cell_model,
        billed_5m,
        billed_5m + billed_1h as billed_writes,
        9223372036854775807 // greatest(billed_5m, 1) as max_cache_write,
        rate_uncached_input,
        rate_cache_read,
        rate_cache_write_5m,
        rate_cache_write_1h,
        rate_output,
        case when weigh_uncached_input then coalesce(rate_uncached_input // 100, 0) else 1 end as per_uncached_input,
        case when weigh_cache_read then coalesce(rate_cache_read // 100, 0) else 1 end as per_cache_read,
        case
            when not weigh_cache_write then 1
            when billed_5m + billed_1h = 0 then coalesce(rate_cache_write_5m // 100, 0)
            else (
                (
                    billed_5m::hugeint * coalesce(rate_cache_write_5m, 0)
                    + billed_1h::hugeint * coalesce(rate_cache_write_1h, 0)
                ) // (100 * (billed_5m + billed_1h))
            )::bigint
        end as per_cache_write,
        case when weigh_output then coalesce(rate_output // 100, 0) else 1 end as per_output
    from tiered
),

-- the allocated picodollars of each (base cell, spend_class, job_type) group, per class
group_costs as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        {{ base_tier('price_tier') }} as price_tier,
        spend_class,
        coalesce(job_type, '') as group_job_type,
        coalesce(sum(cost_pico) filter (where token_class = 'uncached_input'), 0)::bigint as cost_uncached_input,
        coalesce(sum(cost_pico) filter (where token_class = 'cache_read'), 0)::bigint as cost_cache_read,
        coalesce(sum(cost_pico) filter (where token_class in ('cache_write_5m', 'cache_write_1h')), 0)::bigint
            as cost_cache_write,
        coalesce(sum(cost_pico) filter (where token_class = 'output'), 0)::bigint as cost_output
    from int_allocations
    where spend_class <> 'unlogged'
    group by all
),

-- each group's total weight per class, from int_calls' sums (the weights are linear in tokens)
group_keys as (
    select
        cell_keys.group_id,
        any_value(cell_keys.usage_date) as usage_date,
        any_value(cell_keys.provider) as provider,
        any_value(cell_keys.billing_account) as billing_account,
        any_value(cell_keys.canonical_model) as canonical_model,
        any_value(cell_keys.price_tier) as price_tier,
        any_value(cell_keys.spend_class) as spend_class,
        any_value(cell_keys.group_job_type) as group_job_type,
        coalesce(sum(int_calls.uncached_input * cell_keys.per_uncached_input), 0)::bigint as total_uncached_input,
        coalesce(sum(int_calls.cache_read * cell_keys.per_cache_read), 0)::bigint as total_cache_read,
        coalesce(sum(int_calls.cache_write * cell_keys.per_cache_write), 0)::bigint as total_cache_write,
        coalesce(sum(int_calls.output * cell_keys.per_output), 0)::bigint as total_output
    from cell_keys
    left join int_calls
        on
            cell_keys.usage_date = int_calls.usage_date
            and cell_keys.provider = int_calls.provider
            and cell_keys.billing_account = int_calls.billing_account
            and cell_keys.logged_model = int_calls.model
            and cell_keys.log_tier = int_calls.log_tier
            and cell_keys.spend_class = int_calls.spend_class
            and cell_keys.group_job_type = coalesce(int_calls.job_type, '')
            and int_calls.usage_known
    group by cell_keys.group_id
),

-- per group and class: cost = quotient x total + rest, so a share key x cost // total is
-- key x quotient + key x rest // total, both BIGINT for any key up to max_key
groups as (
    select
        group_keys.group_id,
        {{ call_share_terms('uncached_input') }},
        {{ call_share_terms('cache_read') }},
        {{ call_share_terms('cache_write') }},
        {{ call_share_terms('output') }},
        coalesce(
            group_costs.cost_uncached_input + group_costs.cost_cache_read + group_costs.cost_cache_write
            + group_costs.cost_output,
            0
        ) as group_pico
    from group_keys
    left join group_costs
        on
            group_keys.usage_date = group_costs.usage_date
            and group_keys.provider = group_costs.provider
            and group_keys.billing_account = group_costs.billing_account
            and group_keys.canonical_model = group_costs.canonical_model
            and group_keys.price_tier = group_costs.price_tier
            and group_keys.spend_class = group_costs.spend_class
            and group_keys.group_job_type = group_costs.group_job_type
),

-- scan 1: each call's floor shares summed per group, and the group's heaviest call
group_shares as (
    select
        groups.group_id,
        any_value(groups.group_pico) - sum(
            {{ call_share('call_keys', 'cell_keys', 'groups', 'uncached_input') }}
            + {{ call_share('call_keys', 'cell_keys', 'groups', 'cache_read') }}
            + {{ call_share('call_keys', 'cell_keys', 'groups', 'cache_write') }}
            + {{ call_share('call_keys', 'cell_keys', 'groups', 'output') }}
        ) as remainder_pico,
        max({
            'tokens': case
                when call_keys.usage_known
                    then coalesce(
                        call_keys.uncached_input + call_keys.cache_read + call_keys.cache_write + call_keys.output, 0
                    )
                else -1
            end,
            'call_key': call_keys.call_key
        }).call_key as heaviest_call
    from call_keys
    {{ call_cell_join('call_keys') }}
    inner join groups on cell_keys.group_id = groups.group_id
    group by groups.group_id
),

-- scan 2: every call with its cell, its list cost and its share (+ the remainder on the heaviest)
located as (
    select
        calls.*,
        cell_keys.billing_account as cell_account,
        cell_keys.cell_model,
        cell_keys.price_tier,
        case
            when cell_keys.billed_writes = 0 then calls.cache_write
            when calls.cache_write <= cell_keys.max_cache_write
                then calls.cache_write * cell_keys.billed_5m // cell_keys.billed_writes
            else (calls.cache_write::hugeint * cell_keys.billed_5m // cell_keys.billed_writes)::bigint
        end as cache_write_5m,
        cell_keys.rate_uncached_input,
        cell_keys.rate_cache_read,
        cell_keys.rate_cache_write_5m,
        cell_keys.rate_cache_write_1h,
        cell_keys.rate_output,
        {{ call_share('calls', 'cell_keys', 'groups', 'uncached_input') }}
        + {{ call_share('calls', 'cell_keys', 'groups', 'cache_read') }}
        + {{ call_share('calls', 'cell_keys', 'groups', 'cache_write') }}
        + {{ call_share('calls', 'cell_keys', 'groups', 'output') }}
        + case when calls.call_key = group_shares.heaviest_call then group_shares.remainder_pico else 0 end
            as cost_pico
    from calls
    {{ call_cell_join('calls') }}
    left join groups on cell_keys.group_id = groups.group_id
    left join group_shares on cell_keys.group_id = group_shares.group_id
),

final as (
    select
        ---------- the call's cell, as fct_spend_reconciliation names it
        usage_date,
        provider,
        cell_account as billing_account,
        cell_model as model,
        price_tier,
        ---------- who spent it
        spend_class,
        job_type,
        feature,
        request_id,
        parent_request_id,
        user_id,
        tenant_id,
        job_id,
        attempt,
        coalesce(log_tier, 'standard') as log_tier,
        usage_known,
        request_count,
        ---------- tokens
        uncached_input,
        cache_read,
        cache_write,
        output,
        reasoning_tokens,
        ---------- dollars
        (
            (
                {{ call_list_pico('uncached_input', 'rate_uncached_input') }}
                + {{ call_list_pico('cache_read', 'rate_cache_read') }}
                + {{ call_list_pico('cache_write_5m', 'rate_cache_write_5m') }}
                + {{ call_list_pico('(cache_write - cache_write_5m)', 'rate_cache_write_1h') }}
                + {{ call_list_pico('output', 'rate_output') }}
            )::decimal(38, 0) * 0.000000000001
        )::decimal(38, 12) as list_cost_usd,
        (coalesce(cost_pico, 0)::decimal(38, 0) * 0.000000000001)::decimal(38, 12) as cost_usd
    from located
)

select * from final
