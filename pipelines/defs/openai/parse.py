"""Parse OpenAI Usage API and Costs API pages (as delivered, one JSON page per file).

Pure functions, no Dagster. Pages are small (one result per group and bucket), so a loop
over results is fine here; money is parsed as Decimal straight from the JSON literal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timezone
from typing import Any

from pipelines.lib import bronze
from pipelines.lib.ingest import Ingested
from pipelines.lib.money import to_decimal
from pipelines.lib.pages import Rejected, parse_pages
from pipelines.lib.store import SourceFile

USAGE_SCHEMA, COSTS_SCHEMA = bronze.OPENAI_USAGE, bronze.OPENAI_COSTS

MAX_COUNT = 2**63 - 1

# the audio and image parts of input_tokens, input_cached_tokens and output_tokens (null when absent)
MODALITY_FIELDS = (
    "input_audio_tokens",
    "input_cached_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "input_cached_image_tokens",
    "output_image_tokens",
)
USAGE_INT_FIELDS = (
    "input_tokens",
    "input_cached_tokens",
    "input_cache_write_tokens",
    "input_uncached_tokens",
    "output_tokens",
    "num_model_requests",
    *MODALITY_FIELDS,
)
REQUIRED_USAGE = {"completions": ("input_tokens", "output_tokens", "num_model_requests"),
                  "embeddings": ("input_tokens", "num_model_requests")}


def parse_usage_pages(files: Iterable[SourceFile], *, endpoint: str, folder_date: date) -> Ingested:
    """Usage API pages (`completions` or `embeddings`) -> one row per result."""
    source = f"openai/usage/{endpoint}"
    return _parse_pages(files, source, folder_date, USAGE_SCHEMA, lambda r: _usage_row(r, endpoint))


def parse_cost_pages(files: Iterable[SourceFile], *, folder_date: date) -> Ingested:
    """Costs API pages -> one row per result, `amount` in Decimal dollars."""
    return _parse_pages(files, "openai/costs", folder_date, COSTS_SCHEMA, _cost_row)


def _parse_pages(files, source, folder_date, schema, to_row) -> Ingested:
    return parse_pages(files, source, folder_date, schema, to_row=to_row, bucket_times=_bucket_times,
                       bucket_results=_results)


def _results(bucket: dict) -> list:
    results = bucket.get("results")
    if not isinstance(results, list):  # absent too: a bucket without its list is not an empty one
        raise Rejected("bucket has no 'results' list")
    return results


def _bucket_times(bucket: dict) -> tuple[datetime, datetime]:
    start, end = bucket.get("start_time"), bucket.get("end_time")
    if not _is_int(start) or not _is_int(end) or end <= start:
        raise Rejected("bucket start_time/end_time are not unix seconds with start < end")
    try:
        return (datetime.fromtimestamp(start, tz=timezone.utc), datetime.fromtimestamp(end, tz=timezone.utc))
    except (ValueError, OverflowError, OSError):
        raise Rejected(f"bucket times are beyond the calendar: {start!r}..{end!r}") from None


def _usage_row(r: dict, endpoint: str) -> dict:
    for name in REQUIRED_USAGE[endpoint]:
        if r.get(name) is None:
            raise Rejected(f"missing {name}")
    row: dict[str, Any] = {"endpoint": endpoint}
    for name in USAGE_INT_FIELDS:
        value = r.get(name)
        if value is not None and (not _is_int(value) or not 0 <= value <= MAX_COUNT):
            raise Rejected(f"{name} is not a non-negative 64-bit integer: {value!r}")
        row[name] = value
    for name in ("project_id", "api_key_id", "user_id", "model", "service_tier"):
        value = r.get(name)
        row[name] = None if value is None else str(value)
    batch = r.get("batch")
    row["batch"] = batch if isinstance(batch, bool) else None
    if endpoint == "embeddings":
        row["output_tokens"] = 0
    cached = row["input_cached_tokens"] or 0
    written = row["input_cache_write_tokens"] or 0
    if row["input_tokens"] < cached + written:
        raise Rejected("input_tokens is smaller than input_cached_tokens + input_cache_write_tokens")
    _check_modalities(row, cached, written)
    return row


def _check_modalities(row: dict, cached: int, written: int) -> None:
    """The audio and image counts are parts of the totals (current spec: `input_audio_tokens` and
    `input_image_tokens` uncached, `input_cached_*` cached); parts larger than their total cannot
    be priced (an older page whose totals were text only), so the result is rejected, not guessed."""
    def part(name: str) -> int:
        return row[name] or 0

    if part("input_audio_tokens") + part("input_image_tokens") > row["input_tokens"] - cached - written:
        raise Rejected("input_audio_tokens + input_image_tokens exceed the uncached input "
                       "(input_tokens - input_cached_tokens - input_cache_write_tokens)")
    if part("input_cached_audio_tokens") + part("input_cached_image_tokens") > cached:
        raise Rejected("input_cached_audio_tokens + input_cached_image_tokens exceed input_cached_tokens")
    if part("output_audio_tokens") + part("output_image_tokens") > (row["output_tokens"] or 0):
        raise Rejected("output_audio_tokens + output_image_tokens exceed output_tokens")


def _cost_row(r: dict) -> dict:
    amount = r.get("amount")
    if not isinstance(amount, dict) or "value" not in amount:
        raise Rejected("missing amount.value")
    currency = str(amount.get("currency") or "").lower()
    if currency != "usd":
        raise Rejected(f"currency {amount.get('currency')!r} is not USD")
    quantity = r.get("quantity")
    return {
        "project_id": _str(r.get("project_id")),
        "api_key_id": _str(r.get("api_key_id")),
        "line_item": _str(r.get("line_item")),
        "amount": to_decimal(amount["value"]),
        "currency": currency,
        "quantity": None if quantity is None else to_decimal(quantity),
        "quantity_unit": _str(r.get("quantity_unit")),
    }


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

