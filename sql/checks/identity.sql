-- Rows of fct_spend_reconciliation where the classes do not add up to the invoice.
select
    count(*) as violations,
    coalesce(max(abs(invoice_cost_usd - (
        user_cost_usd + background_cost_usd + retry_cost_usd + unlogged_cost_usd + non_token_cost_usd
    ))), 0) as worst_gap_usd
from read_parquet($path)
where
    invoice_cost_usd <> user_cost_usd + background_cost_usd + retry_cost_usd
    + unlogged_cost_usd + non_token_cost_usd
    or unlogged_cost_usd < 0
