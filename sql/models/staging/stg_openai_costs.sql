-- OpenAI Costs API lines for one day, dollars as DECIMAL. The display string line_item is parsed
-- into (model, token class); lines that name no token class (web search, storage) are non-token;
-- without line_item grouping a line is an 'unsplit' total, shared out by catalog weights later.
-- Without project_id grouping the line is the organization's ('__all__'), shared out over the
-- projects' usage cells later. The label's tier prefix ('priority | ', 'flex | ', 'batch | '),
-- long-context suffix (', long context') and an audio or image modality after the model name
-- ('gpt-audio-mini audio, input': the model's audio tokens, priced apart) become price_tier
-- ('standard' without them, e.g. 'priority+long_context', 'standard+audio'); a line without
-- line_item has price_tier '__all__'. quantity_tokens:
-- the line's billed tokens, which price the model mix of a usage cell not grouped by model.
with source as (
    select * from {{ source('bronze', 'openai_costs') }}
    where usage_date = {{ usage_date() }}
),

latest_delivery as (
    select * from source
    qualify folder_date = max(folder_date) over ()
),

-- a page delivered twice under two names (same content hash) counts once
distinct_pages as (
    select * from latest_delivery
    qualify source_file = min(source_file) over (partition by file_sha256)
),

parsed as (
    select
        *,
        regexp_extract(
            line_item,
            '^(?:([a-z_]+) \| )?(.+?)(?: (text|audio|image))?, (input|output|cached input|cache writes?)(, long context)?$',  -- noqa: LT05
            ['tier', 'model', 'modality', 'kind', 'long_context']
        ) as label
    from distinct_pages
),

final as (
    select
        parsed.usage_date,
        'openai' as provider,
        coalesce(parsed.project_id, '__all__') as billing_account,
        nullif(label.model, '') as model,
        case label.kind
            when 'input' then 'uncached_input'
            when 'cached input' then 'cache_read'
            when 'cache writes' then 'cache_write_5m'
            when 'cache write' then 'cache_write_5m'
            when 'output' then 'output'
        end as token_class,
        case
            when parsed.line_item is null or label.kind = '' then '__all__'
            else concat_ws(
                '+', coalesce(nullif(lower(label.tier), ''), 'standard'),
                case when label.long_context <> '' then 'long_context' end,
                case when label.modality in ('audio', 'image') then label.modality end
            )
        end as price_tier,
        parsed.amount as cost_usd,
        -- the billed tokens of a token line (quantity in `tokens` or `1000_tokens`; no unit: tokens)
        case
            when
                label.kind <> ''
                and parsed.quantity = floor(parsed.quantity)
                and coalesce(parsed.quantity_unit, 'tokens') = 'tokens'
                then parsed.quantity::bigint
            when
                label.kind <> ''
                and parsed.quantity * 1000 = floor(parsed.quantity * 1000)
                and parsed.quantity_unit = '1000_tokens'
                then (parsed.quantity * 1000)::bigint
        end as quantity_tokens,
        parsed.line_item,
        case
            when parsed.line_item is null then 'unsplit'
            when label.kind = '' then 'non_token'
            else 'token'
        end as line_kind
    from parsed
)

select * from final
