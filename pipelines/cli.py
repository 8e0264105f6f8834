"""`darkcompute`: simulate a world, reconcile days (the same Dagster assets, in process)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from pipelines.lib import sql
from pipelines.lib.runlock import EXIT_BUSY, LakeBusy, hold

# the day folders of these exports decide what `reconcile --all` reconciles
EXPORT_PREFIXES = ("openai/costs", "openai/usage", "anthropic/cost_report", "anthropic/usage_report")
# What a day's run materializes, selected from the asset graph: the ingest is everything upstream of
# the dbt models that is not a model or the price catalog (the bronze tables and the API pulls); the
# reconciliation is all the rest (the catalog, every model, rejected_records, source_status, the
# warehouse), with the checks on them.
INGEST = dg.AssetSelection.kind("dbt").upstream() - dg.AssetSelection.kind("dbt") - dg.AssetSelection.groups("catalog")
RECONCILE = dg.AssetSelection.all() - INGEST

# Everything printed holds data from untrusted sources (job types, accounts, models, SQL results):
# no console interprets it. A job type "[/x]" is not a closing tag, "root:x:0" holds no emoji code,
# numbers are not re-coloured; styles are passed as `style=`, never written inside the text.
console = Console(markup=False, emoji=False, highlight=False)
# Dagster flags APIs as beta/preview at import; the user of the CLI cannot act on that
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
errors = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)
# control characters in data (an escape sequence in a job type) are shown, never sent to the terminal
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7f, 0xa0))}


def warn(message: str) -> None:
    """An error for the user, on stderr, printed as-is (no markup, no wrapping)."""
    errors.print(message, style="red")


def shown(value) -> str:
    """A value as the terminal should show it: its text, control characters escaped."""
    return "" if value is None else str(value).translate(_CONTROL)


def first_line(message: str) -> str:
    """The first non-empty line of an error message (DuckDB adds the statement and a caret below)."""
    return next((line.strip() for line in str(message).splitlines() if line.strip()), "")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a time as YYYY-MM-DDTHH:MM:SSZ, got {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"expected a time with a zone (Z or +HH:MM), got {text!r}")
    return value.astimezone(timezone.utc)


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
    s.add_argument("--providers", default="openai,anthropic,aws.bedrock",
                   help="comma-separated providers (default: openai,anthropic,aws.bedrock)")
    s.add_argument("--otlp-share", type=float, default=0.1, help="share of app-log lines in OTLP/JSON (default 0.1)")
    s.add_argument("--cur-format", choices=("parquet", "csv"), default="parquet",
                   help="CUR 2.0 export as Parquet or gzipped CSV (default parquet)")
    s.add_argument("--cross-region", action="store_true",
                   help="send half the Bedrock Sonnet calls through the global cross-region profile")
    s.add_argument("--openai-usage-group-by", default="project_id,model,batch,service_tier",
                   help="group_by of the OpenAI Usage pages: some of project_id,model,batch,service_tier, or 'none' "
                        "(default: all four)")
    s.add_argument("--openai-cost-group-by", default="project_id,line_item",
                   help="group_by of the OpenAI Costs pages: some of project_id,line_item, or 'none' (default: both)")
    s.add_argument("--tiers", action="store_true",
                   help="OpenAI batch and flex traffic: llm_judge_evaluation jobs via the Batch API, "
                        "proactive_suggestions on flex (both at half price)")
    s.add_argument("--litellm-share", type=float, default=0.0,
                   help="share of first-attempt calls logged as LiteLLM proxy payloads (default 0)")
    s.add_argument("--aggregate-jobs", action="store_true",
                   help="worker jobs log one aggregate record per job and cell, with request_count")

    r = sub.add_parser("reconcile", help="ingest and reconcile days, then print the split")
    which = r.add_mutually_exclusive_group(required=True)
    which.add_argument("--date", type=_day, help="first day to reconcile, YYYY-MM-DD")
    which.add_argument("--all", action="store_true", help="every day the source has provider exports for")
    r.add_argument("--to", type=_day, help="last day, inclusive (default: --date)")
    r.add_argument("--source", help="source root (overrides DARKCOMPUTE_SOURCE_URI)")
    r.add_argument("--lake", help="Parquet lake folder (overrides DARKCOMPUTE_LAKE_DIR)")
    r.add_argument("--warehouse", help="DuckDB file (overrides DARKCOMPUTE_WAREHOUSE)")
    r.add_argument("--quiet", action="store_true", help="print only the summary")
    r.add_argument("--as-of", type=_instant, help="reconcile as of this UTC time, e.g. 2026-11-03T04:00:00Z "
                   "(default: now); becomes reconciled_at and decides settling")
    r.add_argument("--timings", type=Path, help="write seconds per Dagster step (summed over days) to this JSON file")

    b = sub.add_parser("bench", help="time one simulated day end to end against DuckDB's floor and per-call pricing")
    b.add_argument("--calls-per-day", type=_positive, required=True, help="model calls in the simulated day")
    b.add_argument("--days", type=_positive, default=1, help="days of history; the last one is timed (default 1)")
    b.add_argument("--keep", type=Path, help="keep the world, lake and warehouse in this folder")
    b.add_argument("--threads", type=_positive, help="DuckDB threads (default: all cores)")
    b.add_argument("--memory-limit", default="1536MiB",
                   help="DuckDB memory_limit (default 1536MiB: with Python and Dagster beside it, a process under 2 GiB)")
    b.add_argument("--seed", type=int, default=11, help="random seed (default 11)")
    b.add_argument("--runs", type=_positive, default=1,
                   help="measure the day this many times on one simulated world; medians are reported (default 1)")
    b.add_argument("--reuse-world", action="store_true",
                   help="with --keep: measure the world already simulated there instead of simulating anew")

    q = sub.add_parser("sql", help="run SQL on the warehouse (read-only); no query opens a prompt")
    q.add_argument("query", nargs="?", help="SQL statements, separated by ';'")
    q.add_argument("--warehouse", help="DuckDB file (overrides DARKCOMPUTE_WAREHOUSE)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    commands = {"simulate": simulate, "reconcile": reconcile, "sql": query, "bench": benchmark}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        warn(f"darkcompute {args.command}: interrupted")
        return 130
    except Exception as exc:  # the user gets what failed, in one line; DARKCOMPUTE_TRACEBACK=1 shows where
        if os.environ.get("DARKCOMPUTE_TRACEBACK"):
            raise
        where = "".join(f" {note}" for note in getattr(exc, "__notes__", []))  # "while listing s3://..."
        warn(f"darkcompute {args.command} failed{where}: {type(exc).__name__}: {first_line(exc)} "
             "(set DARKCOMPUTE_TRACEBACK=1 for the traceback)")
        return 1


def simulate(args) -> int:
    from pipelines.simulate import simulate as run

    providers = tuple(p.strip() for p in args.providers.split(",") if p.strip())
    unknown = set(providers) - {"openai", "anthropic", "aws.bedrock"}
    if unknown or not providers:
        warn(f"--providers: expected some of openai, anthropic, aws.bedrock, got {args.providers!r}")
        return 2
    from pipelines.simulate.openai import COST_GROUP_BY, USAGE_GROUP_BY

    usage_group_by, cost_group_by = _group_by(args.openai_usage_group_by), _group_by(args.openai_cost_group_by)
    for flag, given, allowed in (("--openai-usage-group-by", usage_group_by, USAGE_GROUP_BY),
                                 ("--openai-cost-group-by", cost_group_by, COST_GROUP_BY)):
        if set(given) - set(allowed):
            warn(f"{flag}: expected some of {','.join(allowed)} or 'none', got {','.join(given)!r}")
            return 2
    summary = run(args.out, args.start, args.days, calls_per_day=args.calls_per_day, seed=args.seed,
                  providers=providers, otlp_share=args.otlp_share, cur_format=args.cur_format,
                  cross_region=args.cross_region, openai_usage_group_by=usage_group_by,
                  openai_cost_group_by=cost_group_by, tiers=args.tiers, litellm_share=args.litellm_share,
                  aggregate_jobs=args.aggregate_jobs)
    console.print(f"wrote {args.out / 'sources'} and {args.out / 'ground_truth.json'}")
    for key, value in summary.items():
        console.print(f"  {key}: {value}")
    return 0


def _group_by(text: str) -> tuple[str, ...]:
    """`project_id,model` -> ("project_id", "model"); `none` (or nothing) -> ungrouped."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    return () if names in ((), ("none",)) else names


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
    try:
        with hold(setting("DARKCOMPUTE_LAKE_DIR")):  # one run at a time per lake
            failures, seconds = run_days(days, quiet=args.quiet, as_of=args.as_of or datetime.now(timezone.utc))
    except LakeBusy as busy:
        warn(f"darkcompute reconcile: {busy}; nothing was done (exit {EXIT_BUSY}: try again when it ends)")
        return EXIT_BUSY
    if args.timings:
        args.timings.write_text(json.dumps({k: round(v, 3) for k, v in sorted(seconds.items())}, indent=1))
    unread = print_summary(setting("DARKCOMPUTE_WAREHOUSE"), days[0], days[-1])
    if not args.quiet:
        console.print("\nThe Admin API pulls (when a key is set) ask for the finest grouping that changes money:",
                      soft_wrap=True)
        for line in pull_groupings():
            console.print(f"  {line}", soft_wrap=True)
    if unread and not failures:  # when a step failed, its own message says why
        failures.append(unread)
    for failure in failures:
        warn(f"{failure}")
    if failures:
        warn(f"darkcompute reconcile: {len(failures)} failure(s); exit 1")
    return 1 if failures else 0


def export_days(source_uri: str) -> list[date]:
    """Every day from the first to the last delivery folder of a provider export (an S3 root is
    listed with the `sources` resource's landing folder and retry settings)."""
    from pipelines.defs.resources import configured_resources

    sources = configured_resources()["sources"].process_config_and_initialize()
    store = sources.store(source_uri)
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


def run_days(days: list[date], quiet: bool = False, as_of: datetime | None = None) -> tuple[list[str], dict[str, float]]:
    """Materialize the ingest assets for every day and the WINDOW_DAYS days either side (whose
    folders can hold records of the range), then the reconciliation for every day. Returns what failed,
    blocking checks included, and the seconds each Dagster step took, summed over the days."""
    from pipelines.definitions import defs
    from pipelines.defs.resources import configured_resources
    from pipelines.lib.dbt import WINDOW_DAYS, delivery_days

    definitions = defs()
    assets = list(definitions.assets or []) + list(definitions.asset_checks or [])
    resources = configured_resources()  # read now: the flags may have changed the environment
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    # --quiet: no Dagster log at all (a failed step is reported once, in one line, by the caller)
    run_config = {"loggers": {"console": {"config": {"log_level": "CRITICAL" if quiet else "ERROR"}}}}
    tags = {"darkcompute/as_of": (as_of or datetime.now(timezone.utc)).isoformat()}
    logging.getLogger("dagster").setLevel(logging.CRITICAL if quiet else logging.ERROR)
    ingest_days = sorted({d for day in days for d in delivery_days(day)})
    failures: list[str] = []
    seconds: dict[str, float] = defaultdict(float)
    plan = [(INGEST, d) for d in ingest_days] + [(RECONCILE, d) for d in days]
    unread: set[date] = set()  # delivery days whose ingest failed: the days around them are not reconciled
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=quiet) as progress:
        task = progress.add_task("reconciling", total=len(plan))
        for selection, day in plan:
            progress.update(task, description=f"{'ingest' if selection is INGEST else 'reconcile'} {day}")
            blocked = sorted(d for d in unread if abs((d - day).days) <= WINDOW_DAYS) if selection is RECONCILE else []
            if blocked:
                failures.append(f"{day}: not reconciled: the ingest of {', '.join(map(str, blocked))} failed")
                progress.advance(task)
                continue
            result = dg.materialize(
                assets, selection=selection, partition_key=day.isoformat(), resources=resources,
                instance=instance, run_config=run_config, raise_on_error=False, tags=tags,
            )
            failures += _failures(result, day)
            if selection is INGEST and not result.success:
                unread.add(day)
            for event in result.all_events:
                if event.event_type_value == "STEP_SUCCESS":
                    seconds[event.step_key] += event.event_specific_data.duration_ms / 1000
            progress.advance(task)
    return failures, dict(seconds)


def _failures(result: dg.ExecuteInProcessResult, day: date) -> list[str]:
    out = []
    checks_failed_steps = False
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            if error and error.cls_name == "DagsterAssetCheckFailedError":
                checks_failed_steps = True  # a blocking check run in the step (a dbt test): reported below, once
                continue
            error = error.cause or error if error else None  # user code's own exception, not Dagster's wrapper
            out.append(f"{day}: step {event.step_key} failed: {first_line(error.message) if error else ''}")
    if not result.success and not out and not checks_failed_steps:  # the run failed before any step: its resources, say
        for event in result.all_events:
            error = getattr(event.event_specific_data, "error", None)
            if event.event_type_value in ("RESOURCE_INIT_FAILURE", "PIPELINE_FAILURE") and error:
                out.append(f"{day}: run failed: {first_line((error.cause or error).message)}")
                break
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            out.append(f"{day}: blocking check {evaluation.check_name} failed: {_check_detail(evaluation)}")
    return out


def _check_detail(evaluation) -> str:
    """A failed check in one line: its own account of what to do when it gives one, else its
    metadata as `key=value` (the values, not Dagster's wrappers)."""
    if evaluation.description:
        return first_line(evaluation.description)
    if str(getattr(evaluation.metadata.get("unique_id"), "value", "")).startswith("test."):  # a dbt test
        rows = getattr(evaluation.metadata.get("dagster_dbt/failed_row_count"), "value", None)
        status = getattr(evaluation.metadata.get("status"), "value", "failed")
        return f"dbt test {status}" + (f" on {rows:,} row(s)" if isinstance(rows, int) else "")
    return ", ".join(f"{key}={getattr(value, 'value', value)}" for key, value in evaluation.metadata.items())


def benchmark(args) -> int:
    from pipelines.bench import bench

    if args.reuse_world and not args.keep:
        raise SystemExit("darkcompute bench: --reuse-world needs --keep DIR (the folder holding the world)")
    figures = bench(args.calls_per_day, days=args.days, keep=args.keep, threads=args.threads,
                    memory_limit=args.memory_limit, seed=args.seed, reuse_world=args.reuse_world, runs=args.runs)
    runs = len(figures["runs"])
    table = Table(title=f"one day of {figures['calls']:,} calls (after {figures['days'] - 1} days of history)"
                        + (f", median of {runs} runs (min-max)" if runs > 1 else ""), title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("end to end, seconds", figures["seconds_end_to_end"]),
        ("DuckDB floor (raw files -> Parquet), seconds", figures["seconds_floor"]),
        ("ratio to floor", figures["ratio_to_floor"]),
        ("peak RSS end to end, MiB", figures["peak_rss_mib"]),
        ("peak RSS floor, MiB", figures["peak_rss_mib_floor"]),
        ("per-call pricing, seconds per call", f"{figures['seconds_per_call_pricing']:.2e}"),
        (f"per-call pricing of {figures['logged_calls']:,} logged calls, seconds", figures["seconds_pricing_extrapolated"]),
        ("speed-up vs per-call pricing", figures["speedup_vs_per_call"]),
        ("DuckDB threads / memory limit MiB", f"{figures['duckdb_threads']} / {figures['memory_limit_mib']}"),
    ] + [(f"  step {step}, seconds", value) for step, value in figures["per_asset_seconds"].items()]
    spread = {"end to end, seconds": "seconds_end_to_end", "DuckDB floor (raw files -> Parquet), seconds": "seconds_floor",
              "ratio to floor": "ratio_to_floor", "peak RSS end to end, MiB": "peak_rss_mib",
              "speed-up vs per-call pricing": "speedup_vs_per_call"}
    for name, value in rows:
        low, high = figures["spread"].get(spread.get(name), [None, None])
        table.add_row(name, f"{value} ({low}-{high})" if runs > 1 and low is not None else str(value))
    console.print(table)
    keys = ("calls", "seconds_end_to_end", "seconds_floor", "ratio_to_floor", "peak_rss_mib",
            "seconds_per_call_pricing", "speedup_vs_per_call", "duckdb_threads", "memory_limit_mib")
    print(json.dumps({k: figures[k] for k in keys}))
    return 0


def print_summary(warehouse: str, first: date, last: date) -> str | None:
    """One table per provider: rows are the invoice and its classes, columns the days. Returns
    why the warehouse could not be read, if it could not."""
    if not Path(warehouse).exists():
        console.print(f"no warehouse at {warehouse}: nothing was published", style="yellow")
        return None
    try:
        con = duckdb.connect(warehouse, read_only=True)
        try:
            rows = sql.run(con, "reports/summary", date_from=first, date_to=last).fetchall()
            bases = sql.run(con, "reports/allocation_basis", date_from=first, date_to=last).fetchall()
        finally:
            con.close()
    except duckdb.CatalogException:
        rows = []
    except duckdb.Error as exc:
        return f"cannot read the warehouse {warehouse} for the summary: {first_line(exc)}"
    by_provider: dict[str, dict] = defaultdict(lambda: {"lines": {}, "days": set(), "status": {}})
    for provider, _order, line, day, usd, status in rows:
        block = by_provider[provider]
        block["lines"].setdefault(line, {})[day] = usd or Decimal(0)
        block["days"].add(day)
        block["status"][day] = status
    for provider, block in by_provider.items():
        days = sorted(block["days"])
        table = Table(title=f"{shown(provider)}: where the invoice went (USD)", title_justify="left")
        table.add_column("class / job type")
        for d in days:
            table.add_column(f"{d}\n{block['status'][d]}", justify="right")
        table.add_column("total", justify="right")
        for line, values in block["lines"].items():
            style = "bold" if line == "invoice" else None
            cells = [_usd(values.get(d, Decimal(0))) for d in days]
            table.add_row(shown(line), *cells, _usd(sum(values.values(), Decimal(0))), style=style)
        console.print(table)
        priced = [(basis, usd) for p, basis, usd in bases if p == provider]
        total = sum((usd for _, usd in priced), Decimal(0))
        if total:
            parts = ", ".join(f"{BASES.get(b, b)} {_usd(usd)} ({usd / total:.1%})" for b, usd in priced)
            console.print(f"invoice priced by: {parts}", soft_wrap=True)
    if not by_provider:
        console.print(f"no reconciled rows between {first} and {last}", style="yellow")
    return None


# allocation_basis, as the summary names it
BASES = {"cost_line": "its own cost lines", "catalog_weights": "coarser cost lines shared by list-price weights",
         "catalog_price": "list prices (provisional)"}


def pull_groupings() -> list[str]:
    """What the Admin API pulls ask for, one line per provider (from the pulls' own settings)."""
    from pipelines.defs.anthropic import pull as anthropic_pull
    from pipelines.defs.openai import pull as openai_pull

    lines = []
    for name, module in (("OpenAI", openai_pull), ("Anthropic", anthropic_pull)):
        asks = "; ".join(f"{prefix.split('/', 1)[1]} by {', '.join(group_by)}" for prefix, _, group_by in module.ENDPOINTS)
        lines.append(f"{name} ({module.KEY_ENV}): {asks}")
    return lines


def _usd(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"


if __name__ == "__main__":
    sys.exit(main())
