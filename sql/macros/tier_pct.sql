-- How a price tier scales the catalog's standard list price, in percent, per provider and token
-- class. The catalog (genai-prices) prices only the standard tier; these are the providers'
-- published tier rules, used for weights (sharing a coarse cost line, spreading a cell's cost over
-- the models logged inside it) and for catalog estimates, never for an invoiced number:
--   batch 50 (OpenAI Batch API, Anthropic Message Batches); flex and flex_discount 50 (OpenAI Flex
--   is priced as Batch); priority 200 on OpenAI (Priority processing), 100 on Anthropic (Priority
--   Tier is a commitment, its catalog price is the list price); long_context (Anthropic 200k-1M)
--   200 on input classes and 150 on output; geo_us (Anthropic US-only inference) 110; fast 600.
-- A composite tier ('batch+long_context') multiplies its parts.
{% macro tier_pct(provider, price_tier, token_class) -%}
(
    (case split_part({{ price_tier }}, '+', 1)
        when 'batch' then 50
        when 'flex' then 50
        when 'flex_discount' then 50
        when 'priority' then case when {{ provider }} = 'openai' then 200 else 100 end
        else 100
    end)
    * (case when contains({{ price_tier }}, 'long_context') then case when {{ token_class }} = 'output' then 150 else 200 end
        else 100 end)
    * (case when contains({{ price_tier }}, 'geo_us') then 110 else 100 end)
    * (case when contains({{ price_tier }}, '+fast') then 600 else 100 end)
    // 1000000
)
{%- endmacro %}
