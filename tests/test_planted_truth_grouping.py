"""Simulated OpenAI worlds pulled with coarser groupings, with batch and flex traffic, still report
the split the simulator planted: the invoice to the cent, every job type within 0.01%.

The simulator prices every call at its tier's list price (batch and flex at half) and writes the
Usage and Costs pages grouped as asked (`openai_usage_group_by`, `openai_cost_group_by`); the
truth does not depend on the grouping. Costs keep `line_item` here: without it the web search
charge is inside the project totals and no export can tell it from tokens. (Usage without model
and costs without project share no grain finer than the organization: there the list-price
weights of a project's tokens come from its logged calls, an estimate, so that world is not here.)
"""

import json
from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from pipelines.simulate import simulate

from .test_planted_truth import START

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

WORLDS = {
    "usage ungrouped, costs by project and line item": ((), ("project_id", "line_item")),
    "usage by project only, costs by project and line item": (("project_id",), ("project_id", "line_item")),
    "finest usage, organization-level costs by line item": (
        ("project_id", "model", "batch", "service_tier"), ("line_item",)),
}


@pytest.fixture(scope="module", params=list(WORLDS))
def reconciled(request, tmp_path_factory):
    usage_group_by, cost_group_by = WORLDS[request.param]
    root = tmp_path_factory.mktemp("world")
    simulate(root / "world", START, 1, calls_per_day=3000, seed=20261105, providers=("openai",),
             openai_usage_group_by=usage_group_by, openai_cost_group_by=cost_group_by, tiers=True)
    code = main(["reconcile", "--date", START.isoformat(), "--quiet", "--as-of", "2026-10-20T04:00:00Z",
                 "--source", str(root / "world" / "sources"), "--lake", str(root / "lake"),
                 "--warehouse", str(root / "warehouse.duckdb")])
    truth = json.loads((root / "world" / "ground_truth.json").read_text())["days"][START.isoformat()]["openai"]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    yield request.param, code, truth, con
    con.close()


def test_invoice_to_the_cent_and_every_job_type_within_a_hundredth_of_a_percent(reconciled):
    world, code, truth, con = reconciled
    assert code == 0
    invoice, user, non_token = con.execute(
        "select sum(invoice_cost_usd), sum(user_cost_usd), sum(non_token_cost_usd) from fct_spend_reconciliation"
    ).fetchone()
    assert invoice == Decimal(truth["invoice_usd"])
    assert non_token == Decimal(truth["non_token_usd"])
    assert abs(user - Decimal(truth["user_usd"])) < Decimal("0.005")
    got = dict(con.execute("select job_type, sum(cost_usd) from fct_dark_compute group by all").fetchall())
    expected = {k: Decimal(v) for k, v in truth["dark_usd_by_job_type"].items()}
    assert {"llm_judge_evaluation", "proactive_suggestions"} <= expected.keys()  # the batch and flex jobs
    assert got.keys() == expected.keys(), world
    for job_type, cost in expected.items():
        assert abs(got[job_type] - cost) <= cost * Decimal("0.0001"), (world, job_type, got[job_type], cost)


def test_the_cells_are_the_grain_the_pages_carry(reconciled):
    world, _, _, con = reconciled
    cells = con.execute("select distinct billing_account, model, price_tier from fct_spend_reconciliation "
                        "where model <> '__non_token__'").fetchall()
    accounts, models, tiers = ({c[i] for c in cells} for i in range(3))
    if world.startswith("usage ungrouped"):
        assert cells == [("__all__", "__all__", "__all__")]
    elif world.startswith("usage by project"):
        assert "__all__" not in accounts and models == {"__all__"} and tiers == {"__all__"}
    else:
        # the embeddings endpoint has no batch or service_tier grouping: its cells' tier is '__all__'
        assert "__all__" not in accounts | models and tiers == {"standard", "batch", "flex", "__all__"}
        assert {c[1] for c in cells if c[2] == "__all__"} == {"text-embedding-3-small"}
        assert con.execute("select distinct allocation_basis from fct_spend_reconciliation "
                           "where model <> '__non_token__'").fetchall() == [("catalog_weights",)]
