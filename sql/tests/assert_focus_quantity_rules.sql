{#- FOCUS's rules on categories and quantities, per row of focus_costs: ChargeCategory is one of
    FOCUS's values; ConsumedQuantity is NULL unless ChargeCategory is `Usage`, and set (tokens) on
    every token line's row; ConsumedUnit is set exactly where ConsumedQuantity is, PricingUnit
    exactly where PricingQuantity is; ChargeClass is NULL or `Correction`. Returns the rows that
    break one, with the rule. -#}
{{ config(severity='error') }}

with focus as (
    select * from {{ ref('focus_costs') }}
),

checked as (
    select
        "x_LineId",
        "x_DarkClass",
        "x_JobType",
        "ChargeCategory",
        "ConsumedQuantity",
        case
            when "ChargeCategory" not in ('Usage', 'Purchase', 'Tax', 'Credit', 'Adjustment')
                then 'ChargeCategory is not a FOCUS value'
            when "ChargeCategory" <> 'Usage' and "ConsumedQuantity" is not null
                then 'ConsumedQuantity set outside Usage'
            when "x_TokenClass" is not null and "ConsumedQuantity" is null
                then 'a token row without ConsumedQuantity'
            when ("ConsumedUnit" is null) <> ("ConsumedQuantity" is null)
                then 'ConsumedUnit and ConsumedQuantity disagree on NULL'
            when ("PricingUnit" is null) <> ("PricingQuantity" is null)
                then 'PricingUnit and PricingQuantity disagree on NULL'
            when "ChargeClass" is not null and "ChargeClass" <> 'Correction'
                then 'ChargeClass is not NULL or Correction'
        end as broken_rule
    from focus
)

select * from checked
where broken_rule is not null
