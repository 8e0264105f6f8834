"""Two plants for the cost-tail and savings marts (issue 14, items 4 and 6), each off by default.

`with_realtime_bulk`: a nightly bulk job type, `nightly_enrichment` (`BULK_JOB_TYPE`), billed at
real-time rates although nobody waits for it. It re-runs the day's `ingest_summarization` work
(`BULK_SOURCE`: every first attempt that succeeded with its usage logged, on the same provider,
account, model and tokens) as scheduled jobs between 01:00 and 04:00 UTC: trigger `schedule`, no
parent request, a queue of its own, new job and response ids. The provider's batch tier would
have priced it at half (fct_savings_opportunities). Its calls are added to the day, billed and
logged (flat lines), so the exports and the truth count them.

`with_expensive_tail`: an expensive query class on one feature: the `TAIL_FEATURE` calls of the
requests whose id ends in two hex digits below `TAIL_HEX` (8 of 256, about 3%) carry
`TAIL_FACTOR` times every token class, so they cost 50 times as much in their cell
(fct_cost_tail's p99 and top-1% share).

No random draw in either: the rest of the world keeps its bytes.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from .world import HOUR_MS, day_start_ms, hex_ids

BULK_JOB_TYPE = "nightly_enrichment"
BULK_SOURCE = "ingest_summarization"
BULK_QUEUE = "enrichment"
BULK_START_HOUR, BULK_HOURS = 1, 3  # 01:00 to 04:00 UTC

TAIL_FEATURE = "autocomplete"
TAIL_FACTOR = 50
TAIL_HEX = 8
TAIL_TOKENS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")


def is_tail() -> pl.Expr:
    """The calls of the expensive query class (an expression over `request_id` and `feature`)."""
    last = pl.col("request_id").str.slice(-2).str.to_integer(base=16, strict=False)
    return ((pl.col("feature") == TAIL_FEATURE) & (last < TAIL_HEX)).fill_null(False)


def with_expensive_tail(calls: pl.DataFrame) -> pl.DataFrame:
    """`TAIL_FACTOR` x every token class of the tail calls (audio parts too, where the world has them)."""
    tail = is_tail()
    scaled = [c for c in (*TAIL_TOKENS, "input_audio_tokens", "cached_audio_tokens", "output_audio_tokens")
              if c in calls.columns]
    return calls.with_columns(**{c: pl.when(tail).then(pl.col(c) * TAIL_FACTOR).otherwise(pl.col(c)) for c in scaled})


def with_realtime_bulk(calls: pl.DataFrame, day: date, seed: int) -> pl.DataFrame:
    """The day's calls plus `BULK_JOB_TYPE`'s (see the module docstring), appended at the end."""
    source = calls.filter(
        (pl.col("origin") == "worker") & (pl.col("job_type") == BULK_SOURCE) & (pl.col("attempt") == 1)
        & (pl.col("status") == "ok") & pl.col("usage_logged") & pl.col("corrupt_cut").is_null()
    )
    n = source.height
    if n == 0:
        return calls
    job = source["job_id"].rank("dense").cast(pl.Int64).to_numpy() - 1
    job_ids = hex_ids("job_", day, 11, seed, int(job.max()) + 1).gather(job)
    chat, msg = hex_ids("chatcmpl-", day, 12, seed, n), "msg_" + hex_ids("", day, 13, seed, n)
    uuid = hex_ids("", day, 14, seed, n) + hex_ids("", day, 15, seed, n)
    bedrock_id = pl.concat_str([uuid.str.slice(0, 8), uuid.str.slice(8, 4), uuid.str.slice(12, 4),
                                uuid.str.slice(16, 4), uuid.str.slice(20, 12)], separator="-")
    t0 = day_start_ms(day)
    provider = pl.col("provider")
    planted = source.with_columns(
        job_type=pl.lit(BULK_JOB_TYPE),
        queue=pl.lit(BULK_QUEUE),
        trigger=pl.lit("schedule"),
        parent_request_id=pl.lit(None, dtype=pl.String),
        job_id=job_ids,
        response_id=pl.when(provider == "openai").then(chat).when(provider == "anthropic").then(msg)
        .otherwise(bedrock_id),
        ts_ms=t0 + BULK_START_HOUR * HOUR_MS + (pl.col("ts_ms") - t0) % (BULK_HOURS * HOUR_MS),
        late=pl.lit(False),
        meta_job_type=pl.when(pl.col("meta_job_type").is_not_null()).then(pl.lit(BULK_JOB_TYPE)),
        meta_attempt=pl.lit(None, dtype=calls.schema["meta_attempt"]),
        **({"log_format": pl.lit("flat"), "otlp_pair": pl.lit(False)} if "log_format" in calls.columns else {}),
    )
    return pl.concat([calls, planted.select(calls.columns)], how="vertical")
