"""The ground truth: what a perfect reconciliation of the written files must report.

Every billed call gets one class key:

- `user` (reported as `user_usd`): attempt 1 of an app call whose log line carries usage;
- `<job_type>`: attempt 1 of a worker call whose log line carries usage;
- `retry:<job_type or feature>`: attempt >= 2 of a call whose log line carries usage;
- on Bedrock only, a call no log line accounts for but whose invocation log carries
  `requestMetadata.job_type` counts under that job type (`retry:<job_type>` when its
  `requestMetadata.attempt` is 2 or more);
- `__unlogged__`: anything else (the non-logging service, SDK-internal hidden attempts, calls
  logged without usage, calls whose line was corrupted). A call logged without usage stays here
  even with request metadata: its log line claims it, so the invocation log does not.

Tokens are summed per (key, model, token class) by Polars and priced with exact Decimal catalog
rates, so the classes add up to the token cost lines exactly; non-token lines appear in
`invoice_usd` and `non_token_usd` only. Anthropic Priority Tier usage is in no cost export: it
is priced at catalog rates, added to the invoice and reported as `catalog_priced_usd`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import polars as pl

from .pricing import (
    CACHE_READ,
    CACHE_WRITE_1H,
    CACHE_WRITE_5M,
    OUTPUT,
    UNCACHED_INPUT,
    CostLine,
    price_tier,
    tier_cost,
    usd,
)
from .world import count

USER, UNLOGGED = "__user__", "__unlogged__"


def classify(calls: pl.DataFrame) -> pl.DataFrame:
    """Add `unlogged_origin` and `class_key` to the billed calls."""
    logged = pl.col("origin").is_in(["app", "worker"])
    parsed = logged & pl.col("corrupt_cut").is_null()  # a log line a parser reads
    tagged = pl.col("meta_job_type").is_not_null()  # Bedrock requestMetadata job type
    unlogged_origin = (
        pl.when(parsed & ~pl.col("usage_logged")).then(pl.lit("usage_unknown"))
        .when(parsed | tagged).then(pl.lit(None, dtype=pl.String))
        .when(pl.col("origin") == "digest").then(pl.lit("non_logging_service"))
        .when(pl.col("origin") == "sdk_retry").then(pl.lit("sdk_retry"))
        .when(logged).then(pl.lit("corrupt_line"))
    )
    key = (
        pl.when(pl.col("unlogged_origin").is_not_null()).then(pl.lit(UNLOGGED))
        .when(~parsed & (pl.col("meta_attempt") >= 2)).then(pl.lit("retry:") + pl.col("meta_job_type"))
        .when(~parsed).then(pl.col("meta_job_type"))
        .when(pl.col("attempt") >= 2).then(pl.lit("retry:") + pl.coalesce("job_type", "feature"))
        .when(pl.col("job_type").is_not_null()).then(pl.col("job_type"))
        .otherwise(pl.lit(USER))
    )
    return calls.with_columns(unlogged_origin=unlogged_origin).with_columns(class_key=key)


def class_tokens() -> dict[str, pl.Expr]:
    """Disjoint billed token classes of a call (input_tokens includes cache reads and writes)."""
    write = pl.col("cache_write_tokens")
    return {
        UNCACHED_INPUT: pl.col("input_tokens") - pl.col("cache_read_tokens") - write,
        CACHE_READ: pl.col("cache_read_tokens"),
        CACHE_WRITE_5M: pl.when(pl.col("cache_ttl") == "1h").then(0).otherwise(write),
        CACHE_WRITE_1H: pl.when(pl.col("cache_ttl") == "1h").then(write).otherwise(0),
        OUTPUT: pl.col("output_tokens"),
    }


# the audio part of a token class, where the world has audio (simulate(audio=True))
AUDIO_OF = {UNCACHED_INPUT: "input_audio_tokens", CACHE_READ: "cached_audio_tokens", OUTPUT: "output_audio_tokens"}


def priced(provider: str, day: date, calls: pl.DataFrame, key: str) -> dict[str, Decimal]:
    """Exact catalog cost, at each call's price tier, per value of `key` (rows with a null key are
    left out); a call's audio tokens at the model's audio rates."""
    classes = class_tokens()
    audio = {token_class: column for token_class, column in AUDIO_OF.items() if column in calls.columns}
    sums = (
        calls.filter(pl.col(key).is_not_null())
        .with_columns(price_tier=price_tier("long_context" in calls.columns))
        .group_by([key, "model", "price_tier"])
        .agg(**{name: expr.sum() for name, expr in classes.items()},
             **{f"{name}__audio": pl.col(column).sum() for name, column in audio.items()})
        .sort([key, "model", "price_tier"])
    )
    out: dict[str, Decimal] = defaultdict(Decimal)
    for r in sums.iter_rows(named=True):  # one row per key, model and tier
        for token_class in classes:
            audio_tokens = r.get(f"{token_class}__audio") or 0
            if r[token_class] - audio_tokens:
                out[r[key]] += tier_cost(provider, r["model"], day, token_class, r[token_class] - audio_tokens,
                                         r["price_tier"])
            if audio_tokens:
                out[r[key]] += tier_cost(provider, r["model"], day, token_class, audio_tokens, r["price_tier"],
                                         "audio")
    return dict(out)


def day_truth(provider: str, day: date, calls: pl.DataFrame, cost_lines: list[CostLine],
              catalog_priced: Decimal = Decimal(0)) -> dict:
    """The truth of one provider and usage day (calls: that day's billed calls, every provider).

    `cost_lines` are the provider's invoice lines for the day; `catalog_priced` is billed usage
    no cost export covers (Anthropic Priority Tier), priced at catalog rates."""
    calls = classify(calls.filter(pl.col("provider") == provider))
    by_key = priced(provider, day, calls, "class_key")
    by_origin = priced(provider, day, calls, "unlogged_origin")
    invoice = sum((c.amount for c in cost_lines), Decimal(0)) + catalog_priced
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
        "catalog_priced_usd": usd(catalog_priced),
        "unlogged_by_origin": {k: usd(by_origin[k]) for k in sorted(by_origin)},
        "provider_requests": count(calls),
        "logged_calls": count(logged.filter(pl.col("corrupt_cut").is_null())),
        "usage_unknown_calls": count(logged.filter(~pl.col("usage_logged") & pl.col("corrupt_cut").is_null())),
        "corrupt_lines": count(logged.filter(pl.col("corrupt_cut").is_not_null())),
    }
