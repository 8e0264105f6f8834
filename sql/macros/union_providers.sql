{#- The providers' staging models, unioned. The registry is the project var `providers`
    (dbt_project.yml): each provider's name and the kinds of staging model it has, in union order;
    the model of provider p and kind k is `stg_<p>_<k>`.

    It is a var and not the sources file because dbt renders every model before it reads any YAML
    file (and `graph` is empty while parsing), so a model's refs can only come from the project's
    vars or macros. tests/test_provider_registry.py holds the var, the sources file and the staging
    models to each other; at run time the macro fails when a staging model of a unioned kind is
    left out of the union (a provider's rows would silently be missing from the marts).

    union_providers(kinds, also=[], columns='*', operator='union all by name'):
      kinds     one kind or a list ('usage', 'costs', 'source_status', 'calls'): per provider in
                registry order, its models of those kinds in the given order
      also      models that are not a provider's (the logged calls), unioned first
      columns   the select list of each branch
      operator  the set operator between branches -#}

{% macro provider_models(kinds) -%}
    {%- set kinds = [kinds] if kinds is string else kinds -%}
    {%- set models = [] -%}
    {%- for provider, provider_kinds in var('providers').items() -%}
        {%- for kind in kinds if kind in provider_kinds -%}
            {%- do models.append('stg_' ~ provider ~ '_' ~ kind) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}

{% macro union_providers(kinds, also=[], columns='*', operator='union all by name') -%}
    {%- set kinds = [kinds] if kinds is string else kinds -%}
    {%- set models = also + provider_models(kinds) -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.package_name == project_name
            and node.name.startswith('stg_') and node.name not in models -%}
            {%- for kind in kinds if node.name.endswith('_' ~ kind) -%}
                {{ exceptions.raise_compiler_error(
                    node.name ~ " is not in the union of " ~ kinds | join(", ") ~ " staging models: add its provider"
                    ~ " and kind to the var `providers` in sql/dbt_project.yml") }}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for model in models -%}
        {{- '\n    ' ~ operator ~ '\n    ' if not loop.first -}}
        select {{ columns }} from {{ ref(model) }} as {{ model }}
    {%- endfor -%}
{%- endmacro %}
