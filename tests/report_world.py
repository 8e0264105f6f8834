"""The warehouse the report tests read: every day of the committed samples, reconciled once per
test session by the real CLI (both report test modules share it), as of a fixed time."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data_samples" / "sources"
AS_OF = "2026-11-20T04:00:00Z"
ARTIFACTS = REPO / "test-artifacts"


def sample_warehouse(tmp_path_factory) -> Path:
    """`reconcile --all` over the samples into the session's temporary folder (once per session)."""
    folder = tmp_path_factory.getbasetemp() / "report-world"
    folder.mkdir(exist_ok=True)
    warehouse = folder / "warehouse.duckdb"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            env = {**os.environ, "DAGSTER_HOME": "", "DARKCOMPUTE_SOURCE_URI": str(SAMPLES),
                   "DARKCOMPUTE_LAKE_DIR": str(folder / "lake"), "DARKCOMPUTE_WAREHOUSE": str(warehouse),
                   "DARKCOMPUTE_REPORT_DIR": str(folder / "nightly")}
            run = subprocess.run([sys.executable, "-m", "pipelines.cli", "reconcile", "--all", "--quiet",
                                  "--as-of", AS_OF], env=env, cwd=folder, capture_output=True, text=True)
            assert run.returncode == 0, run.stdout + run.stderr
            (folder / "done").write_text("")
    return warehouse


def query(warehouse: Path, text: str, params: dict | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(text, params or {}).fetchall()
    finally:
        con.close()
