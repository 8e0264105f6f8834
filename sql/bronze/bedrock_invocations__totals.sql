-- Totals of a day's parsed Bedrock invocations (the partition file written at `$path`), for the
-- asset's metadata.
select
    count(distinct request_id) as distinct_requests,
    coalesce(sum(input_tokens), 0) as input_tokens,
    coalesce(sum(cache_read_tokens), 0) as cache_read_tokens,
    coalesce(sum(cache_write_tokens), 0) as cache_write_tokens,
    coalesce(sum(output_tokens), 0) as output_tokens,
    count(job_type) as attributed_by_job_type,
from read_parquet($path)
