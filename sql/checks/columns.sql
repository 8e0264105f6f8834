-- The column names of a mart partition file (checks on columns added later read older files too).
select list(name) as column_names from parquet_schema($path)
