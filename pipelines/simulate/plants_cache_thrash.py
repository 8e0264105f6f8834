"""A cache-thrash day for one tenant (issue 14): on the planted day every call of the tenant
reads nothing from the prompt cache and writes its prefix again, as when another tenant's launch
has evicted its prefixes. The tenant's input stays the same tokens; what it would have read is
billed as a cache write where the provider bills writes (Anthropic, Bedrock; with the TTL its
billing account writes with), and as uncached input on OpenAI (whose cache writes are free and
not counted). Hidden SDK retries of its calls (their rows carry no tenant) keep their reads.

`cache_thrash(calls, day, plant)` transforms one day's calls (world.generate_day's frame);
`planted(calls, plant)` sums what the tenant's logged calls carry, for the ground truth. No random
draw: a world without the plant keeps its bytes, and with it every other tenant's calls do.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from .providers import CACHE_1H_ACCOUNTS, OPENAI

Plant = tuple[str, date]  # (tenant_id, the day its cache thrashes)


def _thrashing(day: date, plant: Plant | None) -> pl.Expr | None:
    if plant is None or plant[1] != day:
        return None
    return pl.col("tenant_id").eq(plant[0]).fill_null(False)


def cache_thrash(calls: pl.DataFrame, day: date, plant: Plant | None) -> pl.DataFrame:
    """The day's calls with the planted tenant's cache thrashing, when `day` is the planted day."""
    hit = _thrashing(day, plant)
    if hit is None:
        return calls
    prefix = pl.col("cache_read_tokens") + pl.col("cache_write_tokens")
    write = pl.when(hit).then(pl.when(pl.col("provider") == OPENAI).then(0).otherwise(prefix)).otherwise(
        pl.col("cache_write_tokens"))
    ttl = pl.when(pl.col("billing_account").is_in(CACHE_1H_ACCOUNTS)).then(pl.lit("1h")).otherwise(pl.lit("5m"))
    return calls.with_columns(
        cache_read_tokens=pl.when(hit).then(0).otherwise(pl.col("cache_read_tokens")).cast(pl.Int64),
        cache_write_tokens=write.cast(pl.Int64),
    ).with_columns(
        cache_ttl=pl.when(hit & (pl.col("cache_write_tokens") > 0)).then(ttl).otherwise(pl.col("cache_ttl")),
    )


def planted(calls: pl.DataFrame, tenant: str) -> dict:
    """What the tenant's calls that reach the logs with their usage carry on a day (app and
    worker calls, usage logged, the line not corrupted): calls and tokens by class, per provider."""
    logged = calls.filter(
        (pl.col("tenant_id") == tenant) & pl.col("origin").is_in(["app", "worker"]) & pl.col("usage_logged")
        & pl.col("corrupt_cut").is_null()
    )
    rows = logged.group_by("provider").agg(
        calls=pl.len(), input_tokens=pl.col("input_tokens").sum(), cache_read_tokens=pl.col("cache_read_tokens").sum(),
        cache_write_tokens=pl.col("cache_write_tokens").sum(),
    ).sort("provider")
    return {r.pop("provider"): {k: int(v) for k, v in r.items()} for r in rows.to_dicts()}


def truth(plant: Plant, days: dict[str, list[dict]]) -> dict:
    """The ground truth's `cache_thrash`: the tenant, the day, and per day and provider what the
    tenant's logged calls carry (`planted`, the day's shards added up)."""
    summed: dict[str, dict[str, dict[str, int]]] = {}
    for day, shards in days.items():
        for shard in shards:
            for provider, row in shard.items():
                into = summed.setdefault(day, {}).setdefault(provider, dict.fromkeys(row, 0))
                for k, v in row.items():
                    into[k] += v
    return {"tenant": plant[0], "day": plant[1].isoformat(), "days": summed}
