"""Parse Bedrock model invocation logs as delivered to S3 (gzipped JSON Lines, or one JSON
object per file), under `bedrock/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/`.

Pure functions: bytes in, Arrow tables out, no Dagster. Lines are split with NumPy and parsed
set-based by DuckDB (`sql/ingest/bedrock_invocations.sql`); Python never loops over lines. The
objects of a day are parsed a batch at a time (`line_batches`, ~64 MiB of text each): the
request and response bodies inside the lines never pile up in memory, and the narrow records go
to a sink batch by batch (`parse_invocation_logs_into`; the asset's sink writes them to Parquet).
Only named fields are read: the request and response bodies (users' prompts) never reach the
lake, the rejected rows or any log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa

from pipelines.lib import sql
from pipelines.lib.bronze.aws import BEDROCK_INVOCATIONS
from pipelines.lib.ingest import REJECTS_SCHEMA, Ingested, Sink, Streamed, collect, damaged_rows, file_table, quarantine
from pipelines.lib.lines import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    LINES_SCHEMA,
    at_least_one,
    line_batches,
    lines_table,
    split_lines,
)
from pipelines.lib.store import SourceFile

SOURCE = "bedrock/invocation_logs"
PREFIX = "bedrock/AWSLogs/"

# A single invocation above this many tokens in any class is treated as corrupt, not as usage.
MAX_TOKENS_PER_CALL = 50_000_000

_DELIVERY_DAY = re.compile(r"/BedrockModelInvocationLogs/[^/]+/(\d{4})/(\d{2})/(\d{2})/")
_SOURCE_FILES = pa.schema([("file", pa.string()), ("sha256", pa.string())])



def object_kind(key: str) -> str:
    """`log` for an invocation log object; `body` for a large request/response body offloaded
    under a `/data/` path; `permission_check` for the object Bedrock writes at setup."""
    if "/data/" in key:
        return "body"
    if "permission-check" in key:
        return "permission_check"
    return "log"


def delivery_day(key: str) -> date | None:
    """The delivery day of an object: its key's `YYYY/MM/DD` (None when the key has none)."""
    m = _DELIVERY_DAY.search("/" + key)
    if m is None:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_invocation_logs(
    files: Iterable[SourceFile],
    *,
    folder_date: date,
    skipped: Iterable[str] = (),
    con: duckdb.DuckDBPyConnection | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Ingested:
    """Parse one delivery day of invocation log objects into bronze rows.

    `skipped` names objects deliberately not read (large bodies, permission checks); each is
    counted as one skipped unit, as is any such object passed in `files`. Every line of a log
    object ends up as a record, a skipped line (blank, or not an invocation record) or a
    rejected line with its file, line number, reason and a redacted raw text. A line longer than
    `max_line_bytes` is rejected unread; a gzipped object is unpacked to at most `max_file_bytes`.
    """
    con = con or sql.connect()
    return collect(lambda sink: parse_invocation_logs_into(con, files, sink, folder_date=folder_date, skipped=skipped,
                                                           max_line_bytes=max_line_bytes, max_file_bytes=max_file_bytes),
                   BEDROCK_INVOCATIONS)


def parse_invocation_logs_into(
    con: duckdb.DuckDBPyConnection,
    files: Iterable[SourceFile],
    sink: Sink,
    *,
    folder_date: date,
    skipped: Iterable[str] = (),
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Streamed:
    """`parse_invocation_logs`, handing the records to `sink` a batch at a time (each batch in
    file and line order, batches in the order `files` came); returns the rejects and per-file
    counts. `files` may be an iterator: objects are read batch by batch."""
    damaged, meta, rejects, counts = [], [], [], []
    skipped_rows = [_skipped_file(key, None) for key in skipped]

    def logs() -> Iterable[SourceFile]:
        for f in files:
            if object_kind(f.key) != "log":
                skipped_rows.append(_skipped_file(f.key, f))
            else:
                yield f

    for batch in at_least_one(line_batches(logs(), split=_lines, max_line_bytes=max_line_bytes,
                                           max_file_bytes=max_file_bytes)):
        lines = pa.concat_tables([f.lines for f in batch]) if batch else LINES_SCHEMA.empty_table()
        meta += [(f.key, f.sha256, f.size) for f in batch]
        damaged += damaged_rows(SOURCE, batch)
        con.register("lines", lines)
        con.register("source_files", pa.table({"file": [f.key for f in batch], "sha256": [f.sha256 for f in batch]},
                                              schema=_SOURCE_FILES))
        try:
            sql.run(con, "ingest/bedrock_invocations", folder_date=folder_date,
                    max_tokens_per_call=MAX_TOKENS_PER_CALL)
            sink(sql.table(con, "ingest/bedrock_invocations__records", folder_date=folder_date))
            rejects.append(sql.table(con, "ingest/bedrock_invocations__rejects", source=SOURCE).cast(REJECTS_SCHEMA))
            counts.append(sql.table(con, "ingest/bedrock_invocations__counts"))
        finally:
            con.unregister("lines")
            con.unregister("source_files")
            con.execute("drop table if exists parsed_invocations")

    return Streamed(rejects=quarantine(rejects, damaged),
                    files=file_table(SOURCE, meta, pa.concat_tables(counts), damaged, skipped_rows))


def _lines(key: str, data: bytes, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> pa.Table:
    """The file's lines; a file holding one JSON object written over several lines is one line.

    JSON Lines put a whole object on each line; a file whose first non-blank line is not a
    whole object (`{` ... `}`) is taken as a single document.
    """
    body = data.lstrip(b" \t\r\n")
    end = body.find(b"\n")
    if end >= 0:
        first = body[:end].strip()
        if not (first.startswith(b"{") and first.endswith(b"}")):
            return lines_table(key, data, np.array([0, len(data)], dtype=np.int64), max_line_bytes)
    return split_lines(key, data, max_line_bytes)


def _skipped_file(key: str, f: SourceFile | None) -> dict:
    return {"source": SOURCE, "file": key, "sha256": f.sha256 if f else None, "bytes": len(f.data) if f else None,
            "lines_read": 1, "records": 0, "skipped": 1, "rejected": 0}
