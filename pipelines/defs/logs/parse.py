"""Parse application and worker model-call logs (JSONL, optionally gzipped).

A line is a flat record (OpenTelemetry GenAI attribute names as keys), an OpenTelemetry Collector
file exporter line in OTLP/JSON (`{"resourceSpans": [...]}`), whose spans with GenAI attributes
are model calls, or a LiteLLM logging payload (`StandardLoggingPayload`, attributed by
`litellm.py`'s rule); detected per line. A record may carry the usage of many requests
(`request_count`). Pure functions: bytes in, Arrow tables out, no
Dagster. The lines are split with NumPy and parsed set-based by DuckDB (`sql/ingest/otlp_spans.sql`
unnests the spans, `sql/ingest/model_calls.sql` checks spans and flat lines alike); Python never
loops over lines or spans.

A day is parsed a batch of whole files at a time (`pipelines.lib.lines.line_batches`), so
memory is bounded by a batch, not by the day: `parse_log_files_into` hands each batch's records
to a sink (the asset's sink writes them straight into the partition's Parquet file), and
`parse_log_files` collects them into Arrow tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb
import pyarrow as pa

from pipelines.lib import bronze, sql
from pipelines.lib.ingest import REJECTS_SCHEMA, Ingested, Sink, Streamed, collect, damaged_rows, file_table, quarantine
from pipelines.lib.lines import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINE_BYTES, LINES_SCHEMA, at_least_one, line_batches
from pipelines.lib.store import SourceFile

from .litellm import DEFAULT_RULE, rule_params

DEFAULT_MAX_RECORD_TOKENS = 10**13  # DARKCOMPUTE_MAX_RECORD_TOKENS' documented default

LOG_SOURCES = {"app": "app_logs", "worker": "worker_logs"}


def parse_log_files(
    files: Iterable[SourceFile],
    *,
    log_source: str,
    folder_date: date,
    con: duckdb.DuckDBPyConnection | None = None,
    max_record_tokens: int = DEFAULT_MAX_RECORD_TOKENS,
    attribution: dict[str, tuple[str, ...]] = DEFAULT_RULE,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Ingested:
    """Parse one day-folder of `app` or `worker` logs into bronze rows.

    Every line ends up as a record, a skipped non-model line (job lifecycle events, blank
    lines, OTLP lines without GenAI spans) or a rejected line with its file, line number and
    reason. A damaged gzip stream keeps the lines before the damage and adds one rejected row
    for the rest.

    An OTLP line yields one record per GenAI span, all with the line's `source_line`, and one
    rejected row per bad span. The per-file counts stay in lines (`lines_read = records +
    skipped + rejected`): an OTLP line counts as a record when at least one of its spans is one
    (see `sql/ingest/line_counts.sql`), so `records` and `rejected` count lines, and the records
    and rejects tables may hold more rows than that for OTLP files.

    The limits (`DARKCOMPUTE_MAX_RECORD_TOKENS`, `..._MAX_LINE_BYTES`, `..._MAX_FILE_BYTES`) and
    the LiteLLM `attribution` rule are the caller's (the assets take them from their resources).
    """
    con = con or sql.connect()
    return collect(lambda sink: parse_log_files_into(con, files, sink, log_source=log_source, folder_date=folder_date,
                                                     max_record_tokens=max_record_tokens, attribution=attribution,
                                                     max_line_bytes=max_line_bytes, max_file_bytes=max_file_bytes),
                   bronze.MODEL_CALLS)


def parse_log_files_into(
    con: duckdb.DuckDBPyConnection, files: Iterable[SourceFile], sink: Sink, *, log_source: str, folder_date: date,
    max_record_tokens: int = DEFAULT_MAX_RECORD_TOKENS, attribution: dict[str, tuple[str, ...]] = DEFAULT_RULE,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Streamed:
    """`parse_log_files`, handing the records to `sink` a batch at a time (each batch in file and
    line order, batches in the order the files came); returns the rejects and per-file counts.
    `files` may be an iterator: files are read batch by batch, so memory holds one batch."""
    source = LOG_SOURCES[log_source]
    rule = rule_params(attribution)
    damaged, meta, rejects, counts = [], [], [], []
    for batch in at_least_one(line_batches(files, max_line_bytes=max_line_bytes, max_file_bytes=max_file_bytes)):
        lines = pa.concat_tables([f.lines for f in batch]) if batch else LINES_SCHEMA.empty_table()
        meta += [(f.key, f.sha256, f.size) for f in batch]
        damaged += damaged_rows(source, batch)
        con.register("lines", lines)
        try:
            sql.run(con, "ingest/otlp_spans")
            sql.run(con, "ingest/litellm_payloads", **rule)
            sql.run(con, "ingest/model_calls", folder_date=folder_date, max_record_tokens=max_record_tokens)
            sink(sql.table(con, "ingest/model_calls__records", log_source=log_source, folder_date=folder_date))
            rejects.append(sql.table(con, "ingest/rejects", source=source).cast(REJECTS_SCHEMA))
            counts.append(sql.table(con, "ingest/line_counts"))
        finally:
            con.unregister("lines")
            con.execute("drop table if exists parsed_lines")
            con.execute("drop table if exists otlp_spans")
            con.execute("drop table if exists litellm_lines")

    return Streamed(rejects=quarantine(rejects, damaged),
                    files=file_table(source, meta, pa.concat_tables(counts), damaged))
