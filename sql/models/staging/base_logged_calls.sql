-- The app and worker log records of the delivery window, as ingested: the one input of every
-- staging model of logged calls. A view: a day's window holds tens of millions of records, which
-- each staging model reads straight from the Parquet files (only the columns and days it needs);
-- as a table they would be copied into memory whole first.
{{ config(materialized='view') }}

select * from {{ source('bronze', 'app_calls') }}
union all by name
select * from {{ source('bronze', 'worker_calls') }}
