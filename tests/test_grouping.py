"""Every OpenAI Usage API grouping crossed with every Costs API grouping, reconciled to the cent.

The world of 2026-11-02, by hand. Two projects, one model each:

    proj_a  gpt-4o-mini-2024-07-18  billed 20,000 input and 2,000 output tokens over 4 requests
    proj_b  gpt-4o-2024-08-06       billed  2,000 input and   200 output tokens over 2 requests

List prices (genai-prices): gpt-4o-mini $0.15 / $0.60 per million input / output tokens, gpt-4o
$2.50 / $10.00. At list, proj_a costs $0.003 + $0.0012 and proj_b $0.005 + $0.002 ($0.0112 in all);
the invoice is 10% below list on every line: $0.0027 + $0.00108 and $0.0045 + $0.0018 ($0.01008).

The logs hold one user call in proj_a (10,000 input, 1,000 output: half of proj_a's tokens) and
one background `summarize` job call in proj_b (1,000 input, 100 output: half of proj_b's). Every
class is split in proportion to list prices, so whatever the grouping:

    user       = (0.0027 + 0.00108) / 2 = $0.00189
    summarize  = (0.0045 + 0.0018)  / 2 = $0.00315
    unlogged   = $0.01008 - 0.00189 - 0.00315 = $0.00504

Pages are in the shapes the APIs return: a dimension the request did not group by is null.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from pipelines.defs.reconcile.model import reconcile_day
from pipelines.defs.reconcile.publish import restatement_rows
from pipelines.lib import sql

from .fixtures import DAY, call, unix, usage, usage_page, write_day

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

D = Decimal
RECONCILED_AT = datetime(2026, 11, 4, 4, 0, tzinfo=timezone.utc)
MINI, FOUR_O = "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06"

# (project, model, input, output, requests): the truth, before any grouping
USAGE_CELLS = [("proj_a", MINI, 20_000, 2_000, 4), ("proj_b", FOUR_O, 2_000, 200, 2)]
# (project, line_item, dollars, tokens): the invoice at its finest
COST_LINES = [("proj_a", f"{MINI}, input", "0.0027", 20_000), ("proj_a", f"{MINI}, output", "0.00108", 2_000),
              ("proj_b", f"{FOUR_O}, input", "0.0045", 2_000), ("proj_b", f"{FOUR_O}, output", "0.0018", 200)]

APP = [call(**usage(10_000, 1_000, feature="chat"), gen_ai__request__model="gpt-4o-mini",
            billing__account="proj_a")]
WORKER = [call(**usage(1_000, 100, job_type="summarize"), gen_ai__request__model="gpt-4o",
               billing__account="proj_b")]

USAGE_GROUPINGS = {
    "none": (),
    "project": ("project_id",),
    "model": ("model",),
    "project+model": ("project_id", "model"),
    "project+model+batch": ("project_id", "model", "batch"),
    "project+model+service_tier": ("project_id", "model", "service_tier"),
}
COST_GROUPINGS = {"none": (), "project": ("project_id",), "project+line_item": ("project_id", "line_item")}


def grouped_usage(group_by: tuple[str, ...]) -> str:
    """The completions page as the Usage API returns it for `group_by`: ungrouped dimensions null,
    results of one group summed."""
    groups: dict[tuple, dict] = {}
    for project, model, input_tokens, output_tokens, requests in USAGE_CELLS:
        values = {"project_id": project, "model": model, "batch": False, "service_tier": "default"}
        key = tuple(values[g] if g in group_by else None for g in ("project_id", "model", "batch", "service_tier"))
        result = groups.setdefault(key, {
            "input_tokens": 0, "output_tokens": 0, "input_cached_tokens": 0, "num_model_requests": 0,
            **dict(zip(("project_id", "model", "batch", "service_tier"), key, strict=True))})
        result["input_tokens"] += input_tokens
        result["output_tokens"] += output_tokens
        result["num_model_requests"] += requests
    return usage_page(DAY, list(groups.values()))


def grouped_costs(group_by: tuple[str, ...], quantities: bool = True) -> str:
    """The Costs API page for `group_by`, amounts summed per group as exact JSON number literals;
    a line grouped by line_item carries its tokens as `quantity` (unless `quantities` is off)."""
    groups: dict[tuple, Decimal] = {}
    tokens: dict[tuple, int] = {}
    for project, line_item, amount, quantity in COST_LINES:
        key = (project if "project_id" in group_by else None, line_item if "line_item" in group_by else None)
        groups[key] = groups.get(key, D(0)) + D(amount)
        tokens[key] = tokens.get(key, 0) + quantity
    return cost_page(groups, tokens if quantities and "line_item" in group_by else {})


def cost_page(groups: dict[tuple, Decimal], tokens: dict[tuple, int] | None = None) -> str:
    tokens = tokens or {}
    results = ",".join(
        '{"object": "organization.costs.result", "amount": {"value": %s, "currency": "usd"}, "line_item": %s, '
        '"project_id": %s, "api_key_id": null, "quantity": %s, "quantity_unit": %s}'
        % (format(amount, "f"), json.dumps(line_item), json.dumps(project), json.dumps(tokens.get(key)),
           json.dumps("tokens" if key in tokens else None))
        for key, amount in groups.items() for project, line_item in [key]
    )
    return ('{"object": "page", "data": [{"object": "bucket", "start_time": %d, "end_time": %d, "results": [%s]}], '
            '"has_more": false, "next_page": null}' % (unix(DAY), unix(DAY) + 86400, results))


def reconcile(tmp_path, usage_pages, cost_pages, app=APP, worker=WORKER):
    lake = write_day(tmp_path / "lake", DAY, usage_pages=usage_pages, cost_pages=cost_pages, app_lines=app,
                     worker_lines=worker)
    return reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)


def totals(out) -> dict[str, Decimal]:
    recon = out["fct_spend_reconciliation"].to_pylist()
    found = {name: sum((r[f"{name}_cost_usd"] for r in recon), D(0))
             for name in ("invoice", "user", "background", "retry", "unlogged", "non_token")}
    for r in recon:
        assert r["invoice_cost_usd"] == (r["user_cost_usd"] + r["background_cost_usd"] + r["retry_cost_usd"]
                                         + r["unlogged_cost_usd"] + r["non_token_cost_usd"]), r
    return found


def dark(out) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for r in out["fct_dark_compute"].to_pylist():
        found[r["job_type"]] = found.get(r["job_type"], D(0)) + r["cost_usd"]
    return found


@pytest.mark.parametrize("cost_grouping", COST_GROUPINGS)
@pytest.mark.parametrize("usage_grouping", USAGE_GROUPINGS)
def test_every_grouping_reconciles_to_the_cent_and_puts_dark_compute_where_the_logs_say(
        tmp_path, usage_grouping, cost_grouping):
    out = reconcile(tmp_path, [grouped_usage(USAGE_GROUPINGS[usage_grouping])],
                    [grouped_costs(COST_GROUPINGS[cost_grouping])])
    assert totals(out) == {"invoice": D("0.01008"), "user": D("0.00189"), "background": D("0.00315"),
                           "retry": 0, "unlogged": D("0.00504"), "non_token": 0}
    assert dark(out) == {"summarize": D("0.00315"), "__unlogged__": D("0.00504")}
    recon = out["fct_spend_reconciliation"].to_pylist()
    assert {r["status"] for r in recon} == {"final"}
    # a cell priced by its own cost lines is 'cost_line'; a share of a line without line_item, or
    # calls weighed by list price inside a '__all__' model cell, is 'catalog_weights'
    own_lines = "line_item" in COST_GROUPINGS[cost_grouping] and "model" in USAGE_GROUPINGS[usage_grouping]
    assert {r["allocation_basis"] for r in recon} == ({"cost_line"} if own_lines else {"catalog_weights"})


def test_ungrouped_usage_is_one_cell_of_its_own(tmp_path):
    out = reconcile(tmp_path, [grouped_usage(())], [grouped_costs(("project_id", "line_item"))])
    (row,) = out["fct_spend_reconciliation"].to_pylist()
    assert (row["billing_account"], row["model"], row["price_tier"]) == ("__all__", "__all__", "__all__")
    assert (row["provider_requests"], row["logged_calls"]) == (6, 2)
    # list price of everything billed: $0.0112; the logged calls' mix prices the unlogged half
    assert row["catalog_cost_usd"] == D("0.0112")


def test_org_level_costs_land_on_the_usage_cells_not_on_an_org_row(tmp_path):
    out = reconcile(tmp_path, [grouped_usage(("project_id", "model"))], [grouped_costs(())])
    rows = {(r["billing_account"], r["model"]): r for r in out["fct_spend_reconciliation"].to_pylist()}
    assert set(rows) == {("proj_a", MINI), ("proj_b", FOUR_O)}
    assert rows[("proj_a", MINI)]["invoice_cost_usd"] == D("0.00378")
    assert rows[("proj_b", FOUR_O)]["invoice_cost_usd"] == D("0.0063")
    assert rows[("proj_b", FOUR_O)]["background_cost_usd"] == D("0.00315")


def test_coarse_costs_on_a_day_at_exact_list_price_still_show_the_dark_compute(tmp_path):
    at_list = cost_page({(None, None): D("0.0112")})
    out = reconcile(tmp_path, [grouped_usage(("project_id", "model"))], [at_list])
    assert dark(out) == {"summarize": D("0.0035"), "__unlogged__": D("0.0056")}
    assert totals(out)["user"] == D("0.0021")


def test_line_item_quantities_price_the_model_mix_of_an_ungrouped_usage_cell(tmp_path):
    # only the gpt-4o-mini user call is logged; the unlogged half of the cell is mostly gpt-4o. The
    # cost lines' quantities say what the 22,000 / 2,200 billed tokens were, so the user call is
    # priced at its own list price less 10%: $0.00135 + $0.00054
    out = reconcile(tmp_path, [grouped_usage(())], [grouped_costs(("project_id", "line_item"))], worker=[])
    assert totals(out)["user"] == D("0.00189")
    assert dark(out) == {"__unlogged__": D("0.01008") - D("0.00189")}
    # without quantities, the logged calls' average price has to stand for the unlogged tokens too
    out = reconcile(tmp_path / "no_quantity", [grouped_usage(())],
                    [grouped_costs(("project_id", "line_item"), quantities=False)], worker=[])
    # uncached $0.0072 x 10,000 / 22,000 and output $0.00288 x 1,000 / 2,200, each floored to the picodollar
    assert totals(out)["user"] == D(7_200_000_000 * 10_000 // 22_000 + 2_880_000_000 * 1_000 // 2_200).scaleb(-12)


def test_a_warehouse_published_before_price_tiers_takes_the_new_rows_and_restates_by_tier(tmp_path):
    """A warehouse whose marts predate price_tier and allocation_basis: its rows were one tier,
    'standard'; publishing a day adds the columns and compares rows tier by tier."""
    out = reconcile(tmp_path, [grouped_usage(("project_id", "model"))], [grouped_costs(("project_id", "line_item"))])
    con = sql.connect(tmp_path / "w.duckdb")
    old_mart = out["fct_spend_reconciliation"].drop_columns(["price_tier", "allocation_basis"])
    for mart in ("fct_spend_reconciliation", "fct_dark_compute"):
        path = tmp_path / f"{mart}.parquet"
        pq.write_table(out[mart], path)
        con.execute(f"create table {mart} as select * exclude (price_tier, allocation_basis) "
                    f"from read_parquet('{path}')")  # the old shape, published
        sql.run_script(con, f"publish/{mart}", path=str(path), usage_date=DAY)
    rows = con.execute("select billing_account, price_tier, allocation_basis, invoice_cost_usd "
                       "from fct_spend_reconciliation order by 1").fetchall()
    assert rows == [("proj_a", "__all__", "cost_line", D("0.00378")), ("proj_b", "__all__", "cost_line", D("0.0063"))]
    # the old rows read as 'standard', the new ones '__all__' (usage not grouped by tier): a restatement
    # of each, whose deltas cancel to zero over the day
    # (restatements are computed against the lake's previous mart, here one of the old shape)
    restated = restatement_rows(sql.connect(), old_mart, out["fct_spend_reconciliation"], RECONCILED_AT)
    con.register("restatements", restated)
    deltas = con.execute("select price_tier, sum(invoice_delta_usd) from restatements group by 1 order by 1").fetchall()
    assert deltas == [("__all__", D("0.01008")), ("standard", D("-0.01008"))]
    assert con.execute("select count(*) from fct_dark_compute where price_tier is null").fetchone() == (0,)
