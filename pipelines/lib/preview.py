"""A small markdown preview of an Arrow table, for Dagster materialization metadata."""

from __future__ import annotations

import pyarrow as pa


def markdown(table: pa.Table, columns: list[str] | None = None, limit: int = 10) -> str:
    """The first `limit` rows of `table` (optionally only `columns`) as a markdown table."""
    view = table.select(columns) if columns else table
    head = view.slice(0, limit).to_pylist()
    names = view.column_names
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join("" if row[n] is None else str(row[n]) for n in names) + " |" for row in head]
    if view.num_rows > limit:
        lines.append(f"\n_{view.num_rows - limit} more rows_")
    return "\n".join(lines)
