-- Provider cost lines of every provider (dollars, DECIMAL), keyed by canonical model where the
-- line names one. line_kind: 'token' (model and token class known), 'unsplit' (a token cost with
-- no class split) or 'non_token' (search, storage, credits...). A line finer than the day's usage
-- grain (int_grain) is rolled up to it: its account, model or tier becomes '__all__' when no
-- usage row carries that dimension (a token line's audio or image suffix stays:
-- '__all__+audio'). A line coarser than the usage ('__all__' account, model or
-- tier) is shared over the cells it covers in int_cost_shares. A staging without a price_tier
-- column (Bedrock) has 'standard' token lines. rate_model, rate_tier and quantity_tokens (OpenAI:
-- the line's billed tokens) keep what the roll-up hides, to price a rolled-up cell's model mix.
with dim_model as (
    select * from {{ ref('dim_model') }}
),

int_grain as (
    select * from {{ ref('int_grain') }}
),

unioned as (
    {{ union_providers('costs') }}
),

final as (
    select
        unioned.* replace (
            case when coalesce(int_grain.by_account, true) then unioned.billing_account else '__all__' end
                as billing_account,
            case
                -- the modality of a token line stays (its tokens are priced apart): '__all__+audio'
                when not coalesce(int_grain.by_tier, true)
                    then '__all__' || case
                        when unioned.line_kind = 'token' then {{ modality_suffix('unioned.price_tier') }} else ''
                    end
                when unioned.line_kind <> 'token' then coalesce(unioned.price_tier, '__all__')
                else coalesce(unioned.price_tier, 'standard')
            end as price_tier
        ),
        case
            when unioned.line_kind = 'non_token' then null
            when unioned.model is null or not coalesce(int_grain.by_model, true) then '__all__'
            else dim_model.canonical_model
        end as canonical_model,
        -- the line's own model and tier, before the roll-up: they price its quantity_tokens
        dim_model.canonical_model as rate_model,
        coalesce(unioned.price_tier, 'standard') as rate_tier
    from unioned
    left join dim_model
        on
            unioned.provider = dim_model.provider
            and unioned.model = dim_model.model_name
    left join int_grain on unioned.provider = int_grain.provider
)

select * from final
