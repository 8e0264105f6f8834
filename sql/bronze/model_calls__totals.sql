-- Totals of a day's parsed model calls (`model_calls_records`), for the asset's metadata.
select
    count(*) as calls,
    count(*) filter (where not usage_known) as usage_unknown_calls,
    coalesce(sum(input_tokens), 0) as input_tokens,
    coalesce(sum(output_tokens), 0) as output_tokens,
from model_calls_records
