"""Parse Anthropic Admin API report pages (as delivered, one JSON page per file).

`usage_report/messages` pages give token counts per bucket and group; `cost_report` pages give
money per day, workspace and description, as a decimal string in CENTS. Pure functions, no
Dagster. Pages are small (one result per group and bucket), so a loop over results is fine;
money goes from the JSON string to an exact Decimal, never through a float.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from pipelines.lib.bronze.anthropic import ANTHROPIC_COSTS, ANTHROPIC_USAGE
from pipelines.lib.ingest import Ingested
from pipelines.lib.money import to_decimal
from pipelines.lib.pages import Rejected, parse_pages
from pipelines.lib.store import SourceFile

USAGE_SOURCE, COSTS_SOURCE = "anthropic/usage_report", "anthropic/cost_report"

MAX_COUNT = 2**63 - 1

# bronze column -> where the usage result holds it (all required)
USAGE_TOKENS = {
    "uncached_input_tokens": ("uncached_input_tokens",),
    "cache_read_input_tokens": ("cache_read_input_tokens",),
    "cache_creation_5m_input_tokens": ("cache_creation", "ephemeral_5m_input_tokens"),
    "cache_creation_1h_input_tokens": ("cache_creation", "ephemeral_1h_input_tokens"),
    "output_tokens": ("output_tokens",),
}
WEB_SEARCH = ("server_tool_use", "web_search_requests")  # optional

# grouping values: null unless the report was grouped by them (workspace_id null = default workspace)
USAGE_DIMENSIONS = ("workspace_id", "api_key_id", "account_id", "service_account_id", "model", "service_tier",
                    "context_window", "inference_geo", "speed")
COST_DIMENSIONS = ("workspace_id", "description", "cost_type", "model", "token_type", "service_tier",
                   "context_window", "inference_geo", "speed")


def parse_usage_pages(files: Iterable[SourceFile], folder_date: date) -> Ingested:
    """`usage_report/messages` pages -> one row per result (a bucket and group), token counts
    as reported: `uncached_input_tokens` EXCLUDES cache reads and writes."""
    return _parse_pages(files, USAGE_SOURCE, folder_date, ANTHROPIC_USAGE, _usage_row)


def parse_cost_pages(files: Iterable[SourceFile], folder_date: date) -> Ingested:
    """`cost_report` pages -> one row per result, `amount_usd` = the cents string / 100, exact."""
    return _parse_pages(files, COSTS_SOURCE, folder_date, ANTHROPIC_COSTS, _cost_row)


def _parse_pages(
    files: Iterable[SourceFile], source: str, folder_date: date, schema: pa.Schema, to_row: Callable[[dict], dict]
) -> Ingested:
    """`line` is the result's ordinal in the file (a bucket that cannot be read counts as one
    line); a whole-file problem is one line without a number."""
    return parse_pages(files, source, folder_date, schema, to_row=to_row, bucket_times=_bucket_times,
                       bucket_results=_results)


def _bucket_times(bucket: dict) -> tuple[datetime, datetime]:
    """The bucket's `starting_at` (inclusive) and `ending_at` (exclusive) in UTC; a bucket must
    lie within one UTC day (`1m`, `1h` or `1d` buckets all do)."""
    start, end = _timestamp(bucket, "starting_at"), _timestamp(bucket, "ending_at")
    if end <= start:
        raise Rejected("bucket ending_at is not after starting_at")
    try:
        next_midnight = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    except OverflowError:
        raise Rejected(f"bucket starting_at is beyond the calendar: {bucket.get('starting_at')!r}") from None
    if end > next_midnight:
        raise Rejected("bucket spans more than one UTC day")
    return start, end


def _timestamp(bucket: dict, name: str) -> datetime:
    value = bucket.get(name)
    if not isinstance(value, str):
        raise Rejected(f"bucket {name} is not an RFC 3339 string: {value!r}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected(f"bucket {name} is not an RFC 3339 timestamp: {value!r}") from None
    if ts.tzinfo is None:
        raise Rejected(f"bucket {name} has no UTC offset: {value!r}")
    try:
        return ts.astimezone(timezone.utc)
    except OverflowError:
        raise Rejected(f"bucket {name} is beyond the calendar: {value!r}") from None


def _results(bucket: dict) -> list:
    results = bucket.get("results")
    if not isinstance(results, list):
        raise Rejected("bucket has no 'results' list")
    return results


def _usage_row(r: dict) -> dict:
    row = _dimensions(r, USAGE_DIMENSIONS)
    for column, path in USAGE_TOKENS.items():
        value = _at(r, path)
        if value is None:
            raise Rejected(f"missing {'.'.join(path)}")
        row[column] = _count(value, path)
    searches = _at(r, WEB_SEARCH)
    row["web_search_requests"] = None if searches is None else _count(searches, WEB_SEARCH)
    return row


def _cost_row(r: dict) -> dict:
    currency = r.get("currency")
    if not isinstance(currency, str) or currency.strip().upper() != "USD":
        raise Rejected(f"currency {currency!r} is not USD")
    if r.get("amount") is None:
        raise Rejected("missing amount")
    row = _dimensions(r, COST_DIMENSIONS)
    row.update(amount_usd=_cents_to_dollars(r["amount"]), currency="USD")
    return row


def _cents_to_dollars(value: Any) -> Decimal:
    """A cost_report `amount` (cents, a decimal string; fractional cents occur) as dollars,
    exact to the picodollar: `"41280.000000"` -> 412.80, `"123.78912"` -> 1.2378912."""
    if isinstance(value, str):
        try:
            cents = Decimal(value.strip())
        except InvalidOperation:
            raise Rejected(f"amount is not a decimal string: {value!r}") from None
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        cents = Decimal(value)
    else:
        raise Rejected(f"amount must be a decimal string of cents, got {type(value).__name__}")
    if not cents.is_finite():
        raise Rejected(f"amount is not a finite number: {value!r}")
    try:
        dollars = cents.scaleb(-2)
    except ArithmeticError:
        raise Rejected(f"amount {value!r} is out of range") from None
    return to_decimal(dollars)


def _dimensions(r: dict, names: tuple[str, ...]) -> dict:
    row = {}
    for name in names:
        value = r.get(name)
        if value is not None and not isinstance(value, str):
            raise Rejected(f"{name} is not a string or null: {value!r}")
        row[name] = value
    return row


def _at(r: dict, path: tuple[str, ...]) -> Any:
    """The value at `path` in nested objects, None when a key is absent."""
    value: Any = r
    for i, key in enumerate(path):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise Rejected(f"{'.'.join(path[:i])} is not a JSON object")
        value = value.get(key)
    return value


def _count(value: Any, path: tuple[str, ...]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise Rejected(f"{'.'.join(path)} is not a non-negative 64-bit integer: {value!r}")
    return value
