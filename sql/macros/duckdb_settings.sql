{#- One of the run's DuckDB settings (`threads`, `memory_limit`, `temp_directory`, from the
    project's settings DARKCOMPUTE_DUCKDB_*), as a statement for the project's `on-run-start`
    hook: DuckDB applies them to the whole in-memory database, every model of the run. A setting
    the run does not give keeps DuckDB's default (a statement that sets nothing). -#}
{% macro duckdb_setting(name) -%}
    {%- set value = run_parameter("duckdb").get(name) -%}
    {%- if value is none -%}
        select '{{ name }}: the default' as duckdb_setting
    {%- elif name == "threads" -%}
        set threads = {{ value | int }}
    {%- else -%}
        set {{ name }} = '{{ value | string | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}
