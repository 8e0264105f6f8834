"""The Parquet lake: one folder per table, one `date=YYYY-MM-DD` folder per partition.

Every write is atomic: the file is written under a temporary name in the same folder and
renamed into place, so a reader never sees half a partition.

Parquet settings, on purpose: zstd (level 3) compresses these repetitive id and name columns
about twice as well as snappy at a similar decode speed, and the lake is read far more often
than it is written. Row groups of 500,000 rows: the unit DuckDB's readers parallelise over and
prune with min/max statistics (`usage_date`, `ts`), so a day of millions of calls still spreads
over every thread, while each group stays large enough for dictionaries and compression to pay.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .runlock import process_alive

ROW_GROUP_SIZE = 500_000
COMPRESSION = "zstd"


class Lake:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def table_dir(self, layer: str, table: str) -> Path:
        return self.root / layer / table

    def partition_file(self, layer: str, table: str, day: date) -> Path:
        return self.table_dir(layer, table) / f"date={day.isoformat()}" / "data.parquet"

    def glob(self, layer: str, table: str) -> str:
        return str(self.table_dir(layer, table) / "date=*" / "*.parquet")

    def existing(self, layer: str, table: str, days: list[date]) -> list[str]:
        """The partition files of `days` that exist, as strings (for DuckDB's read_parquet)."""
        files = [self.partition_file(layer, table, d) for d in days]
        return [str(f) for f in files if f.exists()]

    def write(self, layer: str, table: str, day: date, data: pa.Table) -> Path:
        """Replace one partition with `data`, atomically."""
        target = self.partition_file(layer, table, day)
        target.parent.mkdir(parents=True, exist_ok=True)
        _sweep(target)
        tmp = temp_path(target)
        pq.write_table(data, tmp, compression=COMPRESSION, row_group_size=ROW_GROUP_SIZE)
        os.replace(tmp, target)
        return target

    @contextmanager
    def partition_writer(self, layer: str, table: str, day: date, schema: pa.Schema) -> Iterator[PartitionWriter]:
        """Replace one partition with rows written a batch at a time (`writer.write(table)`): the
        file takes its name when the block ends, and is discarded if the block raises."""
        target = self.partition_file(layer, table, day)
        target.parent.mkdir(parents=True, exist_ok=True)
        _sweep(target)
        writer = PartitionWriter(temp_path(target), schema)
        try:
            yield writer
            writer.close()
        except BaseException:
            writer.abort()
            if not any(target.parent.iterdir()):  # a partition that never existed leaves no folder
                target.parent.rmdir()
            raise
        os.replace(writer.path, target)

    def write_if_changed(
        self, layer: str, table: str, day: date, data: pa.Table, ignore: list[str] | None = None
    ) -> bool:
        """Write the partition only if its content differs from what is there, ignoring the
        `ignore` columns; return whether it was written. Re-runs that change nothing leave the
        file byte-identical."""
        target = self.partition_file(layer, table, day)
        if target.exists():
            _sweep(target)
            old = pq.read_table(target)
            keep = [c for c in data.column_names if c not in (ignore or [])]
            if old.schema == data.schema and old.select(keep).equals(data.select(keep)):
                return False
        self.write(layer, table, day, data)
        return True

    def existing_tables(self, layer: str, tables: list[str], day: date) -> list[str]:
        """The partition files of `day` that exist among `tables`."""
        return [str(p) for t in tables if (p := self.partition_file(layer, t, day)).exists()]


class PartitionWriter:
    """A Parquet file written a batch of rows at a time, in bounded memory: rows are cut into row
    groups of exactly `ROW_GROUP_SIZE` (the last one smaller), and each group is compressed and
    written by a background thread while the caller prepares the next batch (PyArrow releases
    the GIL), one group in flight at a time. Rows are cast to `schema`, so every partition has the
    same column types and nullability whatever its data."""

    HEAD_ROWS = 10

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema = path, schema
        self.rows = 0
        self.head = schema.empty_table()  # the first rows, for previews
        self._writer = pq.ParquetWriter(path, schema, compression=COMPRESSION)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
        self._in_flight: Future | None = None

    def write(self, table: pa.Table) -> None:
        table = table.cast(self.schema)
        if self.head.num_rows < self.HEAD_ROWS:
            self.head = pa.concat_tables([self.head, table.slice(0, self.HEAD_ROWS - self.head.num_rows)])
        self.rows += table.num_rows
        self._pending.append(table)
        self._pending_rows += table.num_rows
        while self._pending_rows >= ROW_GROUP_SIZE:
            rows = pa.concat_tables(self._pending)
            self._submit(rows.slice(0, ROW_GROUP_SIZE))
            rest = rows.slice(ROW_GROUP_SIZE)
            self._pending, self._pending_rows = [rest], rest.num_rows

    def close(self) -> None:
        if self._pending_rows:
            self._submit(pa.concat_tables(self._pending))
        self._pending, self._pending_rows = [], 0
        self._wait()
        self._pool.shutdown()
        self._writer.close()

    def abort(self) -> None:
        self._pending = []
        try:
            self._wait()
        finally:
            self._pool.shutdown()
            self._writer.close()
            self.path.unlink(missing_ok=True)

    def _submit(self, group: pa.Table) -> None:
        self._wait()
        self._in_flight = self._pool.submit(self._writer.write_table, group.combine_chunks(), ROW_GROUP_SIZE)

    def _wait(self) -> None:
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()


def temp_path(target: Path) -> Path:
    """A temporary name beside `target` that says which process writes it: `.<name>.<pid>-<random>.tmp`."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")


def _sweep(target: Path) -> None:
    """Remove temporary files a killed writer left beside `target` (never visible to readers):
    those of a process that no longer exists, never a live writer's."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        pid = stale.name[len(target.name) + 2:].partition("-")[0]
        if not (pid.isdigit() and process_alive(int(pid))):
            stale.unlink(missing_ok=True)
