"""`darkcompute`: simulate a world, reconcile days (the same Dagster assets, in process)."""

from __future__ import annotations

import argparse
import importlib
import os
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from pipelines.cli.output import first_line, warn
from pipelines.cli.shell import run_sql, statements
from pipelines.cli.summary import print_summary, pull_groupings
from pipelines.lib.runlock import EXIT_BUSY

__all__ = ["main", "parser", "print_summary", "pull_groupings", "run_sql", "statements"]

# each command's module, imported when the command runs: `sql` never imports Dagster
COMMANDS = {"simulate": "simulate:simulate", "reconcile": "reconcile:reconcile", "sql": "shell:query",
            "bench": "bench:benchmark", "report": "report:report", "export": "export:export"}


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


# the exit codes (the README's table says the same)
EXIT_CODES = f"""exit codes:
  0    done
  1    a step, a blocking check or a SQL statement failed (one line each on stderr)
  2    bad flags or bad input: a --source folder that is missing or empty, nothing to do
  {EXIT_BUSY}   the lake is busy: another run holds it; try again when it ends
  130  interrupted (Ctrl-C)"""

EXAMPLES = {
    "simulate": "darkcompute simulate --out /tmp/world --start 2026-11-02 --days 2 --calls-per-day 50",
    "reconcile": "darkcompute reconcile --date 2026-11-02 --source data_samples/sources\n"
                 "  darkcompute reconcile --all --source /tmp/world/sources --lake /tmp/lake --warehouse /tmp/w.duckdb",
    "sql": "darkcompute sql \"select provider, sum(invoice_cost_usd) from fct_spend_reconciliation group by 1\"",
    "bench": "darkcompute bench --calls-per-day 100000 --keep /tmp/bench",
    "report": "darkcompute report --date 2026-11-03 --days 7 --out /tmp/report.html",
    "export": "darkcompute export focus --from 2026-11-01 --to 2026-11-03 --out focus.parquet\n"
              "  darkcompute export focus --from 2026-11-02 --out focus-2026-11-02.csv",
}


def _epilog(*commands: str) -> str:
    lines = "\n".join(f"  {EXAMPLES[c]}" for c in commands)
    return f"examples:\n{lines}\n\n{EXIT_CODES}"


def parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="darkcompute", description=__doc__, formatter_class=raw,
                                epilog=_epilog("simulate", "reconcile", "sql"))
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="write a synthetic world of sources and its ground truth",
                       formatter_class=raw, epilog=_epilog("simulate"))
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
    s.add_argument("--litellm-cost-factor", type=Decimal, default=None, metavar="F",
                   help="LiteLLM's response_cost = F x the call's list cost (0.7: the gateway 30%% under a bill "
                        "at list; default: a rough estimate from the token counts)")
    s.add_argument("--cache-thrash", metavar="TENANT:DAY", default=None,
                   help="on DAY every call of TENANT reads nothing from the prompt cache and writes its prefix again")
    s.add_argument("--aggregate-jobs", action="store_true",
                   help="worker jobs log one aggregate record per job and cell, with request_count")
    s.add_argument("--gzip-app-logs", action="store_true", help="gzip the app logs (app-NN.jsonl.gz), as shippers do")
    s.add_argument("--provisional-days", type=int, default=0,
                   help="the last N days get no cost exports: their invoices have not arrived (default 0)")
    s.add_argument("--sdk-retry-account", default=None, metavar="ACCOUNT",
                   help="plant SDK-internal retries on this billing account: 2 billed, unlogged attempts before "
                        "every logged one (e.g. proj_jobs)")

    r = sub.add_parser("reconcile", help="ingest and reconcile days, then print the split",
                       formatter_class=raw, epilog=_epilog("reconcile"))
    which = r.add_mutually_exclusive_group(required=True)
    which.add_argument("--date", type=_day, help="first day to reconcile, YYYY-MM-DD")
    which.add_argument("--all", action="store_true",
                       help="every day from the first to the last a provider's delivery names (OpenAI, Anthropic, "
                            "Bedrock invocation logs, CUR)")
    r.add_argument("--to", type=_day, help="last day, inclusive (default: --date)")
    r.add_argument("--source", help="source root, a folder or s3://bucket/prefix (overrides DARKCOMPUTE_SOURCE_URI); "
                   "missing or empty: exit 2")
    r.add_argument("--lake", help="Parquet lake folder (overrides DARKCOMPUTE_LAKE_DIR)")
    r.add_argument("--warehouse", help="DuckDB file (overrides DARKCOMPUTE_WAREHOUSE)")
    r.add_argument("--quiet", action="store_true", help="print only the summary")
    r.add_argument("--as-of", type=_instant, help="reconcile as of this UTC time, e.g. 2026-11-03T04:00:00Z "
                   "(default: now); becomes reconciled_at and decides settling")
    r.add_argument("--timings", type=Path, help="write seconds per Dagster step (summed over days) to this JSON file")

    b = sub.add_parser("bench", help="time one simulated day end to end against DuckDB's floor and per-call pricing",
                       formatter_class=raw, epilog=_epilog("bench"))
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

    o = sub.add_parser("report", help="write the report page (self-contained HTML, and a PNG copy) of the days "
                       "up to a day, from the warehouse", formatter_class=raw, epilog=_epilog("report"))
    o.add_argument("--date", type=_day, help="the period's last day, YYYY-MM-DD (default: the warehouse's latest)")
    o.add_argument("--days", type=_positive, default=30, help="days in the period, ending on --date (default 30)")
    o.add_argument("--warehouse", help="DuckDB file (overrides DARKCOMPUTE_WAREHOUSE)")
    o.add_argument("--out", type=Path, help="the HTML file to write; its PNG copy goes beside it "
                   "(default: <DARKCOMPUTE_REPORT_DIR>/dark-compute-<date>.html)")

    e = sub.add_parser("export", help="write the warehouse's FOCUS 1.3 rows of some days to a Parquet or CSV file",
                       formatter_class=raw, epilog=_epilog("export"))
    e.add_argument("what", choices=("focus",), help="what to export: focus (the focus_costs table, FinOps FOCUS 1.3)")
    e.add_argument("--from", dest="date_from", required=True, type=_day, help="first usage day, YYYY-MM-DD")
    e.add_argument("--to", type=_day, help="last usage day, inclusive (default: --from)")
    e.add_argument("--out", required=True, type=Path, help="file to write: .parquet or .csv (the extension picks the format)")
    e.add_argument("--warehouse", help="DuckDB file (overrides DARKCOMPUTE_WAREHOUSE)")

    q = sub.add_parser("sql", help="run SQL on the warehouse (read-only); no query opens a prompt",
                       formatter_class=raw, epilog=_epilog("sql"))
    q.add_argument("query", nargs="?", help="SQL statements, separated by ';', and meta commands (.tables, "
                   ".schema NAME, .help), each on a line of its own")
    q.add_argument("-f", "--file", type=Path, help="run the statements of this file (- reads stdin), e.g. "
                   "sql/examples/dark_share_by_provider.sql")
    q.add_argument("--format", choices=("table", "csv", "json", "markdown"),
                   help="how results are written (default: table on a terminal, csv when piped); csv, json "
                        "and markdown write every digit")
    q.add_argument("--warehouse", help="DuckDB file (overrides DARKCOMPUTE_WAREHOUSE)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    module, function = COMMANDS[args.command].split(":")
    try:
        return getattr(importlib.import_module(f"pipelines.cli.{module}"), function)(args)
    except KeyboardInterrupt:
        warn(f"darkcompute {args.command}: interrupted")
        return 130
    except Exception as exc:  # the user gets what failed, in one line; DARKCOMPUTE_TRACEBACK=1 shows where
        if _interrupted(exc):  # Ctrl-C landed in cleanup code that then failed: still an interruption
            warn(f"darkcompute {args.command}: interrupted")
            return 130
        if os.environ.get("DARKCOMPUTE_TRACEBACK"):
            raise
        where = "".join(f" {note}" for note in getattr(exc, "__notes__", []))  # "while listing s3://..."
        warn(f"darkcompute {args.command} failed{where}: {type(exc).__name__}: {first_line(exc)} "
             "(set DARKCOMPUTE_TRACEBACK=1 for the traceback)")
        return 1


def _interrupted(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the causes or contexts of `exc`."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
