-- OpenAI Costs API lines for one day, dollars as DECIMAL. The display string line_item is parsed
-- into (model, token class); lines that name no token class (web search, storage) are non-token;
-- without line_item grouping a line is an 'unsplit' total, shared out by catalog weights later.
-- Without project_id grouping the line is the organization's ('__all__'), shared out over the
-- projects' usage cells later. The label's tier prefix ('priority | ', 'flex | ', 'batch | ') and
-- long-context suffix (', long context') become price_tier ('standard' without them, e.g.
-- 'priority+long_context'); a line without line_item has price_tier '__all__'.
create or replace temp table stg_openai_costs as
with source as (
    select * from bronze_openai_costs
    where usage_date = $usage_date
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
            '^(?:([a-z_]+) \| )?(.+?), (input|output|cached input|cache writes?)(, long context)?$',
            ['tier', 'model', 'kind', 'long_context']
        ) as label,
    from distinct_pages
)

select
    usage_date,
    'openai' as provider,
    coalesce(project_id, '__all__') as billing_account,
    nullif(label.model, '') as model,
    case label.kind
        when 'input' then 'uncached_input'
        when 'cached input' then 'cache_read'
        when 'cache writes' then 'cache_write_5m'
        when 'cache write' then 'cache_write_5m'
        when 'output' then 'output'
    end as token_class,
    case
        when line_item is null or label.kind = '' then '__all__'
        else concat_ws('+', coalesce(nullif(lower(label.tier), ''), 'standard'),
            case when label.long_context <> '' then 'long_context' end)
    end as price_tier,
    amount as cost_usd,
    quantity,
    line_item,
    case
        when line_item is null then 'unsplit'
        when label.kind = '' then 'non_token'
        else 'token'
    end as line_kind,
from parsed
