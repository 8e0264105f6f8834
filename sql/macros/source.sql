{#- `source('bronze' or 'catalog', <table>)` reads the table's lake partition files of the run's
    window, which the orchestrator lists in the var `lake_files` (`{"bronze.<table>": [path, ...]}`): DuckDB's read_parquet
    over exactly those files, with every column the sources file declares present and typed
    (a partition written before a column existed has it null), and an empty relation of the
    same columns when the window holds no file. A table without its own `folder_date` takes it
    from the partition folder (`date=<day>`). Other sources resolve as dbt's own. `lake_relation(...,
    files_key=':history')` reads another file list of the same table (the catalog's partitions up to
    the day, for dim_model_price). -#}
{% macro source(source_name, table_name) %}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- if source_name not in ('bronze', 'catalog') or not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {{ return(lake_relation(source_name, table_name)) }}
{% endmacro %}

{% macro lake_relation(source_name, table_name, files_key='') -%}
    {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name) | first -%}
    {%- set files = run_parameter('lake_files').get(source_name ~ '.' ~ table_name ~ files_key, []) -%}
    {%- set typed -%}
        select
        {%- for column in node.columns.values() %}
            cast(null as {{ column.data_type }}) as "{{ column.name }}",
        {%- endfor %}
        {%- if 'folder_date' not in node.columns %}
            cast(null as date) as folder_date,
        {%- endif %}
        where false
    {%- endset -%}
    {%- if files -%}
    ({{ typed }}
        union all by name
        select *{{ ', "date"::date as folder_date' if 'folder_date' not in node.columns }} from read_parquet([
            {%- for file in files %}'{{ file | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor -%}
        ], hive_partitioning = true, union_by_name = true))
    {%- else -%}
    ({{ typed }})
    {%- endif -%}
{%- endmacro %}
