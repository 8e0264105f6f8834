-- A cell's modality is the last part of its price tier: OpenAI counts the audio and image tokens
-- of a model apart (usage pages: input_audio_tokens, ...; cost lines: '<model> audio, input'), at
-- their own rates, so they are cells of their own: '<tier>+audio', '<tier>+image' ('standard+audio',
-- '__all__+image'). `price_modality` says which ('text' without a suffix), `base_tier` is the tier
-- without it (the tier the logs, which do not split modalities, are matched on).
{% macro price_modality(price_tier) -%}
(case
    when {{ price_tier }} like '%+audio' then 'audio'
    when {{ price_tier }} like '%+image' then 'image'
    else 'text'
end)
{%- endmacro %}

{% macro modality_suffix(price_tier) -%}
(case
    when {{ price_tier }} like '%+audio' then '+audio'
    when {{ price_tier }} like '%+image' then '+image'
    else ''
end)
{%- endmacro %}

{% macro base_tier(price_tier) -%}
(case
    when {{ price_tier }} like '%+audio' or {{ price_tier }} like '%+image'
        then left({{ price_tier }}, length({{ price_tier }}) - 6)
    else {{ price_tier }}
end)
{%- endmacro %}
