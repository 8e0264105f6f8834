"""Kill -9 a multi-day reconciliation at random points, run it again, and get exactly what a
clean run gets: every write is atomic (temp file + rename, DuckDB transactions) and a re-run
as of the same time recomputes the same bytes."""

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.dbt import MARTS

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "openai_world" / "sources"
AS_OF = "2026-11-20T04:00:00Z"
TABLES = (*MARTS, "rejected_records", "ingest_files", "source_status")


def command(root: Path) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", "reconcile", "--all", "--quiet", "--as-of", AS_OF,
            "--source", str(root / "sources"), "--lake", str(root / "lake"), "--warehouse", str(root / "w.duckdb")]


def env(root: Path) -> dict:
    return {**os.environ, "DAGSTER_HOME": "", "DARKCOMPUTE_LANDING_DIR": str(root / "landing")}


def fingerprint(root: Path) -> dict:
    """Checksums of every mart partition file, and of every warehouse table's sorted rows."""
    marts = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted((root / "lake" / "marts").rglob("*.parquet"))}
    con = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    try:
        tables = {t: hashlib.sha256(repr(sorted(map(repr, con.execute(f"select * from {t}").fetchall()))).encode())
                  .hexdigest() for t in TABLES}
    finally:
        con.close()
    leftovers = sorted(p.name for p in (root / "lake").rglob("*.tmp"))
    return {"marts": marts, "tables": tables, "leftover_tmp_files": leftovers}


def test_killed_runs_then_a_rerun_equal_a_clean_run(tmp_path):
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    for root in (clean, crashed):
        shutil.copytree(SAMPLES, root / "sources")

    started = time.monotonic()
    subprocess.run(command(clean), env=env(clean), check=True, capture_output=True)
    full = time.monotonic() - started

    rng = random.Random(20261123)
    kills = sorted(rng.uniform(0.15, 0.9) * full for _ in range(3))
    for delay in kills:
        proc = subprocess.Popen(command(crashed), env=env(crashed), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    subprocess.run(command(crashed), env=env(crashed), check=True, capture_output=True)

    expected = fingerprint(clean)
    tables = {key.split("/")[2] for key in expected["marts"]}  # lake/marts/<table>/date=D/data.parquet
    assert set(MARTS) <= tables
    assert len(expected["marts"]) == len(tables) * 3  # each of them for each of the three sample days
    got = fingerprint(crashed)
    assert got["marts"] == expected["marts"]
    assert got["tables"] == expected["tables"]
    assert got["leftover_tmp_files"] == []
