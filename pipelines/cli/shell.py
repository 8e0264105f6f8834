"""`darkcompute sql`: statements on the warehouse, read-only, or a prompt."""

from __future__ import annotations

from pathlib import Path

import duckdb
from rich.table import Table

from pipelines.cli.output import console, first_line, shown, warn


def query(args) -> int:
    from pipelines.defs.settings import setting

    path = args.warehouse or setting("DARKCOMPUTE_WAREHOUSE")
    if not Path(path).exists():
        warn(f"no warehouse at {path}; run `darkcompute reconcile` (or `make demo`) first")
        return 2
    if args.query:
        return run_sql(path, args.query)
    console.print(f"{path} (read-only). End a statement with ';'. Ctrl-C clears the statement, Ctrl-D quits.",
                  style="dim")
    buffer = ""
    while True:
        try:
            line = input("darkcompute> " if not buffer else "         ...> ")
        except EOFError:
            console.print()
            return 0
        except KeyboardInterrupt:
            console.print()
            buffer = ""
            continue
        buffer += line + "\n"
        if buffer.strip().endswith(";"):
            try:
                run_sql(path, buffer)
            except KeyboardInterrupt:
                warn("interrupted")
            buffer = ""


def statements(text: str) -> list[str]:
    """`text` cut at its `;` tokens (DuckDB's tokenizer: a `;` in a string or comment does not
    cut), so that one statement that fails to parse does not stop the others."""
    cuts = [pos for pos, kind in duckdb.tokenize(text) if kind == duckdb.token_type.operator and text[pos] == ";"]
    pieces = [text[start + 1:end] for start, end in zip([-1, *cuts], [*cuts, len(text)], strict=True)]
    return [p.strip() for p in pieces if any(kind != duckdb.token_type.comment for _, kind in duckdb.tokenize(p))]


def run_sql(path: str, text: str) -> int:
    """Run every statement of `text` on the warehouse, read-only, and print each result. A
    statement that fails (to parse, to plan, or while its rows are fetched) prints one line and
    the next one still runs; returns 1 if any failed. Each statement opens the file anew and
    closes it before the next: the prompt holds nothing while idle, and sees the latest publish."""
    failed = 0
    for statement in statements(text):
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                rel = con.sql(statement)
                columns, rows = (rel.columns, rel.fetchall()) if rel is not None else ([], None)
            finally:
                con.close()
        except Exception as exc:  # duckdb.Error, or a value Python cannot hold (a year beyond 9999)
            warn(f"error: {first_line(exc)}")
            failed = 1
            continue
        if rows is None:
            continue
        table = Table()
        for name in columns:
            table.add_column(shown(name))
        for row in rows:
            table.add_row(*(shown(v) for v in row))
        console.print(table)
    return failed
