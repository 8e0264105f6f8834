-- Totals of a day's parsed Bedrock invocations (the partition file written at `$path`), for the
-- asset's metadata.
select
    count(distinct request_id) as distinct_requests,
    coalesce(sum(input_tokens), 0) as input_tokens,
    coalesce(sum(cache_read_tokens), 0) as cache_read_tokens,
    coalesce(sum(cache_write_tokens), 0) as cache_write_tokens,
    coalesce(sum(output_tokens), 0) as output_tokens,
    count(job_type) as attributed_by_job_type,
    count(*) filter (where inference_region is not null and inference_region <> region) as served_in_another_region,
    count(*) filter (where guardrail_action = 'INTERVENED') as guardrail_interventions,
    coalesce(sum(cache_write_1h_tokens), 0) as cache_write_1h_tokens
from read_parquet($path)
