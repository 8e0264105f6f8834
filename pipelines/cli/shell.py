"""`darkcompute sql`: statements on the warehouse, read-only, or a prompt.

Imports nothing heavy (no Dagster, no dbt): the command starts in a fraction of a second.
Each statement's result is written in one of `FORMATS`: `table` (a terminal's default: fits the
terminal's width by folding text and never cutting a digit; a short result too wide for that is
turned on its side, a long one is one block per row), `csv` (the default when stdout is not a terminal), `json` (one array of row
objects per statement; DECIMAL values as strings holding every digit) or `markdown`. A line that
starts with `.` is a meta command (`META`), in the prompt and in the query argument alike.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
from rich.table import Table
from rich.text import Text

from pipelines.cli.output import console, first_line, shown, warn

FORMATS = ("table", "csv", "json", "markdown")
TABLE_ROWS = 1000  # rows a `table` shows at most (rendering more is slow and nobody reads them)
TRANSPOSE_ROWS = 12  # a result this short that is too wide is turned on its side before going vertical
MIN_TEXT_WIDTH = 12  # a text column is folded down to this width before rows go vertical
META = {
    ".tables": "every table and view, with what it holds",
    ".schema [NAME]": "the columns of NAME (every table's, without NAME): type and meaning",
    ".format [table|csv|json|markdown]": "show or set the output format",
    ".help": "this list",
    ".quit": "leave the prompt (also .exit, or Ctrl-D)",
}
META_WORDS = {".tables", ".schema", ".format", ".help", ".h", ".quit", ".exit", ".q"}
TABLES_SQL = """
select table_name as name, 'table' as kind, estimated_size as rows, comment
from duckdb_tables() where database_name = current_database() and schema_name = 'main'
union all
select view_name, 'view', null, comment
from duckdb_views() where database_name = current_database() and schema_name = 'main' and not internal
order by name
"""
SCHEMA_SQL = """
select table_name as "table", column_name as "column", data_type as type, comment
from duckdb_columns() where database_name = current_database() and schema_name = 'main'
  and ($name is null or lower(table_name) = lower($name))
order by table_name, column_index
"""


@dataclass
class Shell:
    path: str
    format: str
    escape: bool  # control characters shown as \\xNN (the output is a terminal)
    failed: int = 0
    quit: bool = False
    written: int = 0  # results written so far (a blank line separates the next one)


def query(args) -> int:
    from pipelines.defs.settings import setting  # os and pathlib only

    path = args.warehouse or setting("DARKCOMPUTE_WAREHOUSE")
    if not Path(path).exists():
        warn(f"no warehouse at {path}; run `darkcompute reconcile` (or `make demo`) first")
        return 2
    tty = sys.stdout.isatty()
    shell = Shell(path, args.format or ("table" if tty else "csv"), escape=tty)
    texts = []
    if args.file is not None:
        try:
            texts.append(sys.stdin.read() if str(args.file) == "-" else Path(args.file).read_text())
        except OSError as exc:
            warn(f"cannot read {args.file}: {exc.strerror or exc}")
            return 2
    if args.query is not None:
        texts.append(args.query)
    for text in texts:  # the file's statements, then the query's
        run_script(shell, text)
    if texts:
        return shell.failed
    return prompt(shell)


def prompt(shell: Shell) -> int:
    """Read statements line by line; run each as soon as its `;` arrives, and each meta command
    as soon as its line does. No prompt text when stdin is not a terminal (`< file.sql`; `-f -`
    reads stdin as a script instead, and exits 1 if a statement failed)."""
    interactive = sys.stdin.isatty()
    if interactive:
        console.print(f"{shell.path} (read-only). End a statement with ';'. .help lists the meta commands; "
                      "Ctrl-C clears the statement, Ctrl-D quits.", style="dim")
    buffer = ""
    while not shell.quit:
        try:
            line = input(("darkcompute> " if not buffer.strip() else "         ...> ") if interactive else "")
        except EOFError:
            if interactive:
                console.print()
            else:  # `darkcompute sql < file.sql`: its last statement needs no `;`
                _run(shell, _pieces(buffer))
            break
        except KeyboardInterrupt:
            console.print()
            buffer = ""
            continue
        if _meta_line(line, buffer):  # runs at once; a statement being typed is kept
            head, _, line = line.strip().partition(";")
            _run(shell, [("meta", head.strip())])
        buffer += line + "\n"
        if not pending(buffer) and statements(buffer):
            _run(shell, _pieces(buffer))
            buffer = ""
    return 0  # each error was shown where it happened


def pending(text: str) -> bool:
    """Whether `text` ends inside a statement (something other than comments after its last `;`)."""
    tokens = duckdb.tokenize(text)
    cuts = [pos for pos, kind in tokens if kind == duckdb.token_type.operator and text[pos] == ";"]
    last = cuts[-1] if cuts else -1
    return any(kind != duckdb.token_type.comment and pos > last for pos, kind in tokens)


def statements(text: str) -> list[str]:
    """`text` cut at its `;` tokens (DuckDB's tokenizer: a `;` in a string or comment does not
    cut), so that one statement that fails to parse does not stop the others."""
    cuts = [pos for pos, kind in duckdb.tokenize(text) if kind == duckdb.token_type.operator and text[pos] == ";"]
    pieces = [text[start + 1:end] for start, end in zip([-1, *cuts], [*cuts, len(text)], strict=True)]
    return [p.strip() for p in pieces if any(kind != duckdb.token_type.comment for _, kind in duckdb.tokenize(p))]


def script(text: str) -> list[tuple[str, str]]:
    """`text` as ("sql", statement) and ("meta", command) items, in order. A line that starts
    with `.` outside a statement is a meta command, up to its line's end or its `;` (what follows
    a `;` is read on): `.tables` on one line and `select 1` on the next are two items, not one
    broken statement. A `.` word right after a `;` (`select 1; .tables`) is one too."""
    items, buffer = [], ""
    for line in text.split("\n"):  # a known meta command ends a statement left without its `;`
        if _meta_line(line, buffer):
            items += _pieces(buffer)
            head, _, line = line.strip().partition(";")
            items.append(("meta", head.strip()))
            buffer = ""
        buffer += line + "\n"
    return items + _pieces(buffer)


def _meta_line(line: str, buffer: str) -> bool:
    """Whether `line` is a meta command: it starts with `.`, outside a statement; or with one of
    the meta commands' own names, anywhere (`select 1` then `.tables` on the next line is a
    statement without its `;`, then `.tables`)."""
    word = line.strip().partition(" ")[0].partition(";")[0]
    return word.startswith(".") and (word in META_WORDS or not pending(buffer))


def _pieces(text: str) -> list[tuple[str, str]]:
    """The statements of `text` (no meta command at a line's start), as items; a piece whose
    first word starts with `.` is a meta command running to its line's end."""
    items = []
    for piece in statements(text):
        start = next((pos for pos, kind in duckdb.tokenize(piece) if kind != duckdb.token_type.comment), 0)
        if piece[start:].startswith("."):
            head, _, rest = piece[start:].partition("\n")
            items += [("meta", head.strip()), *script(rest)]
        else:
            items.append(("sql", piece))
    return items


def run_script(shell: Shell, text: str) -> int:
    _run(shell, script(text))
    return shell.failed


def run_sql(path: str, text: str, format: str = "table") -> int:
    """Run every statement (and meta command) of `text` on the warehouse, read-only, and print
    each result; returns 1 if any failed."""
    return run_script(Shell(path, format, escape=sys.stdout.isatty()), text)


def _run(shell: Shell, items: list[tuple[str, str]]) -> None:
    """Run each item and print its result. A statement that fails (to parse, to plan, or while
    its rows are fetched) prints one line and the next one still runs. Each statement opens the
    file anew and closes it before the next: the prompt holds nothing while idle, and sees the
    latest publish."""
    for kind, text in items:
        if shell.quit:
            return
        if kind == "meta":
            _meta(shell, text)
        else:
            _execute(shell, text)


def _execute(shell: Shell, statement: str, params: dict | None = None) -> bool:
    try:
        con = duckdb.connect(shell.path, read_only=True)
        try:
            rel = con.sql(statement, params=params)
            if rel is None:
                return True
            columns, types, rows = rel.columns, [str(t) for t in rel.types], rel.fetchall()
        finally:
            con.close()
    except Exception as exc:  # duckdb.Error, or a value Python cannot hold (a year beyond 9999)
        warn(f"error: {first_line(exc)}")
        shell.failed = 1
        return False
    write(shell, columns, types, rows)
    return True


def _meta(shell: Shell, command: str) -> None:
    word, _, argument = command.partition(" ")
    argument = argument.strip().strip("\"'")
    if word == ".tables" and not argument:
        _execute(shell, TABLES_SQL)
    elif word == ".schema":
        _schema(shell, argument or None)
    elif word in (".help", ".h"):
        help_text = "\n".join(f"  {name:<36} {what}" for name, what in META.items())
        console.print(f"Meta commands (a line of its own, no ';' needed):\n{help_text}\n"
                      "SQL equivalents: `show tables`, `describe NAME`, "
                      "`select * from duckdb_columns() where table_name = 'NAME'`.", soft_wrap=True)
    elif word in (".quit", ".exit", ".q") and not argument:
        shell.quit = True
    elif word == ".format":
        if not argument:
            console.print(shell.format)
        elif argument in FORMATS:
            shell.format = argument
        else:
            warn(f"error: unknown format {argument!r}; one of {', '.join(FORMATS)}")
            shell.failed = 1
    else:
        warn(f"error: unknown meta command {shown(command)!r}; .help lists them")
        shell.failed = 1


def _schema(shell: Shell, name: str | None) -> None:
    if name is not None:
        try:
            con = duckdb.connect(shell.path, read_only=True)
            try:
                known = con.execute(f"select count(*) from ({SCHEMA_SQL})", {"name": name}).fetchall()[0][0]
            finally:
                con.close()
        except duckdb.Error as exc:
            warn(f"error: {first_line(exc)}")
            shell.failed = 1
            return
        if not known:
            warn(f"error: no table or view named {shown(name)!r}; .tables lists them")
            shell.failed = 1
            return
    _execute(shell, SCHEMA_SQL, {"name": name})


# ---- writing results -------------------------------------------------------------------------

def text(value) -> str:
    """A value as exact text: every digit of a DECIMAL (never scientific notation), a float's
    shortest round-trip form, dates and times in ISO form, nested values as JSON."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(plain(value), ensure_ascii=False)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "".join(chr(b) if 0x20 <= b < 0x7f and b != 0x5c else f"\\x{b:02x}" for b in bytes(value))
    return str(value)


def plain(value):
    """A value as JSON can hold it without losing a digit: DECIMAL as a string, non-finite floats
    as strings, dates and times as ISO strings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return text(value)


NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
           "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def write(shell: Shell, columns: list[str], types: list[str], rows: list[tuple]) -> None:
    """One statement's result, in the shell's format, on stdout."""
    numeric = [t.startswith(NUMERIC) for t in types]
    if shell.format == "table":
        _table(shell, columns, numeric, rows)
        return
    out = sys.stdout
    if shell.written and shell.format in ("csv", "markdown"):
        out.write("\n")
    shell.written += 1
    if shell.format == "json":
        names = _unique(columns)
        body = ",\n".join(" " + json.dumps(dict(zip(names, map(plain, row), strict=True)), ensure_ascii=False)
                          .translate(_C1_JSON) for row in rows)
        out.write(f"[\n{body}\n]\n" if rows else "[]\n")
    elif shell.format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([text(v) for v in row] for row in rows)
        out.write(_escaped(shell, buffer.getvalue()))
    else:  # markdown: a GitHub table, numbers right-aligned
        def cell(value) -> str:
            return _escaped(shell, text(value)).replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")

        head = [cell(c) for c in columns]
        body = [[cell(v) for v in row] for row in rows]
        widths = [max([len(h), 3, *(len(r[i]) for r in body)]) for i, h in enumerate(head)]
        rule = ["-" * (w - 1) + ":" if n else "-" * w for w, n in zip(widths, numeric, strict=True)]

        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.rjust(w) if n else c.ljust(w)
                                     for c, w, n in zip(cells, widths, numeric, strict=True)) + " |\n"

        out.write(line(head) + line(rule) + "".join(line(r) for r in body))
    out.flush()


# JSON escapes the C0 control characters itself; these (DEL and C1) it leaves raw
_C1_JSON = {c: f"\\u{c:04x}" for c in range(0x7f, 0xa0)}


def _escaped(shell: Shell, value: str) -> str:
    """Control characters as \\xNN when the output is a terminal (data never drives it); exact
    text (CSV's own quoting keeps newlines) when it goes to a file or a pipe."""
    if not shell.escape:
        return value
    return "\n".join(shown(part) for part in value.split("\n"))


def _unique(columns: list[str]) -> list[str]:
    """Column names made unique for JSON objects (`a`, `a` -> `a`, `a_2`)."""
    seen: dict[str, int] = {}
    out = []
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _table(shell: Shell, columns: list[str], numeric: list[bool], rows: list[tuple]) -> None:
    """A table that fits the console's width (`widths`), or one block per row when its columns
    cannot fit. Nothing is ever cut: a cell too long for its column folds onto the next line."""
    shown_rows = rows[:TABLE_ROWS]
    cells = [[shown(text(v)) for v in row] for row in shown_rows]
    heads = [shown(c) for c in columns]
    fitted = widths(heads, cells, numeric, console.width)
    if fitted is not None:
        _boxed(heads, cells, numeric, fitted)
    elif not _transposed(heads, cells, numeric):
        _vertical(heads, cells, console.width)
    more = f" (the first {TABLE_ROWS} shown; --format csv writes them all)" if len(rows) > TABLE_ROWS else ""
    console.print(f"({len(rows)} row{'' if len(rows) == 1 else 's'}{more})", style="dim")


def _boxed(heads: list[str], cells: list[list[str]], numeric: list[bool], fitted: list[int]) -> None:
    table = Table()
    for head, width, number in zip(heads, fitted, numeric, strict=True):
        table.add_column(_wrapped(head, width), justify="right" if number else "left", overflow="fold", width=width)
    for row in cells:
        table.add_row(*row)
    console.print(table)


def _transposed(heads: list[str], cells: list[list[str]], numeric: list[bool]) -> bool:
    """A few rows of many columns (the invoice by class, per provider) as a table turned on its
    side: one line per column, one column per row, headed by the rows' first values when those
    are text (`provider`: `openai`, `anthropic`). False when that does not fit either."""
    if not cells or len(cells) > TRANSPOSE_ROWS:
        return False
    keyed = not numeric[0] and len(heads) > 2
    names, body = (heads[1:], [r[1:] for r in cells]) if keyed else (heads, cells)
    t_heads = [heads[0] if keyed else "column", *(r[0] if keyed else f"row {n}" for n, r in enumerate(cells, 1))]
    t_cells = [[name, *(r[i] for r in body)] for i, name in enumerate(names)]
    fitted = widths(t_heads, t_cells, [False] + [True] * len(cells), console.width)
    if fitted is None:
        return False
    _boxed(t_heads, t_cells, [False] + [True] * len(cells), fitted)
    return True


def _wrapped(head: str, width: int) -> str:
    """A header broken after an underscore where it is wider than its column
    (`share_of_dark_pct` in 15: `share_of_dark_` / `pct`); folded where no underscore fits."""
    lines = []
    while len(head) > width:
        cut = head.rfind("_", 0, width) + 1
        cut = cut if cut > 1 else width
        lines.append(head[:cut])
        head = head[cut:]
    return "\n".join([*lines, head])


def widths(heads: list[str], cells: list[list[str]], numeric: list[bool], total: int) -> list[int] | None:
    """Column widths for a boxed table of `total` characters, or None when it cannot fit. Each
    column starts at its widest line (header or value). Too wide, columns give way in stages,
    the widest first: numeric columns' headers onto two lines, text columns down to 20
    characters, numeric columns' headers down to their values' width (a number is never
    folded), text columns down to 12. None (one block per row) when that is still too wide."""
    def longest(texts) -> int:
        return max([0, *(len(line) for t in texts for line in t.split("\n"))])

    values = [longest(r[i] for r in cells) for i in range(len(heads))]
    width = [max(1, values[i], longest([heads[i]])) for i in range(len(heads))]
    room = total - (3 * len(heads) + 1)  # `│ ` before each cell, ` ` after it, the last `│`
    header = [longest([h]) for h in heads]
    stages = [[w if not n else max(values[i], 4, -(-header[i] // 2)) for i, (n, w) in enumerate(zip(numeric, width, strict=True))],
              [20 if not n else max(values[i], 4, -(-header[i] // 2)) for i, n in enumerate(numeric)],
              [20 if not n else max(values[i], 4) for i, n in enumerate(numeric)],
              [MIN_TEXT_WIDTH if not n else max(values[i], 4) for i, n in enumerate(numeric)]]
    for floor in stages:
        floor = [min(f, w) for f, w in zip(floor, width, strict=True)]
        while sum(width) > room:
            slack = [w - f for w, f in zip(width, floor, strict=True)]
            widest = max(range(len(width)), key=lambda i: (slack[i] > 0, width[i]))
            if slack[widest] <= 0:
                break
            width[widest] -= 1
        if sum(width) <= room:
            return width
    return None if len(heads) > 1 else [max(1, room)]


def _vertical(heads: list[str], cells: list[list[str]], width: int) -> None:
    """One block per row: a `-[ row N ]-` rule, then `column  value` lines, values folded."""
    name_width = max(len(h) for h in heads)
    for n, row in enumerate(cells, 1):
        console.print(Text(f"-[ row {n} ]".ljust(min(width, name_width + 20), "-"), style="dim"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True, style="bold", min_width=min(name_width, width // 2))
        grid.add_column(overflow="fold")
        for head, value in zip(heads, row, strict=True):
            grid.add_row(head, value)
        console.print(grid)
