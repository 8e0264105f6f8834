"""`darkcompute export focus`: the warehouse's FOCUS 1.3 rows (`focus_costs`) of a range of days,
written to a Parquet or CSV file by its extension."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

from pipelines.cli.output import console, dollars, warn

# the file's extension -> DuckDB's COPY format
FORMATS = {".parquet": "parquet", ".csv": "csv"}
TABLE = "focus_costs"
ORDER = '"x_UsageDate", "x_Provider", "x_LineId", "x_DarkClass", "x_JobType"'


def export(args) -> int:
    from pipelines.defs.settings import setting

    out = Path(args.out)
    kind = FORMATS.get(out.suffix.lower())
    if kind is None:
        warn(f"--out {out}: expected a file ending in .parquet or .csv (the extension picks the format), "
             f"got {out.suffix or 'no extension'!r}")
        return 2
    first, last = args.date_from, args.to or args.date_from
    if last < first:
        warn(f"--to {last} is before --from {first}")
        return 2
    path = args.warehouse or setting("DARKCOMPUTE_WAREHOUSE")
    if not Path(path).exists():
        warn(f"no warehouse at {path}; run `darkcompute reconcile` (or `make demo`) first")
        return 2
    if not out.parent.is_dir():
        warn(f"--out {out}: no folder {out.parent}")
        return 2
    con = duckdb.connect(path, read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")  # the CSV's date/times are written in UTC
        if not con.execute("select count(*) from duckdb_tables() where table_name = $t and database_name = current_database()",
                           {"t": TABLE}).fetchall()[0][0]:
            warn(f"{path} has no {TABLE}: reconcile the days again (it is published with each day since the FOCUS "
                 "export exists)")
            return 2
        days = [d for (d,) in con.execute(
            f'select distinct "x_UsageDate" from {TABLE} where "x_UsageDate" between $first and $last order by 1',
            {"first": first, "last": last}).fetchall()]
        if not days:
            warn(f"no {TABLE} rows from {first} to {last} in {path}: nothing written (reconcile those days first)")
            return 2
        written = write(con, out, kind, first, last)
        totals = con.execute(
            f'select "x_Provider", sum("BilledCost") from {TABLE} where "x_UsageDate" between $first and $last '
            "group by all order by 1", {"first": first, "last": last}).fetchall()
    finally:
        con.close()
    missing = [d for d in _days(first, last) if d not in days]
    console.print(f"wrote {out}: {written} FOCUS 1.3 rows, {len(days)} day(s) from {first} to {last} ({kind})",
                  soft_wrap=True)
    for provider, billed in totals:
        console.print(f"  {provider}: BilledCost {dollars(billed)} USD", soft_wrap=True)
    if missing:
        warn(f"no rows for {', '.join(str(d) for d in missing)} (not reconciled into {path})")
    return 0


def write(con: duckdb.DuckDBPyConnection, out: Path, kind: str, first: date, last: date) -> int:
    """Copy the days' rows to `out` in `kind` (parquet: DECIMAL and UTC timestamps as they are;
    csv: the same decimals as exact text, the FOCUS date/times as `YYYY-MM-DDTHH:MM:SSZ`), written
    beside it and renamed over it (a reader never sees half a file). Returns the rows written."""
    columns = [name for name, typ in con.execute(
        "select column_name, data_type from duckdb_columns() where table_name = $t and database_name = current_database() "
        "order by column_index", {"t": TABLE}).fetchall() if name != "date"]  # `date`: the lake partition's
    types = dict(con.execute("select column_name, data_type from duckdb_columns() where table_name = $t "
                             "and database_name = current_database()", {"t": TABLE}).fetchall())
    if kind == "csv":
        select = ", ".join(f"""strftime("{c}", '%Y-%m-%dT%H:%M:%SZ') as "{c}\"""" if types[c].startswith("TIMESTAMP")
                           else f'"{c}"' for c in columns)
        options = "format csv, header true"
    else:
        select = ", ".join(f'"{c}"' for c in columns)
        options = "format parquet, compression zstd"
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        target = "'" + str(tmp).replace("'", "''") + "'"
        con.execute(f"copy (select {select} from {TABLE} where \"x_UsageDate\" between $first and $last "
                    f"order by {ORDER}) to {target} ({options})", {"first": first, "last": last})
        rows = con.execute(f'select count(*) from {TABLE} where "x_UsageDate" between $first and $last',
                           {"first": first, "last": last}).fetchall()[0][0]
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def _days(first: date, last: date) -> list[date]:
    return [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]
