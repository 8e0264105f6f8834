-- The distinct product names of `parsed_cur`'s Bedrock lines whose resource id names no model,
-- with the global flag of their usage type: what the price catalog is asked about.
select distinct
    product_name,
    coalesce(is_global, false) as is_global
from parsed_cur
where
    outcome = 'record'
    and is_bedrock
    and foundation_model is null
    and inference_profile is null
    and product_name is not null
order by all
