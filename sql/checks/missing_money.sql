-- Providers whose logs recorded calls on the day while their whole invoice for it is $0: no
-- usage and no cost rows at all, or an export that came back empty. (A day whose cost export
-- has not arrived but whose usage has is priced from the catalog, so it is not $0 here.)
select
    provider,
    sum(logged_calls)::bigint as logged_calls,
    sum(invoice_cost_usd) as invoice_cost_usd,
    string_agg(distinct status, ', ' order by status) as status
from read_parquet($path)
group by provider
having sum(logged_calls) > 0 and sum(invoice_cost_usd) = 0
order by provider
