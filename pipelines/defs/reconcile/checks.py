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
    """The logs attribute at least `minimum` of each provider's token invoice for the day, per
    provider (pooled, a well-logged provider would hide one whose logs explain nothing). A
    provider with no token invoice has no share (the `invoice_not_missing` check covers it)."""
    rows = sql.run(con, "checks/coverage", path=str(path)).fetchall()
    shares = {provider: (attributed / invoice) if invoice else None for provider, invoice, attributed, _ in rows}
    below = [p for p, share in shares.items() if share is not None and share < minimum]
    table = [f"| {p} | {'n/a' if shares[p] is None else round(shares[p], 6)} | {invoice} | {attributed} | {unlogged} |"
             for p, invoice, attributed, unlogged in rows]
    known = [share for share in shares.values() if share is not None]
    return Outcome(
        not below,
        {"coverage": float(round(min(known), 6)) if known else 1.0, "minimum": float(minimum),
         **{f"coverage_{p}": float(round(share, 6)) for p, share in shares.items() if share is not None},
         "below_minimum": ", ".join(below),
         "by_provider": "| provider | coverage | token invoice USD | attributed USD | unlogged USD |\n"
                        "|---|---|---|---|---|\n" + "\n".join(table)},
    )


def missing_money(con: duckdb.DuckDBPyConnection, path: Path) -> Outcome:
    """No provider's logs recorded calls on the day while its invoice for the day is $0 (no usage
    and no cost rows at all, or an export that came back empty). Publishing such a day would
    price every logged call at $0 and call it final."""
    rows = sql.run(con, "checks/missing_money", path=str(path)).fetchall()
    providers = ", ".join(p for p, *_ in rows)
    calls = sum(n for _, n, *_ in rows)
    metadata = {"providers": providers, "logged_calls": calls,
                **{f"logged_calls_{p}": n for p, n, *_ in rows}}
    if rows:
        metadata["what_to_do"] = (
            f"the logs recorded {calls:,} calls to {providers} but the invoice of the day is $0 (no usage and no "
            "cost export, or an empty one). Check that the export was delivered to the source root, or that the "
            "admin key belongs to the organization the calls were made in; then reconcile the day again.")
    return Outcome(not rows, metadata)


def rejected(con: duckdb.DuckDBPyConnection, path: Path) -> Outcome:
    """No delivered line was rejected (each rejected line is in `rejected_records`)."""
    rows = sql.run(con, "checks/rejected", path=str(path)).fetchall()
    total = sum(r[2] for r in rows)
    by_reason = "\n".join(f"| {s} | {r} | {n} |" for s, r, n in rows)
    return Outcome(
        total == 0,
        {"rejected_lines": total, "by_reason": "| source | reason | lines |\n|---|---|---|\n" + by_reason},
    )


def unrecognized(con: duckdb.DuckDBPyConnection, path: Path) -> Outcome:
    """No delivered file was a file of JSON lines that no rule recognizes (e.g. a new logger's
    format): each one is named with its line count and the keys it held."""
    if "file" not in sql.run(con, "checks/columns", path=str(path)).fetchone()[0]:
        return Outcome(True, {"unrecognized_files": 0})  # a partition written before files were named
    rows = sql.run(con, "checks/unrecognized", path=str(path)).fetchall()
    table = "\n".join(f"| {s} | {f} | {n} | {k} |" for s, f, n, k in rows)
    return Outcome(
        not rows,
        {"unrecognized_files": len(rows), "files": [f for _, f, _, _ in rows],
         "by_file": "| source | file | lines | keys seen |\n|---|---|---|---|\n" + table},
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


def price_gap(con: duckdb.DuckDBPyConnection, path: Path, share: Decimal) -> Outcome:
    """No token cell of fct_spend_diagnosis has a price gap (invoice against list price times its
    billed tokens) larger than `share` of its invoice: a wrong catalog is a bug to fix, not noise.
    The cells over the share are listed, largest gap first."""
    rows = sql.run(con, "checks/price_gap", path=str(path), share=share).fetchall()
    table = "\n".join(f"| {p} | {a} | {m} | {t} | {i} | {g} | {'n/a' if r is None else r} | {d} |"
                      for p, a, m, t, i, g, r, d in rows)
    return Outcome(
        not rows,
        {"cells_over_share": len(rows), "share": float(share),
         "worst_price_gap_usd": str(rows[0][5]) if rows else "0",
         "cells": "| provider | billing account | model | tier | invoice USD | price gap USD | invoice / list | "
                  "diagnosis |\n|---|---|---|---|---|---|---|---|\n" + table},
    )
