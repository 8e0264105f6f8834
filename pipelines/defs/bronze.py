"""Writing one source's ingest of one delivery day to the bronze layer (shared by the wings)."""


from datetime import date

import dagster as dg

from pipelines.lib.ingest import Ingested
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
    counts = ingested.counts
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": ingested.records.num_rows,
            "files": counts["files"],
            "lines_read": counts["lines_read"],
            "records": counts["records"],
            "skipped_lines": counts["skipped"],
            "rejected_lines": counts["rejected"],
            **(extra or {}),
            "preview": dg.MetadataValue.md(markdown(ingested.records, preview)),
        }
    )
