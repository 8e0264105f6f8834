"""`darkcompute`: simulate a world, reconcile days (the same Dagster assets, in process)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from pipelines.lib import sql
from pipelines.lib.store import open_store

INGEST = ("openai_usage", "openai_costs", "app_calls", "worker_calls")
EXPORT_PREFIXES = ("openai/costs", "openai/usage")
RECONCILE = ("fct_spend_reconciliation", "fct_dark_compute", "rejected_records", "warehouse_tables")

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def warn(message: str) -> None:
    """An error for the user, on stderr, printed as-is (no markup, no wrapping)."""
    errors.print(message, style="red", markup=False, highlight=False)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="darkcompute", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="write a synthetic world of sources and its ground truth")
    s.add_argument("--out", required=True, type=Path, help="folder to write (sources/ and ground_truth.json)")
    s.add_argument("--start", required=True, type=_day, help="first day, YYYY-MM-DD")
    s.add_argument("--days", type=_positive, default=3, help="number of days (default 3)")
    s.add_argument("--calls-per-day", type=_positive, default=2000, help="model calls a day (default 2000)")
    s.add_argument("--seed", type=int, default=7, help="random seed (default 7)")

    r = sub.add_parser("reconcile", help="ingest and reconcile days, then print the split")
    which = r.add_mutually_exclusive_group(required=True)
    which.add_argument("--date", type=_day, help="first day to reconcile, YYYY-MM-DD")
    which.add_argument("--all", action="store_true", help="every day the source has provider exports for")
    r.add_argument("--to", type=_day, help="last day, inclusive (default: --date)")
    r.add_argument("--source", help="source root (overrides DARKCOMPUTE_SOURCE_URI)")
    r.add_argument("--lake", help="Parquet lake folder (overrides DARKCOMPUTE_LAKE_DIR)")
    r.add_argument("--warehouse", help="DuckDB file (overrides DARKCOMPUTE_WAREHOUSE)")
    r.add_argument("--quiet", action="store_true", help="print only the summary")

    q = sub.add_parser("sql", help="run SQL on the warehouse (read-only); no query opens a prompt")
    q.add_argument("query", nargs="?", help="one SQL statement")
    q.add_argument("--warehouse", help="DuckDB file (overrides DARKCOMPUTE_WAREHOUSE)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    commands = {"simulate": simulate, "reconcile": reconcile, "sql": query}
    return commands[args.command](args)


def simulate(args) -> int:
    from pipelines.simulate import simulate as run

    summary = run(args.out, args.start, args.days, calls_per_day=args.calls_per_day, seed=args.seed)
    console.print(f"wrote {args.out / 'sources'} and {args.out / 'ground_truth.json'}")
    for key, value in summary.items():
        console.print(f"  {key}: {value}")
    return 0


def reconcile(args) -> int:
    overrides = {"DARKCOMPUTE_SOURCE_URI": args.source, "DARKCOMPUTE_LAKE_DIR": args.lake,
                 "DARKCOMPUTE_WAREHOUSE": args.warehouse}
    os.environ.update({k: str(v) for k, v in overrides.items() if v})
    from pipelines.defs.settings import setting

    if args.all:
        days = export_days(setting("DARKCOMPUTE_SOURCE_URI"))
        if not days:
            warn(f"no provider exports under {setting('DARKCOMPUTE_SOURCE_URI')}")
            return 2
    else:
        last = args.to or args.date
        if last < args.date:
            warn(f"--to {last} is before --date {args.date}")
            return 2
        days = [args.date + timedelta(days=i) for i in range((last - args.date).days + 1)]
    failures = run_days(days, quiet=args.quiet)
    print_summary(setting("DARKCOMPUTE_WAREHOUSE"), days[0], days[-1])
    for failure in failures:
        warn(f"{failure}")
    return 1 if failures else 0


def export_days(source_uri: str) -> list[date]:
    """Every day from the first to the last delivery folder of a provider export."""
    store = open_store(source_uri)
    found = set()
    for prefix in EXPORT_PREFIXES:
        for key in store.list(prefix):
            for part in key.split("/"):
                try:
                    found.add(date.fromisoformat(part))
                except ValueError:
                    continue
    if not found:
        return []
    first, last = min(found), max(found)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def query(args) -> int:
    from pipelines.defs.settings import setting

    path = args.warehouse or setting("DARKCOMPUTE_WAREHOUSE")
    if not Path(path).exists():
        warn(f"no warehouse at {path}; run `darkcompute reconcile` (or `make demo`) first")
        return 2
    con = duckdb.connect(path, read_only=True)
    if args.query:
        return _show(con, args.query)
    console.print(f"[dim]{path} (read-only). End a statement with ';'. Ctrl-D quits.[/dim]")
    buffer = ""
    while True:
        try:
            line = input("darkcompute> " if not buffer else "         ...> ")
        except EOFError:
            console.print()
            return 0
        buffer += line + "\n"
        if buffer.strip().endswith(";"):
            _show(con, buffer)
            buffer = ""


def _show(con: duckdb.DuckDBPyConnection, text: str) -> int:
    try:
        rel = con.sql(text)
    except duckdb.Error as exc:
        warn(f"{exc}")
        return 1
    if rel is None:
        return 0
    table = Table()
    for name in rel.columns:
        table.add_column(name)
    for row in rel.fetchall():
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    return 0


def run_days(days: list[date], quiet: bool = False) -> list[str]:
    """Materialize the ingest assets for every day and the days either side (whose folders can
    hold records of the range), then the reconciliation for every day. Returns what failed,
    blocking checks included."""
    from pipelines.definitions import defs
    from pipelines.defs.resources import configured_resources

    definitions = defs()
    assets = list(definitions.assets or []) + list(definitions.asset_checks or [])
    resources = configured_resources()  # read now: the flags may have changed the environment
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    run_config = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    logging.getLogger("dagster").setLevel(logging.ERROR)
    ingest_days = [days[0] - timedelta(days=1), *days, days[-1] + timedelta(days=1)]
    failures: list[str] = []
    plan = [(INGEST, d) for d in ingest_days] + [(RECONCILE, d) for d in days]
    with Progress(console=console, transient=True, disable=quiet) as progress:
        task = progress.add_task("reconciling", total=len(plan))
        for selection, day in plan:
            progress.update(task, description=f"{'ingest' if selection is INGEST else 'reconcile'} {day}")
            result = dg.materialize(
                assets, selection=list(selection), partition_key=day.isoformat(), resources=resources,
                instance=instance, run_config=run_config, raise_on_error=False,
            )
            failures += _failures(result, day)
            progress.advance(task)
    return failures


def _failures(result: dg.ExecuteInProcessResult, day: date) -> list[str]:
    out = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            out.append(f"{day}: step {event.step_key} failed: {error.message.strip() if error else ''}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            out.append(f"{day}: blocking check {evaluation.check_name} failed: {dict(evaluation.metadata)}")
    return out


def print_summary(warehouse: str, first: date, last: date) -> None:
    """One table per provider: rows are the invoice and its classes, columns the days."""
    if not Path(warehouse).exists():
        console.print(f"[yellow]no warehouse at {warehouse}: nothing was published[/yellow]")
        return
    con = duckdb.connect(warehouse, read_only=True)
    try:
        rows = sql.run(con, "reports/summary", date_from=first, date_to=last).fetchall()
    except duckdb.CatalogException:
        rows = []
    finally:
        con.close()
    by_provider: dict[str, dict] = defaultdict(lambda: {"lines": {}, "days": set(), "status": {}})
    for provider, _order, line, day, usd, status in rows:
        block = by_provider[provider]
        block["lines"].setdefault(line, {})[day] = usd or Decimal(0)
        block["days"].add(day)
        block["status"][day] = status
    for provider, block in by_provider.items():
        days = sorted(block["days"])
        table = Table(title=f"{provider}: where the invoice went (USD)", title_justify="left")
        table.add_column("class / job type")
        for d in days:
            table.add_column(f"{d}\n{block['status'][d]}", justify="right")
        table.add_column("total", justify="right")
        for line, values in block["lines"].items():
            style = "bold" if line == "invoice" else None
            cells = [_usd(values.get(d, Decimal(0))) for d in days]
            table.add_row(line, *cells, _usd(sum(values.values(), Decimal(0))), style=style)
        console.print(table)
    if not by_provider:
        console.print(f"[yellow]no reconciled rows between {first} and {last}[/yellow]")


def _usd(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"


if __name__ == "__main__":
    sys.exit(main())
