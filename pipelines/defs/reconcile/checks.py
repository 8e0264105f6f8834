"""The checks on the marts, as plain functions over a partition's Parquet file.

The Dagster asset checks in `assets.py` call these; tests call them directly on fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.lib import sql


@dataclass(frozen=True)
class Outcome:
    passed: bool
    metadata: dict


def identity(con: duckdb.DuckDBPyConnection, path: Path) -> Outcome:
    """Every reconciliation row's classes sum to its invoice cost, to the picodollar, and no
    residual is negative."""
    violations, worst = sql.run(con, "checks/identity", path=str(path)).fetchone()
    return Outcome(violations == 0, {"violating_rows": violations, "worst_gap_usd": str(worst)})


def coverage(con: duckdb.DuckDBPyConnection, path: Path, minimum: Decimal) -> Outcome:
    """The logs attribute at least `minimum` of the day's token invoice."""
    invoice, attributed, unlogged = sql.run(con, "checks/coverage", path=str(path)).fetchone()
    share = (attributed / invoice) if invoice else Decimal(1)
    return Outcome(
        share >= minimum,
        {"coverage": float(round(share, 6)), "minimum": float(minimum), "token_invoice_usd": str(invoice),
         "attributed_usd": str(attributed), "unlogged_usd": str(unlogged)},
    )


def rejected(con: duckdb.DuckDBPyConnection, path: Path) -> Outcome:
    """No delivered line was rejected (each rejected line is in `rejected_records`)."""
    rows = sql.run(con, "checks/rejected", path=str(path)).fetchall()
    total = sum(r[2] for r in rows)
    by_reason = "\n".join(f"| {s} | {r} | {n} |" for s, r, n in rows)
    return Outcome(
        total == 0,
        {"rejected_lines": total, "by_reason": "| source | reason | lines |\n|---|---|---|\n" + by_reason},
    )


def conservation(con: duckdb.DuckDBPyConnection, files: list[str], records: list[str]) -> Outcome:
    """For every file delivered that day: lines read = records + skipped + rejected, and the
    records it claims are exactly the bronze rows that carry its name. Nothing lost, nothing
    counted twice between the file and the lake."""
    if not files:
        return Outcome(True, {"files": 0})
    bad = sql.run(con, "checks/conservation", files=files, records=records).fetchall()
    (total,) = con.execute("select count(*) from read_parquet($f, union_by_name = true)", {"f": files}).fetchone()
    return Outcome(
        not bad,
        {"files": total, "unbalanced_files": len(bad),
         "first_unbalanced": str(bad[0]) if bad else ""},
    )
