"""The committed samples (data_samples/sources) reconciled once per test session, through the
CLI in a subprocess (as a user runs it): the warehouse and lake the SQL shell and example tests read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples" / "sources"
AS_OF = "2026-11-20T04:00:00Z"


@pytest.fixture(scope="session")
def samples_warehouse(tmp_path_factory) -> Path:
    """`warehouse.duckdb` of the samples, every day, as of AS_OF; its lake is beside it (`lake/`)."""
    root = tmp_path_factory.mktemp("samples")
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "reconcile", "--all", "--quiet", "--as-of", AS_OF,
         "--source", str(SAMPLES), "--lake", str(root / "lake"), "--warehouse", str(root / "warehouse.duckdb")],
        env={**os.environ, "DAGSTER_HOME": "", "DARKCOMPUTE_LANDING_DIR": str(root / "landing")},
        capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    return root / "warehouse.duckdb"
