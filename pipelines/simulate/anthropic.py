"""Anthropic Admin API pages (usage_report/messages and cost_report), from the billed calls.

Layout under the source root (one folder per usage day, holding only that day's buckets):

    anthropic/usage_report/<day>/page-001.json .. page-003.json   1h buckets, 8 per page, grouped by
                                                                  workspace_id, model, service_tier,
                                                                  context_window
    anthropic/cost_report/<day>/page-001.json                      one 1d bucket, by workspace_id and
                                                                  description

As documented: `workspace_id` is null for the default workspace; `uncached_input_tokens` excludes
cache reads and writes; cost `amount` is a decimal string in CENTS (exact: dollars x 100); Priority
Tier usage is in the usage report and absent from the cost report (its catalog cost is returned
separately: it is on the invoice all the same). Tokens are summed by Polars; only per-group sums
become JSON.
"""

from __future__ import annotations

import base64
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl

from .pricing import (
    CACHE_READ,
    CACHE_WRITE_1H,
    CACHE_WRITE_5M,
    LONG_CONTEXT,
    OUTPUT,
    UNCACHED_INPUT,
    CostLine,
    dumps,
    tier_cost,
    usd,
)
from .providers import ANTHROPIC, WORKSPACE_APP, WORKSPACE_DEFAULT
from .truth import class_tokens
from .world import HOUR_MS, day_start_ms

HOURS_PER_PAGE = 8
CONTEXT_WINDOW = "0-200k"  # every simulated call stays under 200k input tokens...
LONG_CONTEXT_WINDOW = "200k-1M"  # ...but those a planted long-context day inflates (plants_pricing)
CATALOG_TIERS = ("priority", "priority_on_demand")  # not in cost_report
WEB_SEARCH_CENTS = Decimal(1)  # $10 per 1,000 searches
MODEL_DISPLAY = {"claude-sonnet-4-5-20250929": "Claude Sonnet 4.5", "claude-haiku-4-5-20251001": "Claude Haiku 4.5"}
TOKEN_TYPES = {  # token class -> (cost_report token_type, description suffix)
    UNCACHED_INPUT: ("uncached_input_tokens", "Input Tokens"),
    CACHE_READ: ("cache_read_input_tokens", "Cache Read Input Tokens"),
    CACHE_WRITE_5M: ("cache_creation.ephemeral_5m_input_tokens", "5m Cache Write Input Tokens"),
    CACHE_WRITE_1H: ("cache_creation.ephemeral_1h_input_tokens", "1h Cache Write Input Tokens"),
    OUTPUT: ("output_tokens", "Output Tokens"),
}


def write_anthropic_day(sources: Path, day: date, calls: pl.DataFrame) -> tuple[list[Path], list[CostLine], Decimal]:
    """Write one usage day of Anthropic reports; returns the files, the cost report's lines (in
    dollars) and the catalog cost of the Priority Tier usage the cost report leaves out."""
    calls = calls.filter(pl.col("provider") == ANTHROPIC).with_columns(**class_tokens())
    t0 = day_start_ms(day)
    files = _usage_pages(sources, day, t0, calls)
    standard = calls.filter(~pl.col("service_tier").is_in(CATALOG_TIERS))
    lines = _token_lines(day, standard)
    searches = int(calls.filter(pl.col("billing_account") == WORKSPACE_APP)["web_search_requests"].sum())
    if searches:
        lines.append(CostLine(WORKSPACE_APP, "Web Search Usage", (WEB_SEARCH_CENTS * searches).scaleb(-2)))
    lines.sort(key=lambda c: (c.billing_account, c.line_item))
    results = [_cost_result(c) for c in lines]
    bucket = {"starting_at": _rfc3339(t0), "ending_at": _rfc3339(t0 + 24 * HOUR_MS), "results": results}
    path = sources / "anthropic" / "cost_report" / day.isoformat() / "page-001.json"
    files.append(_write(path, {"data": [bucket], "has_more": False, "next_page": None}))
    catalog = sum((c.amount for c in _token_lines(day, calls.filter(pl.col("service_tier").is_in(CATALOG_TIERS)))),
                  Decimal(0))
    return files, lines, catalog


def _workspace_id(account: str) -> str | None:
    return None if account == WORKSPACE_DEFAULT else account


def _long(calls: pl.DataFrame) -> list[str]:
    """The long-context flag as a grouping key, where a planted world's calls carry it."""
    return ["long_context"] if "long_context" in calls.columns else []


def _usage_pages(sources: Path, day: date, t0: int, calls: pl.DataFrame) -> list[Path]:
    keys = ["hour", "billing_account", "model", "service_tier", *_long(calls)]
    hourly = (
        calls.with_columns(hour=((pl.col("ts_ms") - t0) // HOUR_MS).cast(pl.Int64))
        .group_by(keys)
        .agg(pl.col(list(TOKEN_TYPES)).sum(), pl.col("web_search_requests").sum())
        .sort(keys)
    )
    by_hour: dict[int, list[dict]] = {h: [] for h in range(24)}
    for r in hourly.iter_rows(named=True):  # one row per hour and group, not per call
        by_hour[r["hour"]].append(
            {
                "uncached_input_tokens": r[UNCACHED_INPUT],
                "cache_read_input_tokens": r[CACHE_READ],
                "cache_creation": {"ephemeral_5m_input_tokens": r[CACHE_WRITE_5M],
                                   "ephemeral_1h_input_tokens": r[CACHE_WRITE_1H]},
                "output_tokens": r[OUTPUT],
                "server_tool_use": {"web_search_requests": r["web_search_requests"]},
                "workspace_id": _workspace_id(r["billing_account"]),
                "api_key_id": None,
                "account_id": None,
                "service_account_id": None,
                "model": r["model"],
                "service_tier": r["service_tier"],
                "context_window": LONG_CONTEXT_WINDOW if r.get("long_context") else CONTEXT_WINDOW,
                "inference_geo": None,
            }
        )
    buckets = [
        {"starting_at": _rfc3339(t0 + h * HOUR_MS), "ending_at": _rfc3339(t0 + (h + 1) * HOUR_MS),
         "results": by_hour[h]}
        for h in range(24)
    ]
    folder = sources / "anthropic" / "usage_report" / day.isoformat()
    n_pages = 24 // HOURS_PER_PAGE
    files = []
    for p in range(n_pages):
        last = p == n_pages - 1
        cursor = None if last else _cursor(buckets[(p + 1) * HOURS_PER_PAGE]["starting_at"])
        page = {"data": buckets[p * HOURS_PER_PAGE: (p + 1) * HOURS_PER_PAGE], "has_more": not last,
                "next_page": cursor}
        files.append(_write(folder / f"page-{p + 1:03d}.json", page))
    return files


def _token_lines(day: date, calls: pl.DataFrame) -> list[CostLine]:
    """Cost lines per workspace, model and token class: tokens x billed rate, exactly (a planted
    long-context request's at the long-context rates, on lines of their own)."""
    keys = ["billing_account", "model", *_long(calls)]
    daily = calls.group_by(keys).agg(pl.col(list(TOKEN_TYPES)).sum()).sort(keys)
    lines = []
    for r in daily.iter_rows(named=True):
        tier = LONG_CONTEXT if r.get("long_context") else "standard"
        for token_class, (_, suffix) in TOKEN_TYPES.items():
            if r[token_class] > 0:
                lines.append(CostLine(
                    billing_account=r["billing_account"],
                    line_item=f"{MODEL_DISPLAY[r['model']]} {'Long Context ' if r.get('long_context') else ''}"
                              f"Usage - {suffix}",
                    amount=tier_cost(ANTHROPIC, r["model"], day, token_class, r[token_class], tier),
                    model=r["model"],
                    token_class=token_class,
                    quantity=int(r[token_class]),
                    price_tier=LONG_CONTEXT if r.get("long_context") else None,
                ))
    return lines


def _cost_result(c: CostLine) -> dict:
    token = c.token_class is not None
    return {
        "amount": cents(c.amount),
        "currency": "USD",
        "workspace_id": _workspace_id(c.billing_account),
        "description": c.line_item,
        "cost_type": "tokens" if token else "web_search",
        "model": c.model,
        "token_type": TOKEN_TYPES[c.token_class][0] if token else None,
        "service_tier": "standard" if token else None,
        "context_window": (LONG_CONTEXT_WINDOW if c.price_tier == LONG_CONTEXT else CONTEXT_WINDOW) if token else None,
        "inference_geo": None,
    }


def cents(dollars: Decimal) -> str:
    """Dollars as the cost report writes them: a decimal string of cents, at least 6 decimals."""
    value = dollars.scaleb(2)
    return usd(value.quantize(Decimal("0.000001")) if value.as_tuple().exponent >= -6 else value)


def _rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cursor(next_start: str) -> str:
    return "page_" + base64.b64encode(next_start.encode()).decode()


def _write(path: Path, page: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(page))
    return path

