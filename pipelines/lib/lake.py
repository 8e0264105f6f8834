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

from .disk import explain, is_disk_error
from .runlock import process_alive

ROW_GROUP_SIZE = 500_000
COMPRESSION = "zstd"


class Lake:
    """The lake under `root`; `setting` is the environment variable that chose the root, named in
    every filesystem error (with the path and what to do)."""

    def __init__(self, root: str | Path, setting: str = "DARKCOMPUTE_LAKE_DIR"):
        self.root = Path(root)
        self.setting = setting

    def table_dir(self, layer: str, table: str) -> Path:
        return self.root / layer / table

    def partition_file(self, layer: str, table: str, day: date) -> Path:
        return self.table_dir(layer, table) / f"date={day.isoformat()}" / "data.parquet"

    def glob(self, layer: str, table: str) -> str:
        return str(self.table_dir(layer, table) / "date=*" / "*.parquet")

    def days(self, layer: str, table: str) -> list[date]:
        """Every day `table` has a partition file for, in order."""
        found = set()
        for folder in self.table_dir(layer, table).glob("date=*"):
            try:
                day = date.fromisoformat(folder.name.removeprefix("date="))
            except ValueError:
                continue
            if any(folder.glob("*.parquet")):
                found.add(day)
        return sorted(found)

    def existing(self, layer: str, table: str, days: list[date]) -> list[str]:
        """The partition files of `days` that exist, as strings (for DuckDB's read_parquet)."""
        files = [self.partition_file(layer, table, d) for d in days]
        return [str(f) for f in files if f.exists()]

    def write(self, layer: str, table: str, day: date, data: pa.Table) -> Path:
        """Replace one partition with `data`, atomically."""
        with self.replace_together() as batch:
            batch.write(layer, table, day, data)
        return self.partition_file(layer, table, day)

    @contextmanager
    def partition_writer(self, layer: str, table: str, day: date, schema: pa.Schema) -> Iterator[PartitionWriter]:
        """Replace one partition with rows written a batch at a time (`writer.write(table)`): the
        file takes its name when the block ends, and is discarded if the block raises."""
        with self.replace_together() as batch:
            yield batch.writer(layer, table, day, schema)

    @contextmanager
    def replace_together(self) -> Iterator[Replacement]:
        """Replace several partitions together or not at all: every `batch.write(...)` and
        `batch.writer(...)` goes to a temporary file beside its target; when the block ends and
        every file is complete, they are renamed into place one after the other (nothing can
        fail between the renames but a crash of the machine). If the block or a write raises,
        the temporary files are removed and every old partition stays whole."""
        batch = Replacement(self)
        try:
            yield batch
            batch.finish()
            batch.publish()
        except BaseException as exc:
            batch.abort()
            path = batch.path_of(exc) if isinstance(exc, OSError) and is_disk_error(exc) else None
            if path is not None:
                raise explain(exc, path, self.setting, during="writing the lake", value=str(self.root)) from exc
            raise

    def read_previous(self, layer: str, table: str, day: date) -> tuple[pa.Table | None, str | None]:
        """The partition as it is now: (table, None); (None, None) if there is none; (None,
        why) if its file cannot be read (truncated, not Parquet): derived state that a write heals."""
        target = self.partition_file(layer, table, day)
        if not target.exists():
            return None, None
        try:
            return pq.read_table(target), None
        except (pa.ArrowException, OSError) as exc:
            return None, f"{target} could not be read ({str(exc).strip()})"

    def write_if_changed(
        self, layer: str, table: str, day: date, data: pa.Table, ignore: list[str] | None = None
    ) -> bool:
        """Write the partition only if its content differs from what is there, ignoring the
        `ignore` columns; return whether it was written. Re-runs that change nothing leave the
        file byte-identical. A file that cannot be read counts as changed and is overwritten."""
        if not self.differs(layer, table, day, data, ignore):
            return False
        self.write(layer, table, day, data)
        return True

    def differs(self, layer: str, table: str, day: date, data: pa.Table, ignore: list[str] | None = None) -> bool:
        """Whether `data` differs from the partition's content (ignoring the `ignore` columns);
        a missing or unreadable file differs from anything."""
        old, _unreadable = self.read_previous(layer, table, day)
        keep = [c for c in data.column_names if c not in (ignore or [])]
        return not (old is not None and old.schema == data.schema and old.select(keep).equals(data.select(keep)))

    def existing_tables(self, layer: str, tables: list[str], day: date) -> list[str]:
        """The partition files of `day` that exist among `tables`."""
        return [str(p) for t in tables if (p := self.partition_file(layer, t, day)).exists()]


class Replacement:
    """The files of one `Lake.replace_together` block: written under temporary names, renamed
    into place only when all of them are complete."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self._files: list[tuple[Path, Path]] = []  # (temporary, target)
        self._writers: list[tuple[PartitionWriter, Path]] = []  # (writer, its target), until closed
        self._streamed: list[tuple[PartitionWriter, Path]] = []
        self._new_folders: list[Path] = []
        self._current: Path | None = None  # the target of the file being written, for errors

    def write(self, layer: str, table: str, day: date, data: pa.Table, name: str = "data.parquet") -> Path:
        """Write `data` as the partition's next file `name` (temporary until the block ends)."""
        tmp = self._temporary(self.lake.partition_file(layer, table, day).with_name(name))
        self._current = tmp.parent / name
        pq.write_table(data, tmp, compression=COMPRESSION, row_group_size=ROW_GROUP_SIZE)
        return tmp

    def writer(self, layer: str, table: str, day: date, schema: pa.Schema) -> PartitionWriter:
        """A `PartitionWriter` for the partition (temporary until the block ends)."""
        target = self.lake.partition_file(layer, table, day)
        writer = PartitionWriter(self._temporary(target), schema)
        self._current = target
        self._writers.append((writer, target))
        self._streamed.append((writer, target))
        return writer

    def _temporary(self, target: Path) -> Path:
        if not target.parent.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            self._new_folders.append(target.parent)
        _sweep(target)
        tmp = temp_path(target)
        self._files.append((tmp, target))
        return tmp

    def finish(self) -> None:
        """Complete every streamed file (its last row group and footer)."""
        while self._writers:
            writer, self._current = self._writers[0]
            writer.close()
            self._writers.pop(0)

    def publish(self) -> None:
        """Rename every file into place, streamed ones (a day's records) last."""
        streamed = {target for _, target in self._streamed}
        for tmp, target in sorted(self._files, key=lambda f: f[1] in streamed):
            self._current = target
            os.replace(tmp, target)

    def abort(self) -> None:
        for writer, _ in self._writers:
            try:
                writer.abort()
            except Exception:  # the first error is the one to report
                pass
        for tmp, _ in self._files:
            tmp.unlink(missing_ok=True)
        for folder in reversed(self._new_folders):  # a partition that never existed leaves no folder
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()

    def path_of(self, exc: OSError) -> Path | None:
        """The lake file an error is about: its own `filename` when that lies in the lake (an
        error about another place, such as a landing download, is not the lake's), else the
        target of the file being written."""
        if exc.filename:
            named = Path(os.path.abspath(exc.filename))
            return named if Path(os.path.abspath(self.lake.root)) in named.parents else None
        return self._current


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
