"""Run the dbt project in `sql/` for one day. No Dagster here; `pipelines/defs/reconcile/`
runs it as assets.

A run is one `dbt build` on an in-memory DuckDB (`sql/profiles.yml`), invoked in this process
(dbt's Python API: the project is parsed once per process, not once per day). It reads the lake
files listed in its parameters; the marts are read out of its database before it closes. dbt's
result events are kept so that Dagster can turn them into materializations and check results
(dagster-dbt's own translation, `pipelines/defs/reconcile/assets.py`).
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import yaml

from pipelines.lib.bronze.aws import billing_period_start
from pipelines.lib.lake import Lake
from pipelines.lib.prices import load_overrides

PROJECT_DIR = Path(__file__).resolve().parents[2] / "sql"
MANIFEST = PROJECT_DIR / "target" / "manifest.json"
SOURCES = PROJECT_DIR / "models" / "staging" / "_sources.yml"
MARTS = ("fct_spend_reconciliation", "fct_dark_compute", "focus_costs", "fct_spend_diagnosis", "fct_gateway_estimate",
         "fct_retry_amplification", "fct_cost_tail", "fct_savings_opportunities",
         "fct_cache_efficiency", "fct_cache_efficiency_tenant", "fct_feature_users",
         "fct_user_action_cost")
RESULT_EVENTS = ("LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult")

# A delivery folder may hold records of the day before (late lines) and the day after (clock
# skew, log rotation racing midnight); a day's reconciliation reads the folders around it.
WINDOW_DAYS = 1


def delivery_days(day: date) -> list[date]:
    """The delivery folders that can hold records of `day`."""
    return [day + timedelta(days=i) for i in range(-WINDOW_DAYS, WINDOW_DAYS + 1)]


def manifest() -> dict:
    """The parsed project (`sql/target/manifest.json`), parsed anew when a file of the project
    is newer than it."""
    if not MANIFEST.exists() or MANIFEST.stat().st_mtime_ns < _newest_source():
        prepare()
    return _manifest(MANIFEST.stat().st_mtime_ns)


@lru_cache(maxsize=2)
def _manifest(_mtime: int) -> dict:
    return json.loads(MANIFEST.read_text())


def _newest_source() -> int:
    files = [PROJECT_DIR / "dbt_project.yml", PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        files += [p for p in (PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime_ns for p in files)


def prepare() -> None:
    """`dbt parse`: write the manifest (and the partial-parse state every run starts from)."""
    result = _runner([]).invoke(["parse", "--quiet", *_project_args(PROJECT_DIR / "target")])
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")


@lru_cache(maxsize=1)
def lake_sources() -> list[tuple[str, str, str]]:
    """The registry of lake tables the project reads: (source, table, partitioned_by), as the
    sources file (`sql/models/staging/_sources.yml`) declares them."""
    sources = yaml.safe_load(SOURCES.read_text())["sources"]
    return sorted(
        (source["name"], table["name"], table.get("meta", {}).get("partitioned_by", "day"))
        for source in sources if source["name"] in ("bronze", "catalog") for table in source["tables"]
    )


def lake_files(lake: Lake, day: date) -> dict[str, list[str]]:
    """Every lake partition file the run of `day` reads, per `<source>.<table>`: the delivery
    window's for bronze tables, the billing period's for CUR, the day's own catalog."""
    out = {}
    for source, table, partitioned_by in lake_sources():
        if partitioned_by == "billing_period":
            days = [billing_period_start(day)]
        elif source == "catalog":
            days = [day]
        else:
            days = delivery_days(day)
        out[f"{source}.{table}"] = lake.existing(source, table, days)
        if source == "catalog":
            # every partition up to the day: the price history dim_model_price makes ranges of
            out[f"{source}.{table}:history"] = lake.existing(source, table, [d for d in lake.days(source, table)
                                                                            if d <= day])
    return out


def run_parameters(lake: Lake, day: date, as_of: datetime, settle_days: dict[str, int] | None,
                   price_overrides: str | Path | None = None) -> dict:
    """The parameters of one day's run (`sql/macros/run_parameters.sql`). The price overrides file
    (`prices/overrides.csv` unless `price_overrides` names another) is validated here, before dbt
    runs: a malformed one raises OverridesError naming file, line and field."""
    return {
        "usage_date": day.isoformat(),
        "as_of": as_of.isoformat(),
        "settle_days": dict(settle_days or {}),
        "lake_files": lake_files(lake, day),
        "price_overrides": [o.parameter() for o in load_overrides(price_overrides)],
    }


def run_env(parameters: dict, threads: int | None, memory_limit: str | None, temp_directory: str | None) -> dict[str, str]:
    """The environment of one run: its parameters and the DuckDB settings it runs with, as one JSON
    object in DARKCOMPUTE_DBT_RUN. The settings are applied by the project's `on-run-start` hook
    (`sql/macros/duckdb_settings.sql`), not by the profile: a profile that changed would make dbt
    parse the whole project again on every run."""
    if temp_directory:
        Path(temp_directory).mkdir(parents=True, exist_ok=True)
    duckdb_settings = {"threads": threads or None, "memory_limit": memory_limit or None,
                       "temp_directory": str(temp_directory) if temp_directory else None}
    return {"DARKCOMPUTE_DBT_RUN": json.dumps({**parameters, "duckdb": duckdb_settings}, sort_keys=True)}


@contextmanager
def environment(env: dict[str, str]):
    """`env` set in this process's environment while inside (dbt runs in this process and reads it)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def workspace():
    """A private folder for one run: dbt's target path (the compiled SQL, a few KB)."""
    with tempfile.TemporaryDirectory(prefix="darkcompute-dbt-") as folder:
        yield Path(folder)


def _utc(schema: pa.Schema) -> pa.Schema:
    return pa.schema([
        field.with_type(pa.timestamp(field.type.unit, "Etc/UTC"))
        if pa.types.is_timestamp(field.type) and field.type.tz else field
        for field in schema
    ])


@dataclass
class Build:
    """What one `dbt build` of a day left: the marts, the tables asked to be kept, and dbt's
    result events (as JSON-like dicts, the shape dbt logs with `--log-format json`)."""

    success: bool
    marts: dict[str, pa.Table] = field(default_factory=dict)
    kept: dict[str, pa.Table] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def build(lake: Lake, day: date, as_of: datetime, settle_days: dict[str, int] | None = None, *,
          select: list[str] | None = None, keep: tuple[str, ...] = (), threads: int | None = None,
          memory_limit: str | None = None, temp_directory: str | None = None,
          price_overrides: str | Path | None = None) -> Build:
    """`dbt build` the project (or the `select`ed models and their tests) for `day`.

    The marts, and the models named in `keep` (tests use it to look at staging and intermediate
    models), are read out of the run's in-memory database before it is closed; a mart dbt built is
    read even when a test failed (its check fails; publishing is blocked).

    The run reads the saved parse (`sql/target/partial_parse.msgpack`, from `prepare()`) where it
    is, and writes neither a manifest nor run results: its events are collected here."""
    events: list[dict] = []
    with workspace() as target:
        # nothing on the console (a failed node is reported from its result event, by the caller)
        args = ["build", "--quiet", "--log-level", "none", "--no-write-json", *_project_args(target),
                *(["--select", *select] if select else [])]
        with environment(run_env(run_parameters(lake, day, as_of, settle_days, price_overrides), threads, memory_limit,
                                 temp_directory)):
            _close()  # a fresh database: nothing left by an earlier invocation in this process
            try:
                result = _runner(events).invoke(args)
                if result.exception is not None:
                    raise RuntimeError(f"dbt build failed: {result.exception}") from result.exception
                built = _tables()
                marts = {name: _read(name) for name in MARTS if name in built} if not select else {}
                kept = {name: _read(name) for name in keep if name in built}
            finally:
                _close()
    failures = [describe(e) for e in events if e["data"].get("status") in ("error", "fail")]
    return Build(success=result.success, marts=marts, kept=kept, events=events, failures=failures)


def _project_args(target: Path) -> list[str]:
    saved_parse = PROJECT_DIR / "target" / "partial_parse.msgpack"
    return ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(target), "--log-path", str(target), "--no-send-anonymous-usage-stats",
            *(["--partial-parse-file-path", str(saved_parse)] if saved_parse.exists() else [])]


def _runner(events: list[dict]):
    from dbt.cli.main import dbtRunner
    from google.protobuf.json_format import MessageToDict

    def collect(event) -> None:
        if event.info.name in RESULT_EVENTS:
            events.append(MessageToDict(event, preserving_proto_field_name=True))

    return dbtRunner(callbacks=[collect])


def _tables() -> set[str]:
    """The tables and views the run's in-memory database holds."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    cursor = DuckDBConnectionManager.env().handle().cursor()
    return {name for (name,) in cursor.execute(
        "select table_name from duckdb_tables() union select view_name from duckdb_views() where not internal"
    ).fetchall()}


def _read(name: str) -> pa.Table:
    """One table of the run's in-memory database, as Arrow (timestamps in `Etc/UTC`, as DuckDB
    hands a UTC session's tables to Arrow and the lake has always held them)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    cursor = DuckDBConnectionManager.env().handle().cursor()
    table = cursor.sql(f'select * from "{name}"').to_arrow_table()
    return table.cast(_utc(table.schema))


def _close() -> None:
    """Drop the run's in-memory database (dbt-duckdb keeps one per process otherwise)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()


def describe(event: dict) -> str:
    """A failed node's result event in one line: what it is and dbt's message."""
    node = event["data"].get("node_info", {})
    return f"{node.get('resource_type', 'node')} {node.get('node_name', '?')}: {event['info'].get('msg', '')}"


def main(argv: list[str] | None = None) -> int:
    """Print the run parameters of one day as JSON, for running dbt by hand:

        cd sql
        export DARKCOMPUTE_DBT_RUN=$(../.venv/bin/python -m pipelines.lib.dbt --date 2026-11-02 --lake ../lake)
        DBT_PROFILES_DIR=. ../.venv/bin/dbt build --target local

    (`--target local` keeps every model's table in `sql/target/local.duckdb`.) The lake files are
    absolute paths. The day must have
    been ingested (its bronze partitions and price catalog written, e.g. by `darkcompute reconcile`);
    what is missing is said on stderr."""
    import argparse
    import sys
    from datetime import UTC

    from pipelines.defs.settings import parse_settle_days, setting

    parser = argparse.ArgumentParser(prog="python -m pipelines.lib.dbt", description=main.__doc__.split("\n\n")[0])
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="the usage day, YYYY-MM-DD")
    parser.add_argument("--lake", default=os.environ.get("DARKCOMPUTE_LAKE_DIR") or "lake",
                        help="the lake folder (default: DARKCOMPUTE_LAKE_DIR or ./lake)")
    parser.add_argument("--as-of", type=datetime.fromisoformat, default=None,
                        help="the run's 'as of' time, e.g. 2026-11-04T04:00:00+00:00 (default: now)")
    args = parser.parse_args(argv)
    lake = Lake(Path(args.lake).resolve())
    if not lake.root.is_dir():
        print(f"no lake at {lake.root}: run `darkcompute reconcile` first or pass --lake", file=sys.stderr)
        return 2
    as_of = args.as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        parser.error("--as-of needs a time zone, e.g. 2026-11-04T04:00:00+00:00")
    parameters = run_parameters(lake, args.date, as_of, parse_settle_days(setting("DARKCOMPUTE_SETTLE_DAYS")),
                                setting("DARKCOMPUTE_PRICE_OVERRIDES") or None)
    if not parameters["lake_files"].get("catalog.model_prices"):
        print(f"no price catalog for {args.date} in {lake.root}: every model will be unpriced "
              f"(`darkcompute reconcile --date {args.date}` writes it)", file=sys.stderr)
    if not any(files for name, files in parameters["lake_files"].items() if name.startswith("bronze.")):
        print(f"no bronze partition around {args.date} in {lake.root}: the marts will be empty", file=sys.stderr)
    print(json.dumps(parameters, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
