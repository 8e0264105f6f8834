"""The ground truth: what a perfect reconciliation of the written logs must report.

Every billed call gets one class key:

- `__unlogged__`: nothing in the logs lets a reconciliation attribute it (the non-logging service,
  SDK-internal hidden attempts, calls logged without usage, calls whose line was corrupted);
- `retry:<job_type or feature>`: attempt >= 2 of a logged call with usage;
- `<job_type>`: attempt 1 of a worker call with usage;
- `user` (reported as `user_usd`): attempt 1 of an app call with usage.

Tokens are summed per (key, model) by Polars and priced with exact Decimal rates, so the classes
add up to the token cost lines exactly; non-token lines appear in `invoice_usd` only.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import polars as pl

from .openai import CostLine
from .pricing import CACHE_READ, OUTPUT, UNCACHED_INPUT, cost, usd

USER, UNLOGGED = "__user__", "__unlogged__"


def classify(calls: pl.DataFrame) -> pl.DataFrame:
    """Add `unlogged_origin` and `class_key` to the billed calls."""
    logged = pl.col("origin").is_in(["app", "worker"])
    unlogged_origin = (
        pl.when(pl.col("origin") == "digest").then(pl.lit("non_logging_service"))
        .when(pl.col("origin") == "sdk_retry").then(pl.lit("sdk_retry"))
        .when(logged & pl.col("corrupt_cut").is_not_null()).then(pl.lit("corrupt_line"))
        .when(logged & ~pl.col("usage_logged")).then(pl.lit("usage_unknown"))
    )
    key = (
        pl.when(pl.col("unlogged_origin").is_not_null()).then(pl.lit(UNLOGGED))
        .when(pl.col("attempt") >= 2).then(pl.lit("retry:") + pl.coalesce("job_type", "feature"))
        .when(pl.col("job_type").is_not_null()).then(pl.col("job_type"))
        .otherwise(pl.lit(USER))
    )
    return calls.with_columns(unlogged_origin=unlogged_origin).with_columns(class_key=key)


def _priced(provider: str, day: date, calls: pl.DataFrame, key: str) -> dict[str, Decimal]:
    sums = (
        calls.filter(pl.col(key).is_not_null())
        .group_by([key, "model"])
        .agg(
            uncached=(pl.col("input_tokens") - pl.col("cache_read_tokens") - pl.col("cache_write_tokens")).sum(),
            cached=pl.col("cache_read_tokens").sum(),
            output=pl.col("output_tokens").sum(),
        )
        .sort([key, "model"])
    )
    out: dict[str, Decimal] = defaultdict(Decimal)
    for r in sums.iter_rows(named=True):  # one row per class and model
        for token_class, tokens in ((UNCACHED_INPUT, r["uncached"]), (CACHE_READ, r["cached"]), (OUTPUT, r["output"])):
            if tokens:
                out[r[key]] += cost(provider, r["model"], day, token_class, tokens)
    return dict(out)


def day_truth(provider: str, day: date, calls: pl.DataFrame, cost_lines: list[CostLine]) -> dict:
    """The truth of one provider and usage day (calls: that day's billed calls of the provider)."""
    calls = classify(calls.filter(pl.col("provider") == provider))
    by_key = _priced(provider, day, calls, "class_key")
    by_origin = _priced(provider, day, calls, "unlogged_origin")
    invoice = sum((c.amount for c in cost_lines), Decimal(0))
    non_token = sum((c.amount for c in cost_lines if c.token_class is None), Decimal(0))
    user = by_key.pop(USER, Decimal(0))
    dark = {k: by_key[k] for k in sorted(by_key) if by_key[k] > 0}
    token_total = user + sum(dark.values(), Decimal(0))
    if token_total + non_token != invoice:  # the simulator's own identity; never expected to fire
        raise AssertionError(f"{provider} {day}: classes {token_total} + non-token {non_token} != invoice {invoice}")
    logged = calls.filter(pl.col("origin").is_in(["app", "worker"]))
    return {
        "invoice_usd": usd(invoice),
        "user_usd": usd(user),
        "dark_usd_by_job_type": {k: usd(v) for k, v in dark.items()},
        "non_token_usd": usd(non_token),
        "unlogged_by_origin": {k: usd(by_origin[k]) for k in sorted(by_origin)},
        "provider_requests": calls.height,
        "logged_calls": logged.filter(pl.col("corrupt_cut").is_null()).height,
        "usage_unknown_calls": logged.filter(~pl.col("usage_logged") & pl.col("corrupt_cut").is_null()).height,
        "corrupt_lines": logged.filter(pl.col("corrupt_cut").is_not_null()).height,
    }
