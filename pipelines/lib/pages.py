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

INCOMPLETE = ("listing incomplete: every page says has_more, so the page its next_page names was not "
              "delivered; the folder's totals lack it (save every page, or pull the day again)")
RAW_CHARS = 4096  # a rejected result keeps at most this much of its JSON shape
# The fields of the providers' documented pages, buckets and results (OpenAI Usage and Costs,
# Anthropic usage and cost reports): a rejected row keeps their values; any other key keeps only
# the type of its value (a saved page is untrusted and may hold anything).
PAGE_FIELDS = frozenset({
    "object", "has_more", "next_page", "start_time", "end_time", "starting_at", "ending_at", "results",
    "project_id", "api_key_id", "user_id", "model", "service_tier", "batch", "line_item", "amount", "value",
    "currency", "quantity", "quantity_unit", "organization_id", "input_tokens", "input_cached_tokens",
    "input_cache_write_tokens", "input_uncached_tokens", "input_audio_tokens", "output_tokens",
    "output_audio_tokens", "input_cached_audio_tokens", "input_image_tokens", "input_cached_image_tokens",
    "output_image_tokens", "input_text_tokens", "input_cached_text_tokens", "output_text_tokens",
    "num_model_requests", "account_id", "service_account_id", "workspace_id",
    "context_window", "cost_type", "description", "token_type", "uncached_input_tokens",
    "cache_read_input_tokens", "cache_creation", "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens",
    "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens", "server_tool_use",
    "web_search_requests", "inference_geo", "speed",
})
_TYPES = ((bool, "BOOLEAN"), (int, "BIGINT"), (str, "VARCHAR"), (type(None), "NULL"))


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
    more: list[bool] = []  # per page that is a JSON object: whether it says another page follows
    for f in files:
        n_read = n_ok = n_bad = 0
        try:
            if f.refused:
                raise Rejected(f.refused)
            more.extend(says_more(f.data))
            buckets = page_buckets(f.data)
        except Rejected as exc:
            rejects.append(reject(source, f.key, None, str(exc), None if f.refused else f.data))
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
            {"source": source, "file": f.key, "sha256": f.sha256, "bytes": None if f.refused else len(f.data),
             "lines_read": n_read, "records": n_ok, "skipped": 0, "rejected": n_bad}
        )
    if more and all(more) and stats:
        # every page names a next one: the listing was cut short (saved pages of a pull that
        # stopped, or an API reference example), so the day's totals lack the pages not here
        rejects.append(reject(source, stats[-1]["file"], None, INCOMPLETE, None))
        stats[-1]["lines_read"] += 1
        stats[-1]["rejected"] += 1
    return Ingested(
        records=pa.Table.from_pylist(rows, schema=schema),
        rejects=rejects_table(rejects),
        files=pa.Table.from_pylist(stats, schema=FILES_SCHEMA),
    )


def says_more(data: bytes) -> list[bool]:
    """[True] when the page is a JSON object whose `has_more` is true, [False] for any other
    object (the last page of its listing), [] when it is not a JSON object."""
    try:
        page = loads(data)
    except (ValueError, UnicodeDecodeError):
        return []
    return [page.get("has_more") is True] if isinstance(page, dict) else []


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


def page_results(data: bytes) -> int | None:
    """How many results a page holds over all its buckets; None when it is not a readable page.
    A pull whose every page holds 0 is an empty statement (a key for another organization, a
    day with no usage), which must never replace one that has results."""
    try:
        buckets = page_buckets(data)
    except Rejected:
        return None
    if not all(isinstance(b.get("results"), list) for b in buckets):
        return None
    return sum(len(b["results"]) for b in buckets)


def all_empty(pages: Iterable[bytes]) -> bool:
    """Whether there are pages and every one of them is readable and holds no result."""
    counts = [page_results(data) for data in pages]
    return bool(counts) and all(n == 0 for n in counts)


def reject(source: str, key: str, line: int | None, reason: str, raw: Any) -> dict:
    """A rejected row. Its `raw` is never the text: for a page that is not JSON, its length
    (`{"bytes": N}`); for a bucket or result, its JSON shape (`shape`), cut short."""
    if raw is None:  # a file the store refused to read: nothing was read
        return {"source": source, "file": key, "line": line, "reason": reason, "raw": ""}
    text = json.dumps({"bytes": len(raw)} if isinstance(raw, bytes) else shape(raw), default=str)
    return {"source": source, "file": key, "line": line, "reason": reason, "raw": text[:RAW_CHARS]}


def shape(value: Any) -> Any:
    """`value`'s JSON shape: the keys, with the values of `PAGE_FIELDS` that are not objects or
    lists (text cut at 256 characters) and the type of every other value (as DuckDB's
    `json_structure` names them); a list becomes the shape of its first item."""
    if isinstance(value, dict):
        return {str(k): (_scalar(v) if k in PAGE_FIELDS and not isinstance(v, (dict, list)) else shape(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return next((name for kind, name in _TYPES if isinstance(value, kind)), "DECIMAL")


def _scalar(value: Any) -> Any:
    return value[:256] if isinstance(value, str) else value
