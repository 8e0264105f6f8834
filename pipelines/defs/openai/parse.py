"""Parse OpenAI Usage API and Costs API pages (as delivered, one JSON page per file).

Pure functions, no Dagster. Pages are small (one result per group and bucket), so a loop
over results is fine here; money is parsed as Decimal straight from the JSON literal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, timezone
from typing import Any

import pyarrow as pa

from pipelines.lib.ingest import FILES_SCHEMA, Ingested, rejects_table
from pipelines.lib import bronze
from pipelines.lib.money import loads, to_decimal
from pipelines.lib.store import SourceFile

USAGE_SCHEMA, COSTS_SCHEMA = bronze.OPENAI_USAGE, bronze.OPENAI_COSTS

MAX_COUNT = 2**63 - 1

USAGE_INT_FIELDS = (
    "input_tokens",
    "input_cached_tokens",
    "input_cache_write_tokens",
    "input_uncached_tokens",
    "output_tokens",
    "num_model_requests",
)
REQUIRED_USAGE = {"completions": ("input_tokens", "output_tokens", "num_model_requests"),
                  "embeddings": ("input_tokens", "num_model_requests")}


class Rejected(ValueError):
    """A result (or a whole page) that cannot be used, with the reason."""


def parse_usage_pages(files: Iterable[SourceFile], *, endpoint: str, folder_date: date) -> Ingested:
    """Usage API pages (`completions` or `embeddings`) -> one row per result."""
    source = f"openai/usage/{endpoint}"
    return _parse_pages(files, source, folder_date, USAGE_SCHEMA, lambda r: _usage_row(r, endpoint))


def parse_cost_pages(files: Iterable[SourceFile], *, folder_date: date) -> Ingested:
    """Costs API pages -> one row per result, `amount` in Decimal dollars."""
    return _parse_pages(files, "openai/costs", folder_date, COSTS_SCHEMA, _cost_row)


def _parse_pages(files, source, folder_date, schema, to_row) -> Ingested:
    rows: list[dict] = []
    rejects: list[dict] = []
    stats: list[dict] = []
    for f in files:
        n_read = n_ok = n_skip = n_bad = 0
        try:
            buckets = _buckets(f.data)
        except Rejected as exc:
            rejects.append(_reject(source, f.key, None, str(exc), f.data))
            n_read, n_bad = 1, 1
            buckets = []
        for bucket in buckets:
            try:
                start, end = _bucket_times(bucket)
            except Rejected as exc:
                n_read += 1
                n_bad += 1
                rejects.append(_reject(source, f.key, None, str(exc), bucket))
                continue
            results = bucket.get("results") or []
            if not isinstance(results, list):
                n_read += 1
                n_bad += 1
                rejects.append(_reject(source, f.key, None, "bucket 'results' is not a list", bucket))
                continue
            for result in results:
                n_read += 1
                try:
                    if not isinstance(result, dict):
                        raise Rejected("result is not a JSON object")
                    row = to_row(result)
                except (Rejected, ValueError) as exc:
                    n_bad += 1
                    rejects.append(_reject(source, f.key, n_read, str(exc), result))
                    continue
                n_ok += 1
                row.update(
                    folder_date=folder_date, usage_date=start.date(), bucket_start=start, bucket_end=end,
                    source_file=f.key, source_line=n_read, file_sha256=f.sha256,
                )
                rows.append(row)
        stats.append(
            {"source": source, "file": f.key, "sha256": f.sha256, "bytes": len(f.data),
             "lines_read": n_read, "records": n_ok, "skipped": n_skip, "rejected": n_bad}
        )
    return Ingested(
        records=pa.Table.from_pylist(rows, schema=schema),
        rejects=rejects_table(rejects),
        files=pa.Table.from_pylist(stats, schema=FILES_SCHEMA),
    )


def _buckets(data: bytes) -> list[dict]:
    try:
        page = loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(f"page is not valid JSON: {exc}") from None
    if not isinstance(page, dict):
        raise Rejected("page is not a JSON object")
    if "data" not in page:
        raise Rejected("page has no 'data' key")
    if not isinstance(page["data"], list) or not all(isinstance(b, dict) for b in page["data"]):
        raise Rejected("page 'data' is not a list of buckets")
    return page["data"]


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
    return row


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


def _reject(source: str, key: str, line: int | None, reason: str, raw: Any) -> dict:
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else _dumps(raw)
    return {"source": source, "file": key, "line": line, "reason": reason, "raw": text[:4096]}


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

