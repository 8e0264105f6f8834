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

    def fetch(self, schema: pa.Schema) -> Ingested:
        """The day as Arrow tables, records cast to `schema` in (file, line) order; drops the
        session tables. Batches were appended in the order the files came, each in file and line
        order, so the records are sorted only when the files did not come in key order."""
        try:
            records = self.records.to_arrow_table().cast(schema)
            keys = self.files.column("file").to_pylist()
            if keys != sorted(keys):
                records = records.sort_by([("source_file", "ascending"), ("source_line", "ascending")])
        finally:
            self.drop()
        return Ingested(records=records, rejects=self.rejects, files=self.files)


def append_batch(parts: dict[str, duckdb.DuckDBPyRelation], first: bool) -> None:
    """Store one batch's relations in the session tables they are named after: created from the
    first batch, appended to after it (the tables spill to disk under the memory limit)."""
    for name, relation in parts.items():
        if first:
            relation.create(name)
        else:
            relation.insert_into(name)


def rejects_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=REJECTS_SCHEMA)
