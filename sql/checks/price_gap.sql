-- The token rows of fct_spend_diagnosis whose price gap is larger than $share of their invoice
-- (in absolute value; a row with no invoice but a price gap counts too): the list price the
-- catalog gives is not the price the invoice charges (a negotiated price, a stale or missing
-- catalog entry). Non-token rows have no price gap.
select
    provider,
    billing_account,
    model,
    price_tier,
    invoice_cost_usd,
    price_gap_usd,
    effective_price_ratio,
    diagnosis
from read_parquet($path)
where
    model <> '__non_token__'
    and price_gap_usd <> 0
    and abs(price_gap_usd) > $share * abs(invoice_cost_usd)
order by abs(price_gap_usd) desc, provider asc, billing_account asc, model asc, price_tier asc
