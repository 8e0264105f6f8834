"""The page loop the providers' admin API exports share (OpenAI Usage and Costs, Anthropic usage
and cost reports): one JSON page per file, `data` a list of time buckets, each with `results`.

Pages are small (one result per bucket and group), so a loop over results is fine here. Every
result becomes a row or a rejected row; a page or bucket that cannot be read is one rejected
line without a number. `lines_read = records + rejected` per file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from .ingest import FILES_SCHEMA, Ingested, rejects_table
from .money import loads
from .store import SourceFile

RAW_CHARS = 4096  # a rejected result keeps this much of its JSON


class Rejected(ValueError):
    """A result (or a whole page or bucket) that cannot be used, with the reason."""


def parse_pages(
    files: Iterable[SourceFile], source: str, folder_date: date, schema: pa.Schema, *,
    to_row: Callable[[dict], dict],
    bucket_times: Callable[[dict], tuple[datetime, datetime]],
    bucket_results: Callable[[dict], list],
) -> Ingested:
    """Pages -> bronze rows of `schema`: `to_row` turns a result into its columns, `bucket_times`
    reads a bucket's start and end, `bucket_results` its results (each raises `Rejected`)."""
    rows: list[dict] = []
    rejects: list[dict] = []
    stats: list[dict] = []
    for f in files:
        n_read = n_ok = n_bad = 0
        try:
            buckets = page_buckets(f.data)
        except Rejected as exc:
            rejects.append(reject(source, f.key, None, str(exc), f.data))
            n_read, n_bad, buckets = 1, 1, []
        for bucket in buckets:
            try:
                start, end = bucket_times(bucket)
                results = bucket_results(bucket)
            except Rejected as exc:
                n_read += 1
                n_bad += 1
                rejects.append(reject(source, f.key, None, str(exc), bucket))
                continue
            for result in results:
                n_read += 1
                try:
                    if not isinstance(result, dict):
                        raise Rejected("result is not a JSON object")
                    row = to_row(result)
                except (Rejected, ValueError) as exc:
                    n_bad += 1
                    rejects.append(reject(source, f.key, n_read, str(exc), result))
                    continue
                n_ok += 1
                row.update(
                    folder_date=folder_date, usage_date=start.date(), bucket_start=start, bucket_end=end,
                    source_file=f.key, source_line=n_read, file_sha256=f.sha256,
                )
                rows.append(row)
        stats.append(
            {"source": source, "file": f.key, "sha256": f.sha256, "bytes": len(f.data),
             "lines_read": n_read, "records": n_ok, "skipped": 0, "rejected": n_bad}
        )
    return Ingested(
        records=pa.Table.from_pylist(rows, schema=schema),
        rejects=rejects_table(rejects),
        files=pa.Table.from_pylist(stats, schema=FILES_SCHEMA),
    )


def page_buckets(data: bytes) -> list[dict]:
    """The page's buckets (`data`), money parsed as Decimal; `Rejected` when the page is not one."""
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


def reject(source: str, key: str, line: int | None, reason: str, raw: Any) -> dict:
    """A rejected row: the page's bytes as text, or the bucket's or result's JSON, cut short."""
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else json.dumps(raw, default=str)
    return {"source": source, "file": key, "line": line, "reason": reason, "raw": text[:RAW_CHARS]}
