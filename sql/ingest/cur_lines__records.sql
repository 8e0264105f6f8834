-- The accepted lines of `parsed_cur`, in the bronze schema. The model of a line comes from its
-- resource id when that names a foundation model or a (system) inference profile, else from the
-- product name matched against the price catalog (`product_models`, resolved in Python for the
-- file's handful of distinct names); `model_parse_status` says which.
select
    billing_period,
    usage_date,
    usage_start,
    usage_end,
    line_item_type,
    line_item_class,
    product_code,
    parsed_cur.product_name,
    is_bedrock,
    usage_type,
    operation,
    resource_id,
    description,
    usage_account_id,
    iam_principal,
    billing_account,
    usage_type_family,
    usage_type_status,
    token_class,
    usage_region_code,
    parsed_cur.is_global,
    is_batch,
    usage_tier,
    coalesce(foundation_model, inference_profile, product_models.model) as model,
    case
        when foundation_model is not null then 'foundation_model'
        when inference_profile is not null then 'inference_profile'
        when product_models.model is not null then 'product_name'
        when is_bedrock then 'unmatched'
        else 'not_bedrock'
    end as model_parse_status,
    usage_amount,
    pricing_unit,
    tokens,
    unblended_cost,
    net_unblended_cost,
    currency,
    resource_tags,
    ---------- lineage
    file as source_file,
    line as source_line,
    $sha256 as file_sha256
from parsed_cur
left join product_models
    on
        parsed_cur.is_bedrock
        and parsed_cur.product_name = product_models.product_name
        and product_models.is_global = coalesce(parsed_cur.is_global, false)
where outcome = 'record'
order by line
