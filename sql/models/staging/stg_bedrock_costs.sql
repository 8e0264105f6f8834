-- AWS CUR 2.0 lines of Bedrock (product code or product name containing 'Bedrock') whose usage
-- started on the day, dollars as DECIMAL (converted once, at ingest). A usage line with a parsed
-- token class and a model is a token line; credits, refunds, tax, discounts, fees and usage the
-- parser could not read are non-token lines, keeping the raw usage type (or the description).
-- The account follows the invocation logs' rule so that both sides meet in one cell: a line of an
-- application inference profile belongs to the profile (the logs key such calls by the profile
-- ARN they were invoked with), even when the CUR also names the caller's IAM principal.
-- `price_tier` says at which price a token line billed (`batch`, or the usage type's tier:
-- `flex`, `priority`, `reserved`, ...; else `standard`), as stg_bedrock_usage's. A cross-region
-- request bills in the caller's region (the usage type's region code); a global profile's lines
-- carry `_Global` and resolve to the `global.` model, a geographic profile's do not. A guardrail's
-- text units (`USE1-Guardrail-ContentPolicyUnitsConsumed`, ...) have no token class: non-token.
with source as (
    select * from {{ source('bronze', 'cur_lines') }}
    where
        usage_date = {{ usage_date() }}
        and (product_code like '%Bedrock%' or product_name like '%Bedrock%')
),

kinds as (
    select
        *,
        case
            when line_item_class = 'usage' and token_class is not null and model is not null then 'token'
            else 'non_token'
        end as line_kind
    from source
)

select
    usage_date,
    'aws.bedrock' as provider,
    case
        when regexp_matches(resource_id, '^arn:aws[a-z-]*:bedrock:[^:]*:[0-9]*:application-inference-profile/.+')
            then resource_id
        else coalesce(billing_account, '__unknown__')
    end as billing_account,
    case when line_kind = 'token' then model end as model,
    case when line_kind = 'token' then token_class end as token_class,
    unblended_cost as cost_usd,
    coalesce(usage_type, description) as line_item,
    line_kind,
    case
        when line_kind <> 'token' then null
        when is_batch then 'batch'
        when usage_tier is null or usage_tier = 'standard' then 'standard'
        else replace(usage_tier, 'latencyoptimized', 'latency_optimized')
    end as price_tier
from kinds
order by source_file, source_line
