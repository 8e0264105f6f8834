"""Running the dbt project by hand, as the README's "How the models are built" says: the run
parameters of a day from `python -m pipelines.lib.dbt`, then `dbt build` in `sql/` gives the marts
the pipeline's own build gives."""

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.reconcile.model import ensure_catalog
from pipelines.lib.dbt import MARTS, PROJECT_DIR, build

from .fixtures import DAY, call, cost_page, usage, usage_page, write_day

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-04T04:00:00+00:00"
MODEL = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def lake(tmp_path):
    return write_day(
        tmp_path / "lake", DAY,
        usage_pages=[usage_page(DAY, [{"input_tokens": 10_000, "output_tokens": 3_000, "num_model_requests": 5,
                                       "project_id": "proj_a", "model": MODEL}])],
        cost_pages=[cost_page(DAY, [(f"{MODEL}, input", "proj_a", "0.0015"), (f"{MODEL}, output", "proj_a", "0.0018")])],
        app_lines=[call(**usage(4_000, 1_000, feature="chat"))],
        worker_lines=[call(**usage(3_000, 1_000, job_type="ingest_summarization", job_id="j1"))],
    )


def parameters(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.lib.dbt", *args], check=False, capture_output=True,
                          text=True, cwd=cwd)


def test_the_helper_prints_the_days_parameters(lake, tmp_path):
    missing = parameters("--date", DAY.isoformat(), "--lake", str(lake.root), "--as-of", AS_OF)
    assert missing.returncode == 0, missing.stderr
    assert f"no price catalog for {DAY}" in missing.stderr
    assert json.loads(missing.stdout)["lake_files"]["catalog.model_prices"] == []

    ensure_catalog(lake, DAY)
    done = parameters("--date", DAY.isoformat(), "--lake", str(lake.root), "--as-of", AS_OF)
    assert done.returncode == 0 and done.stderr == ""
    run = json.loads(done.stdout)
    assert run["usage_date"] == "2026-11-02" and run["as_of"] == AS_OF
    assert run["settle_days"] == {"openai": 1, "anthropic": 1, "aws.bedrock": 2}
    root = lake.root.resolve()
    assert run["lake_files"]["bronze.openai_usage"] == [str(root / "bronze/openai_usage/date=2026-11-02/data.parquet")]
    assert run["lake_files"]["catalog.model_prices"] == [str(root / "catalog/model_prices/date=2026-11-02/data.parquet")]
    assert run["lake_files"]["bronze.cur_lines"] == []


def test_the_helper_refuses_a_lake_that_is_not_there(tmp_path):
    done = parameters("--date", DAY.isoformat(), "--lake", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert f"no lake at {tmp_path / 'nowhere'}" in done.stderr and done.stdout == ""


@pytest.mark.slow  # a dbt process of its own (tens of seconds)
def test_dbt_build_by_hand_gives_the_pipelines_marts(lake, tmp_path):
    ensure_catalog(lake, DAY)
    run = parameters("--date", DAY.isoformat(), "--lake", str(lake.root), "--as-of", AS_OF)
    database = tmp_path / "local.duckdb"
    env = {**os.environ, "DARKCOMPUTE_DBT_RUN": run.stdout.strip(), "DBT_PROFILES_DIR": ".",
           "DARKCOMPUTE_DBT_LOCAL_DATABASE": str(database)}
    dbt = subprocess.run([str(ROOT / ".venv" / "bin" / "dbt"), "build", "--target", "local",
                          "--target-path", str(tmp_path / "target"), "--no-send-anonymous-usage-stats"],
                         check=False, capture_output=True, text=True, cwd=PROJECT_DIR, env=env)
    assert dbt.returncode == 0, dbt.stdout[-3000:]
    pipeline = build(lake, DAY, datetime.fromisoformat(AS_OF)).marts
    con = duckdb.connect(str(database), read_only=True)
    assert set(pipeline) == set(MARTS)
    for mart, table in pipeline.items():
        by_hand = con.sql(f"select * from {mart}").to_arrow_table()
        assert by_hand.num_rows == table.num_rows
        # every mart has rows, but the gateway estimate and the tenants' cache: no call of this day's
        # logs was priced by a gateway or names a tenant
        assert (table.num_rows == 0) == (mart in ("fct_gateway_estimate", "fct_cache_efficiency_tenant")), mart
        assert sorted(map(str, by_hand.to_pylist())) == sorted(map(str, table.cast(by_hand.schema).to_pylist()))
    recon = pipeline["fct_spend_reconciliation"]
    assert str(sum(r["invoice_cost_usd"] for r in recon.to_pylist())) == "0.003300000000"
