-- What a provider's batch tier would bill a real-time call at, in percent of what it cost
-- (fct_savings_opportunities): the one place that says which calls a batch tier takes, with the
-- tier multipliers of tier_pct (batch 50: OpenAI Batch API, Anthropic Message Batches, Bedrock
-- batch inference; OpenAI flex is priced as Batch). So a standard call would cost 50% of its cost,
-- an OpenAI priority call 25% (batch 50 against priority 200); a long-context or geo_us suffix
-- scales both tiers alike and cancels out.
-- NULL (no batch price) for a call already on batch or flex, for OpenAI's realtime and audio
-- models (the Batch API does not take them), on Bedrock for models outside the batch inference
-- models this project knows (Anthropic Claude, Amazon Nova; add others here), and for any other
-- provider.
{% macro batch_pct(provider, model, log_tier) -%}
(
    case
        when split_part({{ log_tier }}, '+', 1) in ('batch', 'flex', 'flex_discount') then null
        when {{ provider }} = 'openai' and (contains({{ model }}, 'realtime') or contains({{ model }}, 'audio'))
            then null
        when {{ provider }} = 'aws.bedrock'
            and not (contains({{ model }}, 'anthropic.claude') or contains({{ model }}, 'amazon.nova'))
            then null
        when {{ provider }} in ('openai', 'anthropic', 'aws.bedrock')
            then {{ tier_pct(provider, "'batch'", "'output'") }} * 100
            // {{ tier_pct(provider, "split_part(" ~ log_tier ~ ", '+', 1)", "'output'") }}
    end
)
{%- endmacro %}
