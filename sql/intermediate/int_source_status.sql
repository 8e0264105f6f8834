-- Every provider's cost-export status for the day.
create or replace temp table source_status as
select * from stg_openai_source_status
union all by name
select * from stg_anthropic_source_status
