-- Every provider's cost-export status for the day.
create or replace temp table source_status as
select * from stg_openai_source_status
