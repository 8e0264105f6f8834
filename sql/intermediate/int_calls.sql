-- Logged calls keyed by the catalog's canonical model id (aliases and dated ids become one).
create or replace temp table int_calls as
select
    stg_model_calls.*,
    dim_model.canonical_model,
from stg_model_calls
inner join dim_model
    on dim_model.provider = stg_model_calls.provider
    and dim_model.model_name = stg_model_calls.model
