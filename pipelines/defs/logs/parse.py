"""Parse application and worker model-call logs (JSONL, optionally gzipped).

A line is either a flat record (OpenTelemetry GenAI attribute names as keys) or, per line, an
OpenTelemetry Collector file exporter line in OTLP/JSON (`{"resourceSpans": [...]}`), whose
spans with GenAI attributes are model calls. Pure functions: bytes in, Arrow tables out, no
Dagster. The lines are split with NumPy and parsed set-based by DuckDB (`sql/bronze/otlp_spans.sql`
unnests the spans, `sql/bronze/model_calls.sql` checks spans and flat lines alike); Python never
loops over lines or spans.

A day is parsed a batch of whole files at a time (`pipelines.lib.lines.line_batches`): each
batch's records, rejects and line counts are appended to DuckDB tables of the session, which
spill to disk under its `memory_limit`, so memory is bounded by a batch, not by the day.
`parse_log_files_into` leaves the day in those tables (the asset has DuckDB write its Parquet
file); `parse_log_files` returns it as Arrow tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb
import pyarrow as pa

from pipelines.lib import bronze, sql
from pipelines.lib.ingest import FILES_SCHEMA, REJECTS_SCHEMA, Ingested, ParsedDay, append_batch, rejects_table
from pipelines.lib.lines import LINES_SCHEMA, at_least_one, line_batches
from pipelines.lib.store import SourceFile

# A single call above this many tokens in any class is treated as corrupt, not as usage.
MAX_TOKENS_PER_CALL = 50_000_000

LOG_SOURCES = {"app": "app_logs", "worker": "worker_logs"}

# The session tables a day's batches are appended to.
RECORDS, REJECTS, COUNTS = "model_calls_records", "model_calls_rejects", "model_calls_counts"
TABLES = (RECORDS, REJECTS, COUNTS)


def parse_log_files(
    files: Iterable[SourceFile],
    *,
    log_source: str,
    folder_date: date,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Ingested:
    """Parse one day-folder of `app` or `worker` logs into bronze rows.

    Every line ends up as a record, a skipped non-model line (job lifecycle events, blank
    lines, OTLP lines without GenAI spans) or a rejected line with its file, line number and
    reason. A damaged gzip stream keeps the lines before the damage and adds one rejected row
    for the rest.

    An OTLP line yields one record per GenAI span, all with the line's `source_line`, and one
    rejected row per bad span. The per-file counts stay in lines (`lines_read = records +
    skipped + rejected`): an OTLP line counts as a record when at least one of its spans is one
    (see `sql/bronze/line_counts.sql`), so `records` and `rejected` count lines, and the records
    and rejects tables may hold more rows than that for OTLP files.
    """
    parsed = parse_log_files_into(con or sql.connect(), files, log_source=log_source, folder_date=folder_date)
    return parsed.fetch(bronze.MODEL_CALLS)


def parse_log_files_into(
    con: duckdb.DuckDBPyConnection, files: Iterable[SourceFile], *, log_source: str, folder_date: date
) -> ParsedDay:
    """`parse_log_files`, with the records left in the session table `model_calls_records` of
    `con` (in file and line order). `files` may be an iterator: files are read batch by batch."""
    source = LOG_SOURCES[log_source]
    damaged, meta = [], []
    _drop_tables(con)
    first = True
    for batch in at_least_one(line_batches(files)):
        lines = pa.concat_tables([f.lines for f in batch]) if batch else LINES_SCHEMA.empty_table()
        meta += [(f.key, f.sha256, f.size) for f in batch]
        damaged += [{"source": source, "file": f.key, "line": f.lines.num_rows + 1, "reason": f.problem, "raw": ""}
                    for f in batch if f.problem]
        con.register("lines", lines)
        try:
            sql.run(con, "bronze/otlp_spans")
            sql.run(con, "bronze/model_calls", folder_date=folder_date, max_tokens_per_call=MAX_TOKENS_PER_CALL)
            parts = {RECORDS: sql.relation(con, "bronze/model_calls__records", log_source=log_source,
                                           folder_date=folder_date),
                     REJECTS: sql.relation(con, "bronze/rejects", source=source),
                     COUNTS: sql.relation(con, "bronze/line_counts")}
            append_batch(parts, first)
            first = False
        finally:
            con.unregister("lines")
            con.execute("drop table if exists parsed_lines")
            con.execute("drop table if exists otlp_spans")

    rejects = con.table(REJECTS).to_arrow_table().cast(REJECTS_SCHEMA).sort_by([("file", "ascending"),
                                                                                ("line", "ascending")])  # few rows
    rejects = pa.concat_tables([rejects, rejects_table(damaged)])
    counts = con.table(COUNTS).to_arrow_table()
    return ParsedDay(con=con, records=con.table(RECORDS), rejects=rejects,
                     files=_file_table(source, meta, counts, damaged), tables=TABLES)


def _drop_tables(con: duckdb.DuckDBPyConnection) -> None:
    for name in TABLES:
        con.execute(f"drop table if exists {name}")


def _file_table(source: str, meta: list[tuple[str, str, int]], counts: pa.Table, damaged: list[dict]) -> pa.Table:
    by_file = {r["file"]: r for r in counts.to_pylist()}  # one row per file, not per line
    extra = {d["file"]: 1 for d in damaged}
    rows = []
    for key, sha, size in meta:
        c = by_file.get(key, {"lines_read": 0, "records": 0, "skipped": 0, "rejected": 0})
        rows.append(
            {
                "source": source, "file": key, "sha256": sha, "bytes": size,
                "lines_read": c["lines_read"] + extra.get(key, 0), "records": c["records"],
                "skipped": c["skipped"], "rejected": c["rejected"] + extra.get(key, 0),
            }
        )
    return pa.Table.from_pylist(rows, schema=FILES_SCHEMA)
