-- What re-publishing a day changes, per row: the day's mart as it was (`published`) against the
-- one just computed (`incoming`), both registered Arrow tables. Rows whose status and every
-- class are unchanged are left out; a day never published before records nothing.
with compared as (
    select
        $restated_at::timestamptz as restated_at,
        coalesce(incoming.usage_date, published.usage_date) as usage_date,
        coalesce(incoming.provider, published.provider) as provider,
        coalesce(incoming.billing_account, published.billing_account) as billing_account,
        coalesce(incoming.model, published.model) as model,
        coalesce(incoming.price_tier, published.price_tier)::varchar as price_tier,
        published.status::varchar as old_status,
        incoming.status::varchar as new_status,
        published.invoice_cost_usd::decimal(38, 12) as old_invoice_cost_usd,
        incoming.invoice_cost_usd::decimal(38, 12) as new_invoice_cost_usd,
        (coalesce(incoming.invoice_cost_usd, 0) - coalesce(published.invoice_cost_usd, 0))::decimal(38, 12)
            as invoice_delta_usd,
        (coalesce(incoming.user_cost_usd, 0) - coalesce(published.user_cost_usd, 0))::decimal(38, 12)
            as user_delta_usd,
        (coalesce(incoming.background_cost_usd, 0) - coalesce(published.background_cost_usd, 0))::decimal(38, 12)
            as background_delta_usd,
        (coalesce(incoming.retry_cost_usd, 0) - coalesce(published.retry_cost_usd, 0))::decimal(38, 12)
            as retry_delta_usd,
        (coalesce(incoming.unlogged_cost_usd, 0) - coalesce(published.unlogged_cost_usd, 0))::decimal(38, 12)
            as unlogged_delta_usd,
        (coalesce(incoming.non_token_cost_usd, 0) - coalesce(published.non_token_cost_usd, 0))::decimal(38, 12)
            as non_token_delta_usd,
        published.reconciled_at::timestamptz as old_reconciled_at
    from published
    full outer join incoming
        using (usage_date, provider, billing_account, model, price_tier)
)

select * from compared
where
    exists (select 1 as any_row from published)
    and (
        old_status is distinct from new_status
        or invoice_delta_usd <> 0
        or user_delta_usd <> 0
        or background_delta_usd <> 0
        or retry_delta_usd <> 0
        or unlogged_delta_usd <> 0
        or non_token_delta_usd <> 0
    )
order by usage_date, provider, billing_account, model, price_tier
