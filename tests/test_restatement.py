"""A day reconciled before its cost export arrived is provisional; when the export lands, the next
run makes it final, records the change in `restatements`, and the identity still holds. A re-run
that changes nothing leaves the marts byte-identical and records nothing."""

import hashlib
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "openai_world" / "sources"
DAY = "2026-11-02"


def reconcile(tmp_path, source):
    return main(["reconcile", "--date", DAY, "--quiet", "--source", str(source), "--lake", str(tmp_path / "lake"),
                 "--warehouse", str(tmp_path / "warehouse.duckdb")])


def query(tmp_path, text):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(text).fetchall()
    finally:
        con.close()


def digests(tmp_path):
    marts = sorted((tmp_path / "lake" / "marts").rglob(f"date={DAY}/*.parquet"))
    return {p.relative_to(tmp_path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in marts}


def test_provisional_day_is_restated_final_when_the_cost_export_lands(tmp_path):
    source = tmp_path / "sources"
    shutil.copytree(SAMPLES, source)
    held_back = tmp_path / "held_back"
    shutil.move(source / "openai" / "costs" / DAY, held_back)

    assert reconcile(tmp_path, source) == 0
    assert query(tmp_path, "select distinct status from fct_spend_reconciliation") == [("provisional",)]
    assert query(tmp_path, f"select status, files from source_status where delivery_date = '{DAY}' "
                           "and source = 'openai/costs'") == [("missing", 0)]
    (provisional,) = query(tmp_path, "select sum(invoice_cost_usd) from fct_spend_reconciliation")[0]

    shutil.move(held_back, source / "openai" / "costs" / DAY)
    assert reconcile(tmp_path, source) == 0
    assert query(tmp_path, "select distinct status from fct_spend_reconciliation") == [("final",)]
    assert query(tmp_path, f"select status, files from source_status where delivery_date = '{DAY}' "
                           "and source = 'openai/costs'") == [("ok", 1)]
    (final,) = query(tmp_path, "select sum(invoice_cost_usd) from fct_spend_reconciliation")[0]
    assert final != provisional  # the invoice includes non-token lines the catalog cannot know

    changes = query(tmp_path, "select old_status, new_status, sum(invoice_delta_usd) from restatements group by all")
    statuses = {(old, new) for old, new, _ in changes}
    assert statuses <= {("provisional", "final"), (None, "final")}
    assert sum(delta for _, _, delta in changes) == final - provisional
    assert query(tmp_path, """
        select count(*) from fct_spend_reconciliation
        where invoice_cost_usd <> user_cost_usd + background_cost_usd + retry_cost_usd
            + unlogged_cost_usd + non_token_cost_usd""") == [(0,)]

    before = digests(tmp_path)
    restated = query(tmp_path, "select count(*) from restatements")[0][0]
    assert reconcile(tmp_path, source) == 0
    assert digests(tmp_path) == before
    assert query(tmp_path, "select count(*) from restatements")[0][0] == restated
    assert query(tmp_path, "select count(*) from fct_spend_reconciliation")[0][0] > 0
    assert final > Decimal(0)
