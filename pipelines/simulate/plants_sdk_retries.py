"""Plant: SDK-internal retries on one billing account (`simulate(sdk_retry_account=...)`).

Every attempt the logs record on the account (app or worker, whatever happens to its log line)
is preceded by `SDK_MAX_RETRIES` attempts the client SDK made and retried internally before it
returned: requests that timed out on the client, which the provider completed and billed in
full (the same input and output as the logged attempt), and which no log records. The app's own
retries (logged, attempt >= 2) are retried the same way, so a call the app tried 3 times is
3 x 3 = 9 requests on the wire with at most 3 log lines: the "3x3" of issue 14.

The planted rows are `origin = 'sdk_retry'`, like the world's own hidden attempts
(`world.SDK_RETRY_P`, on all traffic), so the truth classes them as unlogged. No random draw:
the rest of the world keeps its bytes, and a world without the plant is unchanged.
`cells_truth` is the planted truth per cell that the tests compare `fct_retry_amplification` with.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from . import truth
from .world import count, day_start_ms

SDK_MAX_RETRIES = 2  # the OpenAI and Anthropic Python SDKs' default max_retries
SDK_TIMEOUT_MS = 1_000  # the planted attempts are this far apart, before the logged one

# what a hidden attempt keeps of the logged attempt it preceded (the same request, sent again,
# answered in full); everything a log line says is left null
KEPT = ("provider", "billing_account", "model", "request_model", "operation", "batch", "service_tier",
        "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_ttl", "output_tokens",
        "meta_job_type", "meta_attempt", "meta_feature", "input_audio_tokens", "cached_audio_tokens",
        "output_audio_tokens")


def with_sdk_retries(calls: pl.DataFrame, day: date, account: str, retries: int = SDK_MAX_RETRIES) -> pl.DataFrame:
    """`calls` plus `retries` hidden, billed attempts before every logged attempt on `account`
    (every provider's account of that name). Their response ids are the logged attempt's with
    `-sdk<k>` appended (unique: a Bedrock invocation log keys records by it)."""
    logged = calls.filter(pl.col("origin").is_in(["app", "worker"]) & (pl.col("billing_account") == account))
    if retries < 1 or logged.height == 0:
        return calls
    t0 = day_start_ms(day)
    kept = [c for c in KEPT if c in calls.columns]
    hidden = pl.concat([
        logged.select(
            *kept,
            origin=pl.lit("sdk_retry"),
            ts_ms=pl.max_horizontal(pl.lit(t0), pl.col("ts_ms") - (retries - k) * SDK_TIMEOUT_MS - 1),
            attempt=pl.lit(1, dtype=pl.Int64),
            status=pl.lit("error"),
            web_search_requests=pl.lit(0, dtype=pl.Int64),
            response_id=pl.col("response_id") + pl.lit(f"-sdk{k}"),
        )
        for k in range(retries)
    ])
    return pl.concat([calls, hidden], how="diagonal_relaxed")


def cells_truth(provider: str, day: date, billed: pl.DataFrame) -> list[dict]:
    """Per (billing account, model) of `provider`'s billed calls of the day (`world.summarize`
    rows): the requests billed, the calls a log line (or, on Bedrock, request metadata) claims,
    their retries (attempt >= 2), the requests nothing claims (`unseen_requests`: SDK-internal
    attempts, corrupted lines, a service that logs nothing) and of them the SDK-internal ones, and
    the exact catalog cost of the unseen requests (what the invoice bills for them)."""
    calls = truth.classify(billed.filter(pl.col("provider") == provider))
    unseen = pl.col("unlogged_origin").is_not_null() & (pl.col("unlogged_origin") != "usage_unknown")
    rows = []
    for (account, model), cell in calls.sort(["billing_account", "model"]).group_by(
            ["billing_account", "model"], maintain_order=True):
        hidden = cell.filter(unseen).with_columns(key=pl.lit("unseen"))
        cost = truth.priced(provider, day, hidden, "key").get("unseen") if hidden.height else None
        rows.append({
            "billing_account": account,
            "model": model,
            "provider_requests": count(cell),
            "logged_calls": count(cell.filter(~unseen)),
            "logged_retries": count(cell.filter(~unseen & pl.col("class_key").str.starts_with("retry:"))),
            "usage_unknown_calls": count(cell.filter(pl.col("unlogged_origin") == "usage_unknown")),
            "unseen_requests": count(cell.filter(unseen)),
            "sdk_retry_requests": count(cell.filter(pl.col("origin") == "sdk_retry")),
            "unseen_usd": truth.usd(cost) if cost is not None else "0",
        })
    return rows
