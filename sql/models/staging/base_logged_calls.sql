-- The app and worker log records of the delivery window, as ingested: the one input of every
-- staging model of logged calls.
select * from {{ source('bronze', 'app_calls') }}
union all by name
select * from {{ source('bronze', 'worker_calls') }}
