"""OpenAI Usage API and Costs API pages, derived from the billed calls at catalog list prices.

Layout under the source root (one folder per usage day, holding only that day's buckets):

    openai/usage/completions/<day>/page-001.json, page-002.json   1h buckets, 12 per page
    openai/usage/embeddings/<day>/page-001.json                    one 1d bucket
    openai/costs/<day>/page-001.json                               one 1d bucket, by project and line item

Tokens are summed per group by Polars; only the per-group sums are turned into JSON (a loop over
a few dozen groups). Cost lines are `tokens x Decimal rate / 1e6`, exactly, at half the rate on
the batch and flex tiers (line items `batch | <model>, input`, ...). A world with audio
(`simulate(audio=True)`) has usage results with `input_audio_tokens` (uncached audio input),
`input_cached_audio_tokens` and `output_audio_tokens`, parts of the totals, and cost lines
`<model> audio, input` (cached input, output) at the catalog's audio rates beside the text lines.

`usage_group_by` and `cost_group_by` are the `group_by` the pages were pulled with (by default the
finest the pull asks for); a dimension left out is null in every result, and results of one group
are summed, as the APIs return them.
"""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from .pricing import CACHE_READ, OUTPUT, TIER_PREFIX, UNCACHED_INPUT, CostLine, dumps, price_tier, tier_cost
from .world import HOUR_MS, day_start_ms

PROVIDER = "openai"
HOURS_PER_PAGE = 12
# Costs API line item suffix per token class.
LINE_ITEM_SUFFIX = {UNCACHED_INPUT: "input", CACHE_READ: "cached input", OUTPUT: "output"}
USAGE_GROUP_BY = ("project_id", "model", "batch", "service_tier")  # what the pull asks for
COST_GROUP_BY = ("project_id", "line_item")
# usage group_by value -> the column of the billed calls it groups
USAGE_COLUMNS = {"project_id": "billing_account", "model": "model", "batch": "batch", "service_tier": "service_tier"}


def write_openai_day(sources: Path, day: date, calls: pl.DataFrame, non_token: list[dict], *,
                     usage_group_by: tuple[str, ...] = USAGE_GROUP_BY,
                     cost_group_by: tuple[str, ...] = COST_GROUP_BY) -> tuple[list[Path], list[CostLine]]:
    """Write one usage day of OpenAI exports, pages grouped as asked; returns the files and the
    cost lines (ungrouped: each line is one project, model, tier and token class)."""
    calls = calls.filter(pl.col("provider") == PROVIDER)
    t0 = day_start_ms(day) // 1000
    files = _completions(sources, day, t0, calls.filter(pl.col("operation") == "chat"), usage_group_by)
    files += _embeddings(sources, day, t0, calls.filter(pl.col("operation") == "embeddings"), usage_group_by)
    lines = _cost_lines(day, calls) + [
        CostLine(billing_account=n["billing_account"], line_item=n["line_item"], amount=n["amount"])
        for n in non_token
        if n["provider"] == PROVIDER
    ]
    lines.sort(key=lambda c: (c.billing_account, c.line_item))
    results = _cost_results(lines, cost_group_by)
    bucket = {"object": "bucket", "start_time": t0, "end_time": t0 + 86_400, "results": results}
    files.append(_write(sources / "openai" / "costs" / day.isoformat() / "page-001.json", _page([bucket], None)))
    return files, lines


# usage result field <- the billed calls' audio column (a world with audio)
AUDIO_FIELDS = {"input_audio_tokens": "input_audio_tokens", "input_cached_audio_tokens": "cached_audio_tokens",
                "output_audio_tokens": "output_audio_tokens"}
# cost line token class -> the usage field of its audio part
AUDIO_CLASS = {UNCACHED_INPUT: "input_audio_tokens", CACHE_READ: "input_cached_audio_tokens",
               OUTPUT: "output_audio_tokens"}


def _sums(calls: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    audio = {field: pl.col(column).sum() for field, column in AUDIO_FIELDS.items() if column in calls.columns}
    return (
        calls.group_by(keys)
        .agg(
            **audio,
            input_tokens=pl.col("input_tokens").sum(),
            input_cached_tokens=pl.col("cache_read_tokens").sum(),
            input_cache_write_tokens=pl.col("cache_write_tokens").sum(),
            output_tokens=pl.col("output_tokens").sum(),
            num_model_requests=pl.col("n").sum() if "n" in calls.columns else pl.len(),
        )
        .with_columns(
            input_uncached_tokens=pl.col("input_tokens")
            - pl.col("input_cached_tokens")
            - pl.col("input_cache_write_tokens")
        )
        .sort(keys)
    )


def _cost_results(lines: list[CostLine], group_by: tuple[str, ...]) -> list[dict]:
    """Costs API results for `group_by`: the lines of one group summed (a few dozen lines)."""
    groups: dict[tuple, list[CostLine]] = {}
    for c in lines:
        key = (c.billing_account if "project_id" in group_by else None, c.line_item if "line_item" in group_by else None)
        groups.setdefault(key, []).append(c)
    results = []
    for (project, line_item), members in groups.items():
        quantities = [c.quantity for c in members]
        quantity = sum(quantities) if line_item is not None and None not in quantities else None
        results.append({
            "object": "organization.costs.result",
            "amount": {"value": sum((c.amount for c in members), Decimal(0)), "currency": "usd"},
            "line_item": line_item,
            "project_id": project,
            "api_key_id": None,
            "quantity": quantity,
            "quantity_unit": None if quantity is None else "tokens",
        })
    return results


def _grouped(group_by: tuple[str, ...], names: tuple[str, ...]) -> dict[str, pl.Expr]:
    """The usage dimensions as the page shows them: null unless grouped by."""
    nulls = {"batch": pl.Boolean}
    return {name: pl.col(USAGE_COLUMNS[name]) if name in group_by else pl.lit(None, dtype=nulls.get(name, pl.String))
            for name in names}


def _completions(sources: Path, day: date, t0: int, calls: pl.DataFrame, group_by: tuple[str, ...]) -> list[Path]:
    dims = _grouped(group_by, ("project_id", "model", "batch", "service_tier"))
    hourly = _sums(
        calls.with_columns(hour=((pl.col("ts_ms") - t0 * 1000) // HOUR_MS).cast(pl.Int64), **dims),
        ["hour", *dims],
    )
    by_hour: dict[int, list[dict]] = {h: [] for h in range(24)}
    for r in hourly.iter_rows(named=True):  # one row per hour and group, not per call
        by_hour[r["hour"]].append(
            {
                "object": "organization.usage.completions.result",
                "input_tokens": r["input_tokens"],
                "input_cached_tokens": r["input_cached_tokens"],
                "input_cache_write_tokens": r["input_cache_write_tokens"],
                "input_uncached_tokens": r["input_uncached_tokens"],
                "output_tokens": r["output_tokens"],
                **{field: r[field] for field in AUDIO_FIELDS if field in r},
                "num_model_requests": r["num_model_requests"],
                "project_id": r["project_id"],
                "user_id": None,
                "api_key_id": None,
                "model": r["model"],
                "batch": r["batch"],
                "service_tier": r["service_tier"],
            }
        )
    buckets = [
        {"object": "bucket", "start_time": t0 + 3600 * h, "end_time": t0 + 3600 * (h + 1), "results": by_hour[h]}
        for h in range(24)
    ]
    folder = sources / "openai" / "usage" / "completions" / day.isoformat()
    files = []
    n_pages = 24 // HOURS_PER_PAGE
    for p in range(n_pages):
        page_buckets = buckets[p * HOURS_PER_PAGE : (p + 1) * HOURS_PER_PAGE]
        cursor = None if p == n_pages - 1 else _cursor(t0 + 3600 * HOURS_PER_PAGE * (p + 1))
        files.append(_write(folder / f"page-{p + 1:03d}.json", _page(page_buckets, cursor)))
    return files


def _embeddings(sources: Path, day: date, t0: int, calls: pl.DataFrame, group_by: tuple[str, ...]) -> list[Path]:
    dims = _grouped(group_by, ("project_id", "model"))
    daily = _sums(calls.with_columns(**dims), list(dims))
    results = [
        {
            "object": "organization.usage.embeddings.result",
            "input_tokens": r["input_tokens"],
            "num_model_requests": r["num_model_requests"],
            "project_id": r["project_id"],
            "user_id": None,
            "api_key_id": None,
            "model": r["model"],
        }
        for r in daily.iter_rows(named=True)
    ]
    bucket = {"object": "bucket", "start_time": t0, "end_time": t0 + 86_400, "results": results}
    path = sources / "openai" / "usage" / "embeddings" / day.isoformat() / "page-001.json"
    return [_write(path, _page([bucket], None))]


def _cost_lines(day: date, calls: pl.DataFrame) -> list[CostLine]:
    daily = _sums(calls.with_columns(price_tier=price_tier()), ["billing_account", "model", "operation", "price_tier"])
    lines = []
    for r in daily.iter_rows(named=True):
        classes = {UNCACHED_INPUT: r["input_uncached_tokens"], CACHE_READ: r["input_cached_tokens"],
                   OUTPUT: r["output_tokens"]}
        if r["operation"] == "embeddings":
            classes = {UNCACHED_INPUT: r["input_tokens"]}
        for token_class, tokens in classes.items():
            audio = (r.get(AUDIO_CLASS[token_class]) or 0) if token_class in AUDIO_CLASS else 0
            for modality, part in (("text", tokens - audio), ("audio", audio)):
                if part > 0:
                    head = r["model"] if modality == "text" else f"{r['model']} {modality}"
                    lines.append(
                        CostLine(
                            billing_account=r["billing_account"],
                            line_item=f"{TIER_PREFIX.get(r['price_tier'], '')}{head}, {LINE_ITEM_SUFFIX[token_class]}",
                            amount=tier_cost(PROVIDER, r["model"], day, token_class, part, r["price_tier"], modality),
                            model=r["model"],
                            token_class=token_class,
                            quantity=int(part),
                        )
                    )
    return lines


def _page(buckets: list[dict], next_page: str | None) -> dict:
    return {"object": "page", "data": buckets, "has_more": next_page is not None, "next_page": next_page}


def _cursor(next_start: int) -> str:
    return "page_" + base64.b64encode(f"bucket:{next_start}".encode()).decode()


def _write(path: Path, page: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(page))
    return path
