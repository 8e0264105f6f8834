-- The cells of fct_retry_amplification whose amplification (the requests the provider counted per
-- call the logs recorded) is above $factor: requests no log saw, such as SDK-internal retries. A
-- cell whose provider counts no requests, or with no logged call, has no ratio and is not listed
-- (a service that logs nothing is fct_dark_compute's unlogged class, not retry amplification).
select
    provider,
    billing_account,
    model,
    provider_requests,
    logged_calls,
    logged_retries,
    unseen_requests,
    amplification_ratio,
    unseen_cost_usd
from read_parquet($path)
where amplification_ratio > $factor
order by amplification_ratio desc, provider asc, billing_account asc, model asc
