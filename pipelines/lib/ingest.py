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
        ("unrecognized", pa.int64()),  # of the skipped: JSON objects no rule knows (logs; null for other sources)
        ("sample_keys", pa.string()),  # their keys, names only (logs)
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


def damaged_rows(source: str, batch: list) -> list[dict]:
    """A rejected row for each file of a `line_batches` batch whose gzip stream was damaged (the
    line after the last one read, with why) or that the store refused to read (no line number)."""
    return [{"source": source, "file": f.key, "line": None if f.refused else f.lines.num_rows + 1,
             "reason": f.problem, "raw": ""}
            for f in batch if f.problem]


def quarantine(rejects: list[pa.Table], damaged: list[dict]) -> pa.Table:
    """A day's rejected rows: the parser's, batch by batch, in (file, line) order (few rows), then
    the damaged streams'."""
    parsed = pa.concat_tables(rejects).sort_by([("file", "ascending"), ("line", "ascending")])
    return pa.concat_tables([parsed, rejects_table(damaged)])


def file_table(source: str, files: list[tuple[str, str, int]], counts: pa.Table, damaged: list[dict],
               extra_rows: list[dict] = ()) -> pa.Table:
    """One `FILES_SCHEMA` row per file read (`(key, sha256, size)`), from the parser's per-file
    line counts (`counts`, one row per file); a damaged stream adds one rejected line. `extra_rows`
    (files counted without being read) follow."""
    by_file = {r["file"]: r for r in counts.to_pylist()}  # one row per file, not per line
    extra = {d["file"]: 1 for d in damaged}
    counted = 0 if "unrecognized" in counts.column_names else None  # counted by the log parser only
    rows = []
    for key, sha, size in files:
        c = by_file.get(key, {"lines_read": 0, "records": 0, "skipped": 0, "rejected": 0})
        rows.append(
            {
                "source": source, "file": key, "sha256": sha, "bytes": size,
                "lines_read": c["lines_read"] + extra.get(key, 0), "records": c["records"],
                "skipped": c["skipped"], "rejected": c["rejected"] + extra.get(key, 0),
                "unrecognized": c.get("unrecognized", counted), "sample_keys": c.get("sample_keys"),
            }
        )
    return pa.Table.from_pylist(rows + list(extra_rows), schema=FILES_SCHEMA)
