-- Every cell and token class's cost, split exactly: each spender (user, job type, retry) gets
-- cost x its tokens / max(billed, logged) and `unlogged` takes the rest, so the parts always sum
-- to the class cost. The arithmetic is in integer picodollars (HUGEINT): no float, no rounding
-- drift, and floor division leaves at most a picodollar per share, which stays in `unlogged`.
-- When logs claim more than was billed, shares are scaled down and `overlogged_tokens` says so.
-- Where calls of several models or tiers share a cell class (`use_weights`: a usage export not
-- grouped by model or tier), a spender's tokens count at their list price: its share is
-- cost x weight / (list cost of the billed tokens), that list cost known from the cost lines'
-- quantities (`mix_known`), or else estimated as logged weight x max(billed, logged) / logged
-- (the same split as above when every call has one price).
with int_cell_classes as (
    select * from {{ ref('int_cell_classes') }}
),

int_logged_classes as (
    select * from {{ ref('int_logged_classes') }}
),

classes as (
    select
        *,
        class_cost_pico as cost_pico,
        greatest(billed_tokens, logged_tokens) as denominator,
        case
            -- the list cost of what was billed, known from the cost lines, or the logged calls' if more
            when use_weights and mix_known then greatest(catalog_pico, logged_weight)
            -- else the logged calls' average list price stands for the unlogged tokens too
            when use_weights then logged_weight * greatest(billed_tokens, logged_tokens) // logged_tokens
        end as weight_denominator
    from int_cell_classes
),

logged_shares as (
    select
        int_logged_classes.usage_date,
        int_logged_classes.provider,
        int_logged_classes.billing_account,
        int_logged_classes.canonical_model,
        int_logged_classes.price_tier,
        int_logged_classes.token_class,
        int_logged_classes.spend_class,
        int_logged_classes.job_type,
        int_logged_classes.tokens,
        case
            when classes.use_weights and classes.weight_denominator > 0
                then classes.cost_pico * int_logged_classes.weight // classes.weight_denominator
            when classes.denominator > 0
                then classes.cost_pico * int_logged_classes.tokens // classes.denominator
            else 0::hugeint
        end as cost_pico
    from int_logged_classes
    inner join classes
        using (usage_date, provider, billing_account, canonical_model, price_tier, token_class)
),

shares as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class,
        spend_class,
        job_type,
        sum(tokens)::bigint as tokens,
        sum(cost_pico)::hugeint as cost_pico,
        0::bigint as overlogged_tokens
    from logged_shares
    group by all
),

shared_per_class as (
    select
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class,
        sum(cost_pico) as shared_pico
    from shares
    group by all
),

unlogged as (
    select
        classes.usage_date,
        classes.provider,
        classes.billing_account,
        classes.canonical_model,
        classes.price_tier,
        classes.token_class,
        'unlogged' as spend_class,
        '__unlogged__' as job_type,
        greatest(classes.billed_tokens - classes.logged_tokens, 0) as tokens,
        classes.cost_pico - coalesce(shared_per_class.shared_pico, 0) as cost_pico,
        greatest(classes.logged_tokens - classes.billed_tokens, 0) as overlogged_tokens
    from classes
    left join shared_per_class
        using (usage_date, provider, billing_account, canonical_model, price_tier, token_class)
),

final as (
    select * from shares
    union all
    select * from unlogged
)

select * from final
