{#- The FOCUS export's names for an invoice line (`focus_costs`, and the tests that check its
    allocated rows against the lines they split). One definition, so the model and its tests name a
    line alike.
    focus_line_id: the origin charge's key, readable: `<day>|<provider>|<account>|<what>`, where what
    is `<model>|<price tier>|<token class>` for a token line and `non_token|<line item>|<category>`
    (or `unsplit|<n>`) for the others. -#}
{% macro focus_line_id(usage_date, provider, billing_account, parts) -%}
    concat_ws('|', strftime({{ usage_date }}, '%Y-%m-%d'), {{ provider }}, {{ billing_account }}, {{ parts | join(', ') }})
{%- endmacro %}

{#- The FOCUS ChargeCategory of a cost line that is not tokens: a negative amount is a `Credit`
    (credits, refunds, discounts), a line item naming tax is `Tax`, anything else (web search, code
    execution, storage, guardrail units, fees) is `Usage`. -#}
{% macro focus_non_token_category(line_item, cost) -%}
    case
        when {{ cost }} < 0 then 'Credit'
        when regexp_matches(lower(coalesce({{ line_item }}, '')), '\btax(es)?\b') then 'Tax'
        else 'Usage'
    end
{%- endmacro %}
