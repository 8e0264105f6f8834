-- Totals of a day's parsed model calls (the partition file written at `$path`), for the asset's
-- metadata.
select
    count(*) filter (where not usage_known) as usage_unknown_calls,
    coalesce(sum(input_tokens), 0) as input_tokens,
    coalesce(sum(output_tokens), 0) as output_tokens
from read_parquet($path)
