"""Writing one source's ingest of one delivery day to the bronze layer (shared by the wings)."""


from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa

from pipelines.lib.disk import explained
from pipelines.lib.ingest import Ingested, Sink, Streamed
from pipelines.lib.lake import Lake
from pipelines.lib.preview import markdown


def write_bronze(
    lake: Lake, table: str, day: date, ingested: Ingested, extra: dict | None = None, preview: list[str] | None = None
) -> dg.MaterializeResult:
    """Replace the day's partition of `table`, its `_rejects` and its `_files`; report the counts.

    The three are replaced together or not at all: each is written under a temporary name, and
    renamed into place only when all three are complete (records last). A failed write (a full
    disk) removes the temporary files and leaves the day's old three files as they were.
    """
    with lake.replace_together() as batch:
        batch.write("bronze", f"{table}_files", day, ingested.files)
        batch.write("bronze", f"{table}_rejects", day, ingested.rejects)
        batch.write("bronze", table, day, ingested.records)
    return _result(ingested, ingested.records.num_rows, ingested.records, extra, preview)


def write_bronze_streamed(
    lake: Lake, table: str, day: date, schema: pa.Schema, parse: Callable[[Sink], Streamed],
    totals: Callable[[Path], dict] | None = None, preview: list[str] | None = None,
    errors: Callable[[str], AbstractContextManager[None]] | None = None,
) -> dg.MaterializeResult:
    """`write_bronze` for a day of millions of calls: `parse` hands the records to a sink batch by
    batch, which writes them straight into the partition's Parquet file (a day is never held
    whole, nothing spills). The three files are renamed into place only when all are complete
    (records last); if parsing or any write fails, none of the three changes. `totals(path)`
    reads the written file for the metadata (whole numbers). A disk error is explained by
    `errors(during)` (the warehouse resource's `storage_errors`: a full spill folder too), else
    as the lake's."""
    errors = errors or (lambda during: explained([(lake.root, lake.setting, str(lake.root))], during=during))
    with errors(f"ingesting {table}"), lake.replace_together() as batch:
        writer = batch.writer("bronze", table, day, schema)
        streamed = parse(writer.write)
        batch.write("bronze", f"{table}_files", day, streamed.files)
        batch.write("bronze", f"{table}_rejects", day, streamed.rejects)
    extra = {k: int(v) for k, v in totals(lake.partition_file("bronze", table, day)).items()} if totals else {}
    ingested = Ingested(records=writer.head, rejects=streamed.rejects, files=streamed.files)
    return _result(ingested, writer.rows, writer.head, extra, preview)


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
