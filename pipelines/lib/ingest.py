"""What every ingest returns: typed records, quarantined lines and per-file line counts."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
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


@dataclass
class ParsedDay:
    """A delivery day of one source parsed into the DuckDB session `con`: `records` stays in
    DuckDB (a relation over a session table, which spills under the memory limit, so a day of
    millions of calls never passes through Python); rejects and per-file counts are Arrow."""

    con: duckdb.DuckDBPyConnection
    records: duckdb.DuckDBPyRelation
    rejects: pa.Table
    files: pa.Table
    tables: tuple[str, ...]  # the session tables holding the day

    def drop(self) -> None:
        """Drop the session tables (after the records were written or fetched)."""
        for name in self.tables:
            self.con.execute(f"drop table if exists {name}")


def rejects_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=REJECTS_SCHEMA)
