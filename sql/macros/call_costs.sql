{#- The per-call arithmetic of int_call_costs. It is BIGINT wherever the product fits (a HUGEINT
    division costs a 10M-call day seconds) and HUGEINT for the rare call past that: exact either
    way (a BIGINT product past its range raises, it never wraps). -#}

{#- The join of a scan of the calls to their cell and group (int_call_costs' `cell_keys`): the
    account rolled up as int_calls rolls it (int_grain), the logged model, tier and spender. -#}
{% macro call_cell_join(calls) -%}
left join int_grain on {{ calls }}.provider = int_grain.provider
    left join cell_keys
        on
            {{ calls }}.usage_date = cell_keys.usage_date
            and {{ calls }}.provider = cell_keys.provider
            and case when coalesce(int_grain.by_account, true) then {{ calls }}.billing_account else '__all__' end
            = cell_keys.billing_account
            and {{ calls }}.model = cell_keys.logged_model
            and coalesce({{ calls }}.log_tier, 'standard') = cell_keys.log_tier
            and {{ calls }}.spend_class = cell_keys.spend_class
            and coalesce({{ calls }}.job_type, '') = cell_keys.group_job_type
{%- endmacro %}

{#- A call's list cost of one class in picodollars: tokens x rate // 100 (rate: picodollars per
    token x the tier's percentage). 0 without tokens; NULL when the catalog has no rate. -#}
{% macro call_list_pico(tokens, rate) -%}
(case
    when {{ tokens }} = 0 then 0
    when {{ tokens }} <= 9223372036854775807 // greatest({{ rate }}, 1) then {{ tokens }} * {{ rate }} // 100
    else ({{ tokens }}::hugeint * {{ rate }} // 100)::bigint
end)
{%- endmacro %}

{#- A group's class cost as quotient x total + rest (total: the group's summed weights), and the
    largest weight whose product with the rest stays in BIGINT. -#}
{% macro call_share_terms(class) -%}
group_keys.total_{{ class }},
        coalesce(group_costs.cost_{{ class }}, 0) // nullif(group_keys.total_{{ class }}, 0) as quotient_{{ class }},
        coalesce(group_costs.cost_{{ class }}, 0) % nullif(group_keys.total_{{ class }}, 0) as rest_{{ class }},
        9223372036854775807
        // greatest(abs(coalesce(group_costs.cost_{{ class }}, 0) % nullif(group_keys.total_{{ class }}, 0)), 1)
            as max_key_{{ class }}
{%- endmacro %}

{#- A call's floor share of its group's class cost, weight x cost // total (weight: its tokens x
    the cell's per-token weight; none when its usage is unknown), as
    weight x quotient + weight x rest // total. -#}
{% macro call_share(calls, keys, groups, class) -%}
{%- set weight -%}
(case when {{ calls }}.usage_known then {{ calls }}.{{ class }} * {{ keys }}.per_{{ class }} else 0 end)
{%- endset -%}
coalesce(
            {{ weight }} * {{ groups }}.quotient_{{ class }}
            + case
                when {{ weight }} <= {{ groups }}.max_key_{{ class }}
                    then {{ weight }} * {{ groups }}.rest_{{ class }} // {{ groups }}.total_{{ class }}
                else ({{ weight }}::hugeint * {{ groups }}.rest_{{ class }} // {{ groups }}.total_{{ class }})::bigint
            end,
            0
        )
{%- endmacro %}
