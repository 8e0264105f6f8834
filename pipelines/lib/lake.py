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
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

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
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        pq.write_table(data, tmp, compression=COMPRESSION, row_group_size=ROW_GROUP_SIZE)
        os.replace(tmp, target)
        return target

    def write_relation(self, layer: str, table: str, day: date, relation) -> Path:
        """Replace one partition with the rows of a DuckDB relation, atomically, written by DuckDB
        itself (streamed, spilling under its `memory_limit`; the rows never pass through Python)."""
        target = self.partition_file(layer, table, day)
        target.parent.mkdir(parents=True, exist_ok=True)
        _sweep(target)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        relation.write_parquet(str(tmp), compression=COMPRESSION, row_group_size=ROW_GROUP_SIZE)
        os.replace(tmp, target)
        return target

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


def _sweep(target: Path) -> None:
    """Remove temporary files a killed writer left beside `target` (never visible to readers)."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)
