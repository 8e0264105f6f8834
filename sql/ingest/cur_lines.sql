-- CUR 2.0 (Data Exports) lines of one data file -> one typed row per line, with its outcome
-- ('record' or 'rejected', with a reason). Input: the registered Arrow table `cur_raw` (the file's
-- columns this parser reads, absent ones as NULL text, plus `source_line`).
--
-- Money: CUR writes costs as Parquet doubles (or, in a CSV export, as text, cast here straight to
-- DECIMAL). The double is the provider's, not ours: it is read
-- once, here, as the shortest decimal text that round-trips to it (what AWS meant, e.g. 4.05 and
-- not 4.04999...), rounded to DECIMAL(38, 12); nothing downstream computes with floats.
--
-- Usage types are display strings, parsed into a token class and flags with a status; the raw
-- text is kept. Families (provider-formats.md 3b):
--   first party  USE1-NovaPro-input-tokens, USE1-Claude4.6Sonnet-output-tokens
--   marketplace  USE1-MP:USE1_InputTokenCount-Units, ..._CacheWrite1hInputTokenCount_Global-Units,
--                ..._InputTokenCount_Batch-Units
--   snake case   USE1-MP:USE1_input_tokens_standard-Units, ..._output_tokens_global_standard-Units
create or replace temp table parsed_cur as
with typed as (
    select
        source_line,
        nullif(trim(line_item_line_item_type::varchar), '') as line_item_type,
        try_cast(line_item_usage_start_date as timestamptz) as usage_start,
        try_cast(line_item_usage_end_date as timestamptz) as usage_end,
        nullif(line_item_product_code::varchar, '') as product_code,
        coalesce(
            to_json(product) ->> '$.product_name',
            try((to_json(product) ->> '$') ->> '$.product_name')
        ) as product_name,
        nullif(trim(line_item_usage_type::varchar), '') as usage_type,
        nullif(line_item_operation::varchar, '') as operation,
        nullif(line_item_resource_id::varchar, '') as resource_id,
        nullif(line_item_line_item_description::varchar, '') as description,
        nullif(line_item_usage_account_id::varchar, '') as usage_account_id,
        nullif(line_item_iam_principal::varchar, '') as iam_principal,
        try_cast(line_item_usage_amount::varchar as decimal(38, 12)) as usage_amount,
        nullif(trim(pricing_unit::varchar), '') as pricing_unit,
        line_item_unblended_cost::varchar as cost_text,
        try_cast(line_item_unblended_cost::varchar as decimal(38, 12)) as unblended_cost,
        try_cast(line_item_net_unblended_cost::varchar as decimal(38, 12)) as net_unblended_cost,
        nullif(upper(trim(line_item_currency_code::varchar)), '') as currency,
        case
            -- CSV: the map as JSON text, written compact like the Parquet map's
            when json_type(to_json(resource_tags)) = 'VARCHAR'
                then coalesce(
                    try(json(to_json(resource_tags) ->> '$'))::varchar, to_json(resource_tags) ->> '$'
                )
            else to_json(resource_tags)::varchar
        end as resource_tags
    from cur_raw
),

usage_types as (
    select
        *,
        regexp_extract(
            usage_type, '^([A-Za-z0-9]+)-MP:[A-Za-z0-9]+_(.+)-Units$', ['region', 'metric']
        ) as mp,
        regexp_extract(
            usage_type,
            '^([A-Z]{2,4}[0-9]*)-(.+?)-'
            || '(input|output|cache-read-input|cache-write-input|cache-read|cache-write)-tokens(.*)$',
            ['region', 'model', 'kind', 'suffix']
        ) as fp
    from typed
),

metrics as (
    select
        *,
        regexp_extract(
            mp.metric,
            '^(InputTokenCount|OutputTokenCount|CacheReadInputTokenCount|CacheWriteInputTokenCount'
            || '|CacheWrite1hInputTokenCount|CacheWrite5mInputTokenCount)((?:_[A-Za-z0-9]+)*)$',
            ['kind', 'suffix']
        ) as camel,
        regexp_extract(
            mp.metric,
            '^(input|output|cache_read_input|cache_write_input|cache_write_1h_input|cache_write_5m_input'
            || '|cache_read|cache_write|cache_write_1h|cache_write_5m)_tokens((?:_[a-z0-9]+)*)$',
            ['kind', 'suffix']
        ) as snake
    from usage_types
),

families as (
    select
        *,
        case
            when camel.kind <> '' then 'marketplace'
            when snake.kind <> '' then 'marketplace_snake'
            when fp.kind <> '' then 'first_party'
        end as family
    from metrics
),

flagged as (
    select
        *,
        lower(replace(case family
            when 'marketplace' then camel.kind
            when 'marketplace_snake' then snake.kind
            when 'first_party' then fp.kind
        end, '-', '_')) as kind,
        lower(case family
            when 'marketplace' then camel.suffix
            when 'marketplace_snake' then snake.suffix
            when 'first_party' then fp.suffix
        end) as suffix,
        case when family = 'first_party' then fp.region else nullif(mp.region, '') end as region_code
    from families
),

classified as (
    select
        *,
        case
            when kind like '%write%' and kind like '%1h%' then 'cache_write_1h'
            when kind like '%write%' then 'cache_write_5m'
            when kind like '%read%' then 'cache_read'
            when kind like 'output%' then 'output'
            when kind like 'input%' then 'uncached_input'
        end as token_class,
        case
            when line_item_type in ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') then 'usage'
            when line_item_type = 'Credit' then 'credit'
            when line_item_type = 'Refund' then 'refund'
            when line_item_type = 'Tax' then 'tax'
            when line_item_type in (
                'EdpDiscount', 'PrivateRateDiscount', 'BundledDiscount', 'Discount',
                'DistributorDiscount', 'SavingsPlanNegation'
            ) then 'discount'
            when line_item_type in ('Fee', 'RIFee', 'SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee') then 'fee'
            else 'other'
        end as line_item_class,
        case regexp_replace(lower(pricing_unit), '\s+', ' ', 'g')
            when 'units' then 1
            when 'unit' then 1
            when 'tokens' then 1
            when 'token' then 1
            when 'count' then 1
            when '1k tokens' then 1000
            when 'k tokens' then 1000
            when '1,000 tokens' then 1000
            when 'thousand tokens' then 1000
            when '1m tokens' then 1000000
            when 'm tokens' then 1000000
            when '1,000,000 tokens' then 1000000
            when 'million tokens' then 1000000
        end as tokens_per_unit,
        coalesce(product_code like '%Bedrock%' or product_name like '%Bedrock%', false) as is_bedrock,
        nullif(regexp_extract(resource_id, ':foundation-model/(.+)$', 1), '') as foundation_model,
        nullif(regexp_extract(resource_id, ':inference-profile/(.+)$', 1), '') as inference_profile
    from flagged
),

checked as (
    select
        *,
        case
            when line_item_type is null then 'missing line_item_line_item_type'
            when usage_start is null then 'missing or unparseable line_item_usage_start_date'
            when unblended_cost is null
                then 'line_item_unblended_cost is missing or not a finite number: ' || coalesce(cost_text, 'null')
            when currency is not null and currency <> 'USD' then 'currency ' || currency || ' is not USD'
        end as reason
    from classified
)

select
    $file as file,
    source_line as line,
    case when reason is null then 'record' else 'rejected' end as outcome,
    reason,
    $billing_period::date as billing_period,
    (usage_start at time zone 'UTC')::date as usage_date,
    usage_start,
    usage_end,
    line_item_type,
    line_item_class,
    product_code,
    product_name,
    is_bedrock,
    usage_type,
    operation,
    resource_id,
    description,
    usage_account_id,
    iam_principal,
    coalesce(
        iam_principal,
        case
            when regexp_matches(resource_id, '^arn:aws[a-z-]*:bedrock:[^:]*:[0-9]*:application-inference-profile/.+')
                then resource_id
        end,
        usage_account_id
    ) as billing_account,
    family as usage_type_family,
    case when token_class is not null then 'parsed' else 'unparsed' end as usage_type_status,
    token_class,
    region_code as usage_region_code,
    case when family is not null then suffix like '%global%' end as is_global,
    case when family is not null then suffix like '%batch%' end as is_batch,
    nullif(regexp_extract(suffix, '(standard|priority|flex|latency_?optimized|reserved)', 1), '') as usage_tier,
    foundation_model,
    inference_profile,
    usage_amount,
    pricing_unit,
    case when token_class is not null then try_cast(round(usage_amount * tokens_per_unit) as bigint) end as tokens,
    unblended_cost,
    net_unblended_cost,
    currency,
    resource_tags,
    json_object(
        'line_item_line_item_type', line_item_type, 'line_item_usage_start_date', usage_start::varchar,
        'line_item_product_code', product_code, 'line_item_usage_type', usage_type,
        'line_item_resource_id', resource_id, 'line_item_unblended_cost', cost_text,
        'line_item_currency_code', currency
    )::varchar as redacted
from checked
