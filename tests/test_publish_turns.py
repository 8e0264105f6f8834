"""Publishers of one warehouse take turns.

A day is published by copying the warehouse, applying the day to the copy and renaming it over
the old file (`pipelines/defs/reconcile/publish.py`). Two publishers at once would each copy the
same old file and the last rename would drop the other's day, silently: the CLI's run lock keeps
two `reconcile` runs apart, and Dagster's `duckdb_warehouse` pool keeps two steps of one Dagster
instance apart, but neither covers two lakes sharing a warehouse file or two Dagster instances.
Every publisher holds `.<warehouse>.publish.lock` (flock) from its copy to its rename.
Real processes, a real DuckDB file and the committed samples' lake.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.reconcile.publish import one_publisher_at_a_time

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "tests" / "data" / "openai_world" / "sources"
FIRST, DAY, LAST = "2026-11-01", "2026-11-02", "2026-11-03"

PUBLISHER = textwrap.dedent('''
    import sys, time
    from datetime import date
    from pathlib import Path
    from pipelines.defs.reconcile.publish import publish
    from pipelines.defs.resources import Warehouse
    from pipelines.lib.lake import Lake

    warehouse, lake, day, go = sys.argv[1], Lake(sys.argv[2]), date.fromisoformat(sys.argv[3]), Path(sys.argv[4])
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    publish(warehouse, lake, [day], connect=Warehouse(path=warehouse).session, day_files=lambda d: [])
    print("published", flush=True)
''')


def days_in(warehouse: Path) -> list[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return [str(d) for (d,) in con.execute(
            "select distinct usage_date from fct_spend_reconciliation order by 1").fetchall()]
    finally:
        con.close()


def published_lake(tmp_path: Path) -> tuple[Path, Path]:
    """A lake holding three days' marts, and a warehouse that holds only the middle one."""
    shutil.copytree(SAMPLES, tmp_path / "sources")
    env = {**os.environ, "DAGSTER_HOME": "", "DARKCOMPUTE_SOURCE_URI": str(tmp_path / "sources"),
           "DARKCOMPUTE_LAKE_DIR": str(tmp_path / "lake"), "DARKCOMPUTE_WAREHOUSE": str(tmp_path / "w.duckdb")}
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "reconcile", "--date", FIRST, "--to", LAST,
                          "--quiet", "--as-of", "2026-11-20T04:00:00Z"], env=env, cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    warehouse = tmp_path / "w.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        for table in ("fct_spend_reconciliation", "fct_dark_compute"):
            con.execute(f"delete from {table} where usage_date <> date '{DAY}'")
    finally:
        con.close()
    assert days_in(warehouse) == [DAY]
    return tmp_path / "lake", warehouse


def start(warehouse: Path, lake: Path, day: str, go: Path) -> subprocess.Popen:
    script = go.with_name("publisher.py")
    script.write_text(PUBLISHER)
    child = subprocess.Popen([sys.executable, str(script), str(warehouse), str(lake), day, str(go)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert child.stdout.readline() == "ready\n", child.stderr.read()
    return child


def test_two_publishers_of_one_warehouse_keep_both_days(tmp_path):
    lake, warehouse = published_lake(tmp_path)
    go = tmp_path / "go"

    # a publisher waits while another holds the warehouse (here: this test)
    with one_publisher_at_a_time(warehouse):
        first = start(warehouse, lake, FIRST, go)
        go.touch()
        time.sleep(3)
        assert first.poll() is None  # still waiting, nothing renamed
        assert days_in(warehouse) == [DAY]
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0 and out == "published\n", err
    assert days_in(warehouse) == [FIRST, DAY]

    # two publishers let go at the same instant: each day is in the warehouse, neither is lost
    go.unlink()
    con = duckdb.connect(str(warehouse))
    try:
        for table in ("fct_spend_reconciliation", "fct_dark_compute"):
            con.execute(f"delete from {table} where usage_date <> date '{DAY}'")
    finally:
        con.close()
    racers = [start(warehouse, lake, day, go) for day in (FIRST, LAST)]
    go.touch()
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0 and out == "published\n", err
    assert days_in(warehouse) == [FIRST, DAY, LAST]
    assert sorted(p.name for p in tmp_path.glob(".w.duckdb*")) == [".w.duckdb.publish.lock"]
