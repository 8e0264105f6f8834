-- Every token cost line of the day placed on the cells it pays for, exactly, in integer
-- picodollars. A line covers the cells that match each dimension it names ('__all__' covers every
-- value: an organization-level or project-level cost line, or a line without line_item/description
-- grouping covers many cells and token classes). Its cost is split over them in proportion to list
-- prices (each cell class's `invoiced_weight`, or its billed tokens when the catalog prices none),
-- floor division, the remainder on the heaviest cell; `coarse` says the line was shared
-- (allocation_basis 'catalog_weights'), not the cell's own line ('cost_line').
-- Tiers: a line covers cells of its own price tier; a 'standard' line also covers the tiers of its
-- (account, model, class) that no line names (OpenAI folds some tiers into the plain label), and a
-- line covers the audio and image cells of its tier ('batch+audio') that no line names. When
-- none of those billed anything, the line covers the cells of its base tier ('standard' for
-- 'standard+long_context': a usage export not grouped by context window), and failing that its
-- account, model and class in any tier. A token line that covers nothing billed becomes its own
-- cell (all `unlogged`); an unsplit line that covers nothing stays unplaced and is reported as
-- non-token (fct_spend_reconciliation).
with int_provider_costs as (
    select * from {{ ref('int_provider_costs') }}
),

int_cell_rates as (
    select * from {{ ref('int_cell_rates') }}
),

lines as (
    select
        row_number() over (
            order by
                usage_date, provider, billing_account, canonical_model, price_tier, token_class, line_kind,
                cost_usd
        ) as line_id,
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class,
        line_kind,
        (cost_usd * 1000000000000)::hugeint as cost_pico
    from (
        select
            usage_date,
            provider,
            billing_account,
            canonical_model,
            price_tier,
            token_class,
            line_kind,
            cost_usd
        from int_provider_costs
        where line_kind in ('token', 'unsplit')
    ) as token_lines
),

named_tiers as (
    select distinct
        usage_date,
        provider,
        billing_account,
        canonical_model,
        token_class,
        price_tier
    from lines
    where line_kind = 'token'
),

-- whether a line of the cell's own tier covers it (an organization-level line covers every account)
cells as (
    select
        int_cell_rates.*,
        exists(
            select 1 as found from named_tiers
            where
                named_tiers.usage_date = int_cell_rates.usage_date
                and named_tiers.provider = int_cell_rates.provider
                and named_tiers.billing_account in ('__all__', int_cell_rates.billing_account)
                and named_tiers.canonical_model in ('__all__', int_cell_rates.canonical_model)
                and named_tiers.token_class = int_cell_rates.token_class
                and named_tiers.price_tier = int_cell_rates.price_tier
        ) as has_own_line
    from int_cell_rates
),

candidates as (
    select
        lines.line_id,
        lines.line_kind,
        lines.cost_pico,
        cells.usage_date,
        cells.provider,
        cells.billing_account,
        cells.canonical_model,
        cells.price_tier,
        cells.token_class,
        cells.invoiced_weight,
        cells.invoiced_tokens,
        case
            when
                lines.price_tier = cells.price_tier
                -- a line of every tier: not an audio or image cell that a line of its own prices
                or (
                    lines.price_tier = '__all__'
                    and (
                        lines.line_kind = 'unsplit' or {{ price_modality('cells.price_tier') }} = 'text'
                        or not cells.has_own_line
                    )
                )
                or (lines.price_tier = 'standard' and not cells.has_own_line)
                -- an audio or image cell no line names is billed in its tier's plain line
                or (lines.price_tier = {{ base_tier('cells.price_tier') }} and not cells.has_own_line) then 1
            -- the usage was not split the way the line is ('standard+long_context' on a 'standard' cell),
            -- its modality first ('standard+long_context+audio' on 'standard+audio' before 'standard')
            when
                split_part(lines.price_tier, '+', 1) = split_part(cells.price_tier, '+', 1)
                and {{ price_modality('lines.price_tier') }} = {{ price_modality('cells.price_tier') }} then 2
            when split_part(lines.price_tier, '+', 1) = split_part(cells.price_tier, '+', 1) then 3
            else 4
        end as tier_match,
        lines.billing_account = cells.billing_account
        and lines.canonical_model = cells.canonical_model
        and lines.price_tier = cells.price_tier
        and lines.token_class = cells.token_class as own_cell
    from lines
    inner join cells
        on
            lines.usage_date = cells.usage_date
            and lines.provider = cells.provider
            and lines.billing_account in ('__all__', cells.billing_account)
            and lines.canonical_model in ('__all__', cells.canonical_model)
            and (lines.token_class is null or lines.token_class = cells.token_class)
),

tiered as (
    select
        *,
        min(tier_match) filter (where invoiced_tokens > 0) over (partition by line_id) as best_tier_match
    from candidates
),

covered as (
    select
        *,
        sum(invoiced_weight) over (partition by line_id) as line_weight,
        sum(invoiced_tokens) over (partition by line_id) as line_tokens
    from tiered
    where tier_match = best_tier_match
),

weighed as (
    select
        *,
        case when line_weight > 0 then invoiced_weight else invoiced_tokens::hugeint end as weight,
        case when line_weight > 0 then line_weight else line_tokens::hugeint end as total_weight
    from covered
    where line_tokens > 0
),

-- only the cells with a weight take part (a class the tier never billed gets nothing)
shared as (
    select
        *,
        count(*) over (partition by line_id) as line_cells,
        cost_pico * weight // total_weight as share_pico,
        row_number() over (
            partition by line_id
            order by weight desc, billing_account asc, canonical_model asc, price_tier asc, token_class asc
        ) as weight_rank
    from weighed
    where weight > 0
),

placed as (
    select
        line_id,
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class,
        line_kind,
        share_pico + case
            when weight_rank = 1 then cost_pico - sum(share_pico) over (partition by line_id)
            else 0
        end as cost_pico,
        not (line_cells = 1 and own_cell) as coarse,  -- noqa: LT01, LT06
        true as placed
    from shared
),

final as (
    select * from placed
    union all
    -- lines that cover nothing billed: a token line is its own cell, an unsplit line stays unplaced
    select
        line_id,
        usage_date,
        provider,
        billing_account,
        canonical_model,
        price_tier,
        token_class,
        line_kind,
        cost_pico,
        false as coarse,
        line_kind = 'token' as placed
    from lines
    where lines.line_id not in (select placed.line_id from placed)
)

select * from final
