"""What every ingest returns: typed records, quarantined lines and per-file line counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

REJECTS_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("file", pa.string()),
        ("line", pa.int64()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)

FILES_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("file", pa.string()),
        ("sha256", pa.string()),
        ("bytes", pa.int64()),
        ("lines_read", pa.int64()),
        ("records", pa.int64()),
        ("skipped", pa.int64()),
        ("rejected", pa.int64()),
    ]
)


@dataclass
class Ingested:
    """The outcome of parsing one partition's files of one source.

    For every file, `lines_read = records + skipped + rejected` (see `FILES_SCHEMA`).
    """

    records: pa.Table
    rejects: pa.Table
    files: pa.Table

    @property
    def counts(self) -> dict[str, int]:
        cols = ("lines_read", "records", "skipped", "rejected")
        return {c: int(pc.sum(self.files[c]).as_py() or 0) for c in cols} | {"files": self.files.num_rows}


Sink = Callable[[pa.Table], None]  # takes a day's records a batch at a time


@dataclass
class Streamed:
    """A delivery day parsed batch by batch with its records handed to a sink as they came (a
    day of millions of calls is never held whole): what remains is the quarantine and the
    per-file line counts."""

    rejects: pa.Table
    files: pa.Table


def collect(parse: Callable[[Sink], Streamed], schema: pa.Schema) -> Ingested:
    """Run a streaming parse with a sink that keeps every batch: the day as Arrow tables, records
    cast to `schema` in (file, line) order. Batches come in the order the files came, each in file
    and line order, so the records are sorted only when the files did not come in key order."""
    parts: list[pa.Table] = []
    streamed = parse(parts.append)
    records = pa.concat_tables([p.cast(schema) for p in parts]) if parts else schema.empty_table()
    keys = streamed.files.column("file").to_pylist()
    if keys != sorted(keys):
        records = records.sort_by([("source_file", "ascending"), ("source_line", "ascending")])
    return Ingested(records=records, rejects=streamed.rejects, files=streamed.files)


def rejects_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=REJECTS_SCHEMA)
