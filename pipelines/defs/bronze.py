"""Writing one source's ingest of one delivery day to the bronze layer (shared by the wings)."""


from datetime import date

import dagster as dg
import pyarrow as pa

from pipelines.lib.ingest import Ingested, ParsedDay
from pipelines.lib.lake import Lake
from pipelines.lib.preview import markdown


def write_bronze(
    lake: Lake, table: str, day: date, ingested: Ingested, extra: dict | None = None, preview: list[str] | None = None
) -> dg.MaterializeResult:
    """Replace the day's partition of `table`, its `_rejects` and its `_files`; report the counts.

    The three files are each replaced atomically; records are written last so a reader never
    sees records without their line counts.
    """
    lake.write("bronze", f"{table}_files", day, ingested.files)
    lake.write("bronze", f"{table}_rejects", day, ingested.rejects)
    lake.write("bronze", table, day, ingested.records)
    return _result(ingested, ingested.records.num_rows, ingested.records, extra, preview)


def write_bronze_parsed(
    lake: Lake, table: str, day: date, parsed: ParsedDay, extra: dict | None = None, preview: list[str] | None = None,
) -> dg.MaterializeResult:
    """`write_bronze` for a day parsed into DuckDB session tables (millions of calls): DuckDB
    writes the records' Parquet file itself, streaming and spilling under its memory limit; only
    the rejects, the per-file counts and a preview of ten rows pass through Python. The session
    tables are dropped once written."""
    lake.write("bronze", f"{table}_files", day, parsed.files)
    lake.write("bronze", f"{table}_rejects", day, parsed.rejects)
    lake.write_relation("bronze", table, day, parsed.records)
    head = parsed.records.limit(10).to_arrow_table()
    rows = len(parsed.records)
    parsed.drop()
    return _result(Ingested(records=head, rejects=parsed.rejects, files=parsed.files), rows, head, extra, preview)


def _result(ingested: Ingested, rows: int, head: pa.Table, extra: dict | None, preview: list[str] | None):
    counts = ingested.counts
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "files": counts["files"],
            "lines_read": counts["lines_read"],
            "records": counts["records"],
            "skipped_lines": counts["skipped"],
            "rejected_lines": counts["rejected"],
            **(extra or {}),
            "preview": dg.MetadataValue.md(markdown(head, preview)),
        }
    )
