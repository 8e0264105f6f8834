"""The golden worlds: how each is made, reconciled and dumped to CSV (shared by the test and by
`regenerate`, so the two can never dump differently).

A world is a source root (the OpenAI-only world `tests/data/openai_world/`, the committed
samples before issue 12, or a planted-truth world `darkcompute simulate`
writes from a fixed seed), reconciled by the real CLI in a subprocess as of a fixed time. Its
dump is one CSV per lake mart table: every row of every `date=` partition the run wrote, all
columns but the run-time ones, `order by all`, written by DuckDB (whose decimal text is exact).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
SAMPLES = ROOT / "tests" / "data" / "openai_world" / "sources"
AS_OF = "2026-12-01T00:00:00+00:00"

# Columns that hold the run's clock, not its numbers (`--as-of` sets the first; the restatement
# times are the as-of of the run that restated and of the one it replaced).
RUN_TIME_COLUMNS = ("reconciled_at", "restated_at", "old_reconciled_at")
# The marts every world must write; restatements only when a world restates a day.
REQUIRED_TABLES = ("fct_spend_reconciliation", "fct_dark_compute", "rejected_records", "source_status")
# Marts added after the golden dumps were written by the pre-dbt code: not dumped, so the guard
# keeps comparing exactly the tables that code wrote (their own tests check them: focus_costs in
# tests/test_focus.py, fct_spend_diagnosis in tests/test_diagnosis.py, fct_gateway_estimate in
# tests/test_gateway_estimate.py, fct_retry_amplification in tests/test_retry_amplification.py, fct_cost_tail
# and fct_savings_opportunities in tests/test_cost_tail_savings.py, fct_user_action_cost in
# tests/test_user_action_cost.py).
NOT_IN_GOLDEN = ("focus_costs", "fct_spend_diagnosis", "fct_gateway_estimate", "fct_retry_amplification",
                 "fct_cost_tail", "fct_savings_opportunities",
                 "fct_cache_efficiency", "fct_cache_efficiency_tenant", "fct_feature_users",
                 "fct_user_action_cost")

_SIM = ["--start", "2026-11-01", "--days", "2", "--calls-per-day", "300", "--seed", "7"]
# name -> `darkcompute simulate` flags (None: tests/data/openai_world, copied as it is).
WORLDS: dict[str, list[str] | None] = {
    "samples": None,
    "openai": [*_SIM, "--providers", "openai", "--tiers", "--litellm-share", "0.2", "--aggregate-jobs"],
    "openai_coarse": [*_SIM, "--providers", "openai", "--tiers", "--litellm-share", "0.2", "--aggregate-jobs",
                      "--openai-usage-group-by", "none", "--openai-cost-group-by", "project_id"],
    "anthropic": [*_SIM, "--providers", "anthropic"],
    "bedrock": [*_SIM, "--providers", "aws.bedrock", "--cross-region", "--cur-format", "csv"],
}
# `reconcile --all` finds days by their OpenAI or Anthropic export folders; a Bedrock-only world
# has none, so its days are named.
DAYS: dict[str, list[str]] = {"bedrock": ["--date", "2026-11-01", "--to", "2026-11-02"]}


def _cli() -> list[str]:
    """The installed `darkcompute` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "darkcompute"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipelines.cli"]


def _env(work: Path) -> dict[str, str]:
    """This process's environment without any darkcompute setting or admin key (a pull or a
    setting from the caller's shell would change the numbers), and a fresh DAGSTER_HOME."""
    dagster_home = work / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DARKCOMPUTE_") and k not in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY")}
    env["DAGSTER_HOME"] = str(dagster_home)
    return env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([*_cli(), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"darkcompute {' '.join(args)} exited {done.returncode}\n"
                           f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}")


def _quote(path: Path | str) -> str:
    """A path as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def build(world: str, work: Path) -> Path:
    """Make the world's sources under `work`, reconcile every day with the CLI, return the lake."""
    env = _env(work)
    flags = WORLDS[world]
    if flags is None:
        source = work / "sources"
        shutil.copytree(SAMPLES, source)
    else:
        _run(["simulate", "--out", str(work / "world"), *flags], env)
        source = work / "world" / "sources"
    lake = work / "lake"
    _run(["reconcile", *DAYS.get(world, ["--all"]), "--source", str(source), "--lake", str(lake),
          "--warehouse", str(work / "warehouse.duckdb"), "--as-of", AS_OF, "--quiet"], env)
    return lake


def dump(lake: Path, out: Path) -> list[str]:
    """Write `out/<table>.csv` for every table under `lake/marts/`; return the tables written.

    The partition folder's day is kept as the column `date` (a row written to another day's
    partition is a change too)."""
    out.mkdir(parents=True, exist_ok=True)
    tables = sorted(p.name for p in (lake / "marts").iterdir() if p.is_dir() and p.name not in NOT_IN_GOLDEN)
    missing = set(REQUIRED_TABLES) - set(tables)
    if missing:
        raise RuntimeError(f"{lake}/marts has no {sorted(missing)}")
    con = duckdb.connect()
    try:
        for table in tables:
            files = sorted(str(p) for p in (lake / "marts" / table).glob("date=*/*.parquet"))
            if not files:
                raise RuntimeError(f"{lake}/marts/{table} has no partition file")
            listed = ", ".join(_quote(f) for f in files)
            con.execute("create or replace temp view mart as "
                        f"select * from read_parquet([{listed}], hive_partitioning = true, union_by_name = true)")
            columns = [row[0] for row in con.execute("describe mart").fetchall()]
            kept = ", ".join(f'"{c}"' for c in columns if c not in RUN_TIME_COLUMNS)
            target = out / f"{table}.csv"
            con.execute(f"copy (select {kept} from mart order by all) to {_quote(target)} (header)")
    finally:
        con.close()
    return tables


def totals(dump_dir: Path) -> dict[str, object]:
    """The figures a failure should name: rows per table, and each money column's sum (Decimal)."""
    con = duckdb.connect()
    try:
        out: dict[str, object] = {}
        for csv in sorted(dump_dir.glob("*.csv")):
            rel = f"read_csv({_quote(csv)}, all_varchar = true, header = true)"
            out[f"{csv.stem} rows"] = con.execute(f"select count(*) from {rel}").fetchall()[0][0]
        money = {
            "fct_spend_reconciliation": ["invoice_cost_usd", "catalog_cost_usd", "user_cost_usd",
                                         "background_cost_usd", "retry_cost_usd", "unlogged_cost_usd",
                                         "non_token_cost_usd"],
            "fct_dark_compute": ["cost_usd"],
        }
        for table, columns in money.items():
            csv = dump_dir / f"{table}.csv"
            if not csv.exists():
                continue
            sums = ", ".join(f'coalesce(sum("{c}"::decimal(38, 12)), 0)::varchar' for c in columns)
            row = con.execute(f"select {sums} from read_csv({_quote(csv)}, all_varchar = true, header = true)").fetchall()[0]
            for column, value in zip(columns, row, strict=True):
                out[f"{table}.{column}"] = Decimal(value)
    finally:
        con.close()
    return out


def differences(golden: Path, got: Path, limit: int = 5) -> list[str]:
    """What differs between two dumps: missing or extra tables, a changed header, and per table
    the first rows only in one side (both directions); empty when byte-identical."""
    problems = []
    golden_tables = {p.name for p in golden.glob("*.csv")}
    got_tables = {p.name for p in got.glob("*.csv")}
    for name in sorted(golden_tables - got_tables):
        problems.append(f"{name}: in the golden dump, not written by this run")
    for name in sorted(got_tables - golden_tables):
        problems.append(f"{name}: written by this run, not in the golden dump")
    con = duckdb.connect()
    try:
        for name in sorted(golden_tables & got_tables):
            old, new = golden / name, got / name
            if old.read_bytes() == new.read_bytes():
                continue
            old_header = old.read_text().splitlines()[0]
            new_header = new.read_text().splitlines()[0]
            if old_header != new_header:
                problems.append(f"{name}: columns changed\n  golden: {old_header}\n  now:    {new_header}")
                continue
            old_rel = f"read_csv({_quote(old)}, all_varchar = true, header = true)"
            new_rel = f"read_csv({_quote(new)}, all_varchar = true, header = true)"
            lines = [f"{name}: rows differ ({old_header})"]
            for label, a, b in (("only in golden", old_rel, new_rel), ("only in this run", new_rel, old_rel)):
                count = con.execute(f"select count(*) from (from {a} except all from {b})").fetchall()[0][0]
                rows = con.execute(f"from (from {a} except all from {b}) order by all limit {limit}").fetchall()
                lines.append(f"  {label}: {count} row(s)")
                lines.extend(f"    {','.join('' if v is None else v for v in row)}" for row in rows)
            if len(lines) == 1 + 2 and all("0 row(s)" in line for line in lines[1:]):
                lines.append("  same rows, different bytes (order or formatting)")
            problems.append("\n".join(lines))
    finally:
        con.close()
    return problems
