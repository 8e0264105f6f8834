-- The report's retry amplification section: per provider, billing account and model over the
-- period, the requests the provider counted against the calls the logs recorded, and what the
-- requests no log saw cost. amplification_ratio is over the days that have one (the provider
-- counted requests and an app or worker log recorded calls); the provider's requests are NULL
-- where it counts none (Anthropic). The $top most amplified cells, then by unseen dollars.
select
    provider,
    billing_account,
    model,
    case when bool_or(provider_requests is null) then null else sum(provider_requests) end as provider_requests,
    sum(logged_calls) as logged_calls,
    sum(logged_retries) as logged_retries,
    case when bool_or(unseen_requests is null) then null else sum(unseen_requests) end as unseen_requests,
    round(
        sum(provider_requests) filter (where amplification_ratio is not null)
        / sum(logged_calls) filter (where amplification_ratio is not null),
        2
    )::decimal(18, 2) as amplification_ratio,
    sum(unseen_cost_usd) as unseen_cost_usd,
    case
        when sum(invoice_cost_usd) <> 0 then round(sum(unseen_cost_usd) / sum(invoice_cost_usd), 4)
    end::decimal(18, 4) as unseen_cost_share
from fct_retry_amplification
where usage_date between $date_from and $date_to
group by provider, billing_account, model
order by
    amplification_ratio desc nulls last, unseen_cost_usd desc nulls last, provider asc, billing_account asc, model asc
limit $top
