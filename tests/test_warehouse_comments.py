"""Every table and column of the published warehouse carries a comment (issue 11: documented): the
marts' from their dbt models' YAML (the manifest), the other tables' from sql/publish/_tables.yml.
The committed samples are reconciled by the real CLI (`darkcompute reconcile --all`); the
comments survive a re-publication and a rebuild of the warehouse from the lake.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.reconcile.assets import bronze_files
from pipelines.defs.reconcile.publish import publish, table_descriptions
from pipelines.defs.resources import Warehouse
from pipelines.lib import dbt
from pipelines.lib.lake import Lake
from tests.golden.worlds import build

pytestmark = pytest.mark.slow

TABLES = {"fct_spend_reconciliation", "fct_dark_compute", "focus_costs", "fct_spend_diagnosis", "fct_gateway_estimate",
          "fct_retry_amplification", "fct_cost_tail", "fct_savings_opportunities",
          "fct_cache_efficiency", "fct_cache_efficiency_tenant", "fct_feature_users", "fct_user_action_cost",
          "rejected_records", "source_status", "ingest_files", "restatements",
          # views (sql/publish/redistributed_views.sql)
          "redistribution_base", "redistributed_spend_proportional", "redistributed_spend_even", "fct_cost_growth"}
MARTS = ("fct_spend_reconciliation", "fct_dark_compute", "focus_costs", "fct_spend_diagnosis", "fct_gateway_estimate",
         "fct_retry_amplification", "fct_cost_tail", "fct_savings_opportunities",
         "fct_cache_efficiency", "fct_cache_efficiency_tenant", "fct_feature_users",
         "fct_user_action_cost")
DAY = date(2026, 11, 2)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """The samples reconciled by the CLI: `<work>/lake` and `<work>/warehouse.duckdb`."""
    work = tmp_path_factory.mktemp("samples")
    build("samples", work)
    return work


def comments(path: Path) -> dict[tuple[str, str | None], str | None]:
    """(table, None) -> the table's comment, (table, column) -> the column's, for every table of
    the file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("""
            select table_name, null, comment from duckdb_tables() where database_name = current_database()
            union all
            select view_name, null, comment from duckdb_views() where database_name = current_database() and not internal
            union all
            select table_name, column_name, comment from duckdb_columns() where database_name = current_database()
        """).fetchall()
    finally:
        con.close()
    return {(table, column): comment for table, column, comment in rows}


def republish(world: Path, path: Path) -> bool:
    lake = Lake(world / "lake")
    out = publish(path, lake, [DAY], connect=Warehouse(path=str(path)).session,
                  day_files=lambda d: bronze_files(lake, "_files", d))
    return out.rebuilt


def test_every_table_and_column_of_the_warehouse_has_a_comment(world):
    found = comments(world / "warehouse.duckdb")
    assert {table for table, _ in found} == TABLES
    missing = sorted(f"{t}.{c}" if c else t for (t, c), comment in found.items() if not comment)
    assert missing == []
    for mart in MARTS:
        columns = [comment for (t, c), comment in found.items() if t == mart and c is not None]
        assert len(columns) == len(dbt.manifest()["nodes"][f"model.darkcompute.{mart}"]["columns"]) + 1  # + date
        assert sum(1 for c in columns if c) / len(columns) >= 0.95
    # + focus_costs (the table, 43 columns and `date`) + the 3 views (their comment and 13 + 9 + 9 columns)
    # + fct_spend_diagnosis (the table, 21 columns and `date`) + fct_gateway_estimate (the table, 17 columns and `date`)
    # + fct_retry_amplification (the table, 20 columns and `date`)
    # + fct_cost_tail (the table, 14 columns and `date`) + fct_savings_opportunities (the table, 16 columns and `date`)
    # + fct_cache_efficiency (the table, 16 columns and `date`) + fct_cache_efficiency_tenant (the table, 17 and `date`)
    # + fct_feature_users (the table, 9 columns and `date`) + the view fct_cost_growth (its comment and 21 columns)
    # + fct_user_action_cost (the table, 16 columns and `date`)
    assert len(found) == 6 + 20 + 16 + 7 + 10 + 12 + 17 + 45 + 34 + 23 + 19 + 22 + 16 + 18 + 18 + 19 + 11 + 22 + 18


def test_comments_say_what_the_descriptions_say(world):
    found = comments(world / "warehouse.duckdb")
    manifest = dbt.manifest()["nodes"]["model.darkcompute.fct_spend_reconciliation"]
    assert found[("fct_spend_reconciliation", None)] == " ".join(manifest["description"].split())
    assert found[("fct_spend_reconciliation", "invoice_cost_usd")] == " ".join(
        manifest["columns"]["invoice_cost_usd"]["description"].split())
    assert found[("fct_spend_reconciliation", "invoice_cost_usd")].startswith("What the provider invoiced")
    assert "(USD, DECIMAL(38, 12))" in found[("fct_spend_reconciliation", "invoice_cost_usd")]
    assert found[("fct_dark_compute", None)].startswith("The invoice dollars no waiting user caused")
    assert found[("rejected_records", "raw")].startswith("Never the line's text")
    assert found[("restatements", "invoice_delta_usd")] == "new - old invoice (USD)."
    assert found[("source_status", "date")] == found[("fct_dark_compute", "date")] == table_descriptions()[
        "ingest_files"][1]["date"]


def test_comments_survive_a_republication_and_a_rebuild(world, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(world / "warehouse.duckdb", path)
    before = comments(path)
    con = duckdb.connect(str(path))  # a stale comment is rewritten by the next publication
    con.execute("comment on column fct_spend_reconciliation.status is 'stale'")
    con.close()

    assert republish(world, path) is False
    assert comments(path) == before

    path.unlink()  # no warehouse at all: rebuilt from the lake's marts and restatements
    assert republish(world, path) is True
    assert comments(path) == before
