"""Application and worker log writers: flat JSONL with OpenTelemetry GenAI key names.

Each line is assembled column-wise by one Polars `concat_str` (a key whose value is null is left
out of its line), the lines of a folder are sorted by file and timestamp, and every file is a
zero-copy slice of the resulting Arrow buffer. Python loops only over folders, files and the few
corrupted lines. Every value we write is an id, a fixed vocabulary word or a number, so no JSON
escaping is needed (`_check_plain` guards that).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"
LOG_FOLDERS = {"app": ("app_logs", ".jsonl"), "worker": ("worker_logs", ".jsonl.gz")}
LINES_SCHEMA = {
    "folder_date": pl.Date,
    "log_kind": pl.String,
    "log_file": pl.String,
    "ts_ms": pl.Int64,
    "seq": pl.Int64,
    "line": pl.String,  # one JSON object and its "\n" (a corrupted line is cut short, "\n" kept)
}
GZIP_LEVEL = 6


def _timestamp() -> pl.Expr:
    return pl.from_epoch("ts_ms", time_unit="ms").dt.strftime(TIMESTAMP_FORMAT)


def _json_line(fields: list[tuple[str, pl.Expr, bool]]) -> pl.Expr:
    """`{"k":v,...}\n` from (key, value, is_string) triples; the first value must never be null."""
    parts = []
    for i, (key, value, is_string) in enumerate(fields):
        head = ("{" if i == 0 else ",") + f'"{key}":' + ('"' if is_string else "")
        text = value if is_string else value.cast(pl.String)
        parts.append(pl.lit(head) + text + pl.lit('"') if is_string else pl.lit(head) + text)
    return pl.concat_str([*parts, pl.lit("}\n")], ignore_nulls=True)


def _folder(day: date) -> pl.Expr:
    return pl.when(pl.col("late")).then(pl.lit(day + timedelta(days=1))).otherwise(pl.lit(day)).alias("folder_date")


def _s(name: str, column: str | pl.Expr | None = None) -> tuple[str, pl.Expr, bool]:
    return name, pl.col(column or name) if not isinstance(column, pl.Expr) else column, True


def _n(name: str, column: str | pl.Expr | None = None) -> tuple[str, pl.Expr, bool]:
    return name, pl.col(column or name) if not isinstance(column, pl.Expr) else column, False


def render_call_lines(calls: pl.DataFrame, day: date) -> pl.DataFrame:
    """Model-call log lines of the logged calls of one generated day (LINES_SCHEMA)."""
    logged = calls.filter(pl.col("log_kind").is_not_null())
    _check_plain(logged)
    usage = pl.col("usage_logged")
    line = _json_line(
        [
            _s("timestamp", _timestamp()),
            _s("gen_ai.provider.name", "provider"),
            _s("gen_ai.operation.name", "operation"),
            _s("gen_ai.request.model", "request_model"),
            _s("gen_ai.response.model", pl.when(pl.col("log_response_model")).then(pl.col("model"))),
            _s("gen_ai.response.id", "response_id"),
            _n("gen_ai.usage.input_tokens", pl.when(usage).then(pl.col("input_tokens"))),
            _n("gen_ai.usage.output_tokens", pl.when(usage).then(pl.col("output_tokens"))),
            _n(
                "gen_ai.usage.cache_read.input_tokens",
                pl.when(usage & (pl.col("operation") == "chat")).then(pl.col("cache_read_tokens")),
            ),
            _s("billing.account", "billing_account"),
            _s("service_tier"),
            _n("batch"),
            _n("attempt"),
            _s("status"),
            _s("request_id"),
            _s("user_id"),
            _s("tenant_id"),
            _s("feature"),
            _s("job_id"),
            _s("job_type"),
            _s("queue"),
            _s("trigger"),
            _s("parent_request_id"),
        ]
    )
    lines = _parallel_select(
        logged.with_columns(seq=pl.int_range(pl.len(), dtype=pl.Int64)),
        [_folder(day), "log_kind", "log_file", "ts_ms", "seq", line.alias("line")],
    )
    # Truncate the few corrupted lines mid-JSON (a writer that died mid-line; the newline follows).
    idx = np.flatnonzero(logged["corrupt_cut"].is_not_null().to_numpy())
    if idx.size:
        whole = lines["line"].gather(idx).to_list()
        cuts = logged["corrupt_cut"].gather(idx).to_list()
        cut_lines = [text[: max(1, int((len(text) - 1) * frac))] + "\n" for text, frac in zip(whole, cuts)]
        lines = lines.with_columns(lines["line"].scatter(idx, cut_lines))
    return lines


def _parallel_select(frame: pl.DataFrame, exprs: list, chunk_rows: int = 200_000) -> pl.DataFrame:
    """`frame.select(exprs)` over row slices collected in parallel (string building is per row)."""
    if frame.height <= chunk_rows:
        return frame.select(exprs)
    parts = [frame.slice(i, chunk_rows).lazy().select(exprs) for i in range(0, frame.height, chunk_rows)]
    return pl.concat(pl.collect_all(parts), rechunk=False)


def render_lifecycle_lines(lifecycle: pl.DataFrame, day: date) -> pl.DataFrame:
    """Job lifecycle lines (`job.started`, `job.finished`): worker log lines that are not model calls."""
    if lifecycle.height == 0:
        return empty_lines()
    _check_plain(lifecycle)
    line = _json_line(
        [
            _s("timestamp", _timestamp()),
            _s("event"),
            _s("job_id"),
            _s("job_type"),
            _s("queue"),
            _s("trigger"),
            _n("calls"),
            _n("duration_ms"),
        ]
    )
    return lifecycle.select(
        _folder(day),
        pl.lit("worker").alias("log_kind"),
        "log_file",
        "ts_ms",
        (pl.int_range(pl.len(), dtype=pl.Int64) + 1_000_000_000_000).alias("seq"),
        line.alias("line"),
    )


def write_log_folder(sources: Path, folder_date: date, lines: pl.DataFrame) -> list[Path]:
    """Write every app and worker log file of one day folder; lines sorted by timestamp per file."""
    lines = lines.filter(pl.col("folder_date") == folder_date).sort(["log_kind", "log_file", "ts_ms", "seq"])
    if lines.height == 0:
        return []
    text = lines["line"].to_arrow()
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    if text.type != pa.large_string():
        text = text.cast(pa.large_string())
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    data = text.buffers()[2]
    groups = lines.group_by(["log_kind", "log_file"], maintain_order=True).agg(n=pl.len())
    # rows of a file are contiguous after the sort: file bytes = one slice of the Arrow data buffer
    starts = np.cumsum(np.concatenate([[0], groups["n"].to_numpy()]))
    jobs = []
    for (kind, name), lo, hi in zip(groups.select("log_kind", "log_file").iter_rows(), starts[:-1], starts[1:]):
        folder, suffix = LOG_FOLDERS[kind]
        path = sources / folder / folder_date.isoformat() / f"{name}{suffix}"
        jobs.append((path, int(offsets[lo]), int(offsets[hi]), suffix.endswith(".gz")))

    def write(job: tuple[Path, int, int, bool]) -> Path:
        path, lo, hi, gz = job
        payload = memoryview(data)[lo:hi]
        if gz:
            payload = gzip.compress(payload, compresslevel=GZIP_LEVEL, mtime=0)  # mtime=0: byte-identical reruns
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        return path

    with ThreadPoolExecutor(max_workers=4) as pool:  # zlib and file I/O release the GIL
        return list(pool.map(write, jobs))


def _check_plain(frame: pl.DataFrame) -> None:
    """Refuse string values that would need JSON escaping (we write them between quotes as is)."""
    for name, dtype in frame.schema.items():
        if dtype == pl.String and frame[name].str.contains(r'["\\\x00-\x1f]').any():
            raise ValueError(f"column {name!r} holds a value that needs JSON escaping")


def empty_lines() -> pl.DataFrame:
    return pl.DataFrame(schema=LINES_SCHEMA)


def concat_lines(frames: Iterable[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else empty_lines()
