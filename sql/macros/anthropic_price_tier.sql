-- The price tier of an Anthropic usage or cost line, from the dimensions that change its price:
-- service_tier (priority, batch, flex), context_window (the 200k-1M long-context premium),
-- inference_geo (US-only inference) and speed (fast mode). A line that carries none of them is
-- '__all__' (a report not grouped by them); otherwise the parts joined by '+', e.g.
-- 'batch+long_context'. One definition for stg_anthropic_usage and stg_anthropic_costs, so a cost
-- line and the usage it bills always name the same tier.
{% macro anthropic_price_tier(service_tier, context_window, inference_geo, speed) -%}
(
    case
        when {{ service_tier }} is null and {{ context_window }} is null and {{ inference_geo }} is null and {{ speed }} is null
            then '__all__'
        else concat_ws('+',
            case
                when {{ service_tier }} in ('priority', 'priority_on_demand') then 'priority'
                when {{ service_tier }} in ('batch', 'flex', 'flex_discount') then {{ service_tier }}
                else 'standard'
            end,
            case when {{ context_window }} = '200k-1M' then 'long_context' end,
            case when {{ inference_geo }} = 'us' then 'geo_us' end,
            case when {{ speed }} = 'fast' then 'fast' end)
    end
)
{%- endmacro %}
