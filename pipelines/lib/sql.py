"""Load the SQL files under `sql/` and run them with bind parameters (never interpolated)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """The text of `sql/<name>.sql`, e.g. `load("marts/fct_dark_compute")`."""
    return (SQL_DIR / f"{name}.sql").read_text()


def run(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> duckdb.DuckDBPyConnection:
    """Execute one SQL file. Only the `$name` parameters the file uses are bound."""
    text = load(name)
    used = {k: v for k, v in params.items() if f"${k}" in text}
    return con.execute(text, used) if used else con.execute(text)


def connect(path: str | Path = ":memory:", *, threads: int | None = None, memory_limit: str | None = None,
            temp_directory: str | Path | None = None):
    """A DuckDB connection in UTC with the project's settings; `temp_directory` is where it
    spills beyond `memory_limit` (DuckDB's default is `.tmp` in the working directory)."""
    con = duckdb.connect(str(path))
    con.execute("set timezone = 'UTC'")
    if threads:
        con.execute("set threads = $t", {"t": int(threads)})
    if memory_limit:
        con.execute("set memory_limit = $m", {"m": memory_limit})
    if temp_directory:
        Path(temp_directory).mkdir(parents=True, exist_ok=True)  # DuckDB creates the last level only
        con.execute("set temp_directory = $d", {"d": str(temp_directory)})
    return con


def table(con: duckdb.DuckDBPyConnection, name: str, **params: Any):
    """Run one SQL file (a single query) and return its result as a `pyarrow.Table`."""
    return relation(con, name, **params).to_arrow_table()


def relation(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> duckdb.DuckDBPyRelation:
    """One SQL file (a single query) as a lazy relation, with its `$name` parameters bound."""
    text = load(name)
    used = {k: v for k, v in params.items() if f"${k}" in text}
    return con.sql(text, params=used or None)


def run_script(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> None:
    """Execute a file of several `;`-terminated statements in order, in one transaction."""
    statements = [s.strip() for s in load(name).split(";\n") if _has_code(s)]
    con.execute("begin transaction")
    try:
        for statement in statements:
            used = {k: v for k, v in params.items() if f"${k}" in statement}
            con.execute(statement, used) if used else con.execute(statement)
        con.execute("commit")
    except BaseException:
        try:
            con.execute("rollback")
        except duckdb.Error:
            pass  # a failed commit (a full disk) already ended the transaction: report its cause, not this
        raise


def _has_code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines())
