"""The diagnosis of each fct_spend_reconciliation row (issue 13, item 2) and `__unpriced__` (item 1,
"Nothing is priced at zero silently").

The world of 2026-11-02, by hand, in OpenAI's formats (Usage and Costs API pages, flat OTel logs).
The day's price catalog is written by the test, so the list prices are the test's own (per million
tokens): gpt-4o-mini $0.15 input, $0.60 output; gpt-4o $2.00 input (stale: the bill charges $2.50),
$10 output. `acme-llm-7` is a model no catalog knows.

    proj_disc      gpt-4o-mini  1,000,000 in / 100,000 out, all logged
                   list 0.15 + 0.06 = 0.21; billed at a negotiated 20% off: 0.12 + 0.048 = 0.168
                   -> price gap -0.042, ratio 0.8, diagnosis price_gap
    proj_stale     gpt-4o       1,000,000 in / 100,000 out, all logged
                   list (stale) 2.00 + 1.00 = 3.00; billed 2.50 + 1.00 = 3.50
                   -> price gap +0.50, ratio 1.166667 (a premium: the catalog is stale), price_gap
                   + a credit line of -0.40 -> its non-token row: credits -0.40, diagnosis credits
    proj_unlogged  gpt-4o-mini  2,000,000 in / 200,000 out billed at list (0.30 + 0.12 = 0.42);
                   logged 500,000 in / 50,000 out (0.075 + 0.03 = 0.105)
                   -> quantity gap 0.315, price gap 0, ratio 1, diagnosis quantity_gap
                   + a web search line of 0.25 -> its non-token row: non_token 0.25, diagnosis non_token
    proj_new       acme-llm-7   300,000 in / 30,000 out, billed 0.90 + 0.30 = 1.20; logged 100,000 / 10,000
                   -> no list price: catalog 0, price gap 1.20, diagnosis __unpriced__ with its
                      330,000 billed and 110,000 logged tokens
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.defs.reconcile import checks
from pipelines.defs.reconcile.model import reconcile_day
from pipelines.lib import sql
from pipelines.lib.prices import CATALOG_SCHEMA, canonical_model, catalog_table

from .fixtures import DAY, call, cost_page, usage, usage_page, write_day

pytestmark = pytest.mark.slow  # dbt builds: make test-fast leaves it out

D = Decimal
RECONCILED_AT = datetime(2026, 11, 4, 4, 0, tzinfo=timezone.utc)
MINI, FOUR_O, NEW = "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "acme-llm-7"
PRICES = {"gpt-4o-mini": {"uncached_input": "0.15", "cache_read": "0.075", "output": "0.60"},
          "gpt-4o": {"uncached_input": "2.00", "cache_read": "1.25", "output": "10"}}


def result(project: str, model: str, input_tokens: int, output_tokens: int) -> dict:
    return {"input_tokens": input_tokens, "input_cached_tokens": 0, "output_tokens": output_tokens,
            "num_model_requests": 1, "project_id": project, "model": model, "batch": False, "service_tier": "default"}


USAGE = usage_page(DAY, [result("proj_disc", MINI, 1_000_000, 100_000), result("proj_stale", FOUR_O, 1_000_000, 100_000),
                         result("proj_unlogged", MINI, 2_000_000, 200_000), result("proj_new", NEW, 300_000, 30_000)])
LINES = [(f"{MINI}, input", "proj_disc", "0.12"), (f"{MINI}, output", "proj_disc", "0.048"),
         (f"{FOUR_O}, input", "proj_stale", "2.50"), (f"{FOUR_O}, output", "proj_stale", "1.00"),
         ("Credit", "proj_stale", "-0.40"),
         (f"{MINI}, input", "proj_unlogged", "0.30"), (f"{MINI}, output", "proj_unlogged", "0.12"),
         ("web search tool calls", "proj_unlogged", "0.25"),
         (f"{NEW}, input", "proj_new", "0.90"), (f"{NEW}, output", "proj_new", "0.30")]
APP = [call(**usage(1_000_000, 100_000, feature="chat"), gen_ai__request__model="gpt-4o-mini",
            billing__account="proj_disc"),
       call(**usage(1_000_000, 100_000, feature="chat"), gen_ai__request__model="gpt-4o", billing__account="proj_stale"),
       call(**usage(500_000, 50_000, feature="chat"), gen_ai__request__model="gpt-4o-mini",
            billing__account="proj_unlogged"),
       call(**usage(100_000, 10_000, feature="chat"), gen_ai__request__model=NEW, billing__account="proj_new")]

COLS = ["billing_account", "model", "invoice_cost_usd", "catalog_cost_usd", "logged_catalog_cost_usd", "difference_usd",
        "quantity_gap_usd", "price_gap_usd", "non_token_usd", "credits_usd", "effective_price_ratio", "diagnosis"]
EXPECTED = [
    ("proj_disc", MINI, D("0.168"), D("0.21"), D("0.21"), D("-0.042"), D(0), D("-0.042"), D(0), D(0), D("0.8"),
     "price_gap"),
    ("proj_new", NEW, D("1.2"), D(0), D(0), D("1.2"), D(0), D("1.2"), D(0), D(0), None, "__unpriced__"),
    ("proj_stale", "__non_token__", D("-0.4"), D(0), D(0), D("-0.4"), D(0), D(0), D(0), D("-0.4"), None, "credits"),
    ("proj_stale", FOUR_O, D("3.5"), D("3"), D("3"), D("0.5"), D(0), D("0.5"), D(0), D(0), D("1.166667"), "price_gap"),
    ("proj_unlogged", "__non_token__", D("0.25"), D(0), D(0), D("0.25"), D(0), D(0), D("0.25"), D(0), None,
     "non_token"),
    ("proj_unlogged", MINI, D("0.42"), D("0.42"), D("0.105"), D("0.315"), D("0.315"), D(0), D(0), D(0), D("1"),
     "quantity_gap"),
]


def write_catalog(lake, day) -> None:
    """The day's catalog: genai-prices' rows, but gpt-4o-mini's and gpt-4o's text rates are the
    test's (gpt-4o's input rate the stale $2.00)."""
    ours = {canonical_model("openai", m): rates for m, rates in PRICES.items()}
    kept = [r for r in catalog_table(day).to_pylist()
            if not (r["provider"] == "openai" and r["canonical_model"] in ours)]
    mine = [{"provider": "openai", "canonical_model": model, "token_class": token_class, "modality": "text",
             "rate_mtok": D(rate)} for model, rates in ours.items() for token_class, rate in rates.items()]
    lake.write("catalog", "model_prices", day, pa.Table.from_pylist(kept + mine, schema=CATALOG_SCHEMA))


COSTS = [cost_page(DAY, LINES)]


def reconcile(tmp_path, cost_pages: list[str] | None = COSTS):
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[USAGE], cost_pages=cost_pages, app_lines=APP)
    write_catalog(lake, DAY)
    return lake, reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)


def rows(out, columns=COLS) -> list[tuple]:
    found = sorted(out["fct_spend_diagnosis"].to_pylist(), key=lambda r: (r["billing_account"], r["model"]))
    for r in found:  # the parts sum to the difference, to the picodollar
        assert r["difference_usd"] == r["invoice_cost_usd"] - r["logged_catalog_cost_usd"], r
        assert r["difference_usd"] == (r["quantity_gap_usd"] + r["price_gap_usd"] + r["non_token_usd"]
                                       + r["credits_usd"]), r
    return [tuple(r[c] for c in columns) for r in found]


def test_each_planted_cause_is_named_in_its_cell_and_the_parts_are_exact(tmp_path):
    _, out = reconcile(tmp_path)
    assert rows(out) == EXPECTED
    recon = {(r["billing_account"], r["model"], r["price_tier"]) for r in out["fct_spend_reconciliation"].to_pylist()}
    diagnosis = out["fct_spend_diagnosis"]
    assert {(r["billing_account"], r["model"], r["price_tier"]) for r in diagnosis.to_pylist()} == recon
    assert diagnosis.num_rows == len(recon) == 6
    assert all(isinstance(r[c], Decimal) for r in diagnosis.to_pylist() for c in COLS[2:10])
    assert sum(r["difference_usd"] for r in diagnosis.to_pylist()) == D("1.823")  # -0.042 + 1.2 - 0.4 + 0.5 + 0.25 + 0.315


def test_a_model_missing_from_the_catalog_is_unpriced_with_its_tokens_never_zero(tmp_path):
    _, out = reconcile(tmp_path)
    [new] = [r for r in out["fct_spend_diagnosis"].to_pylist() if r["model"] == NEW]
    assert (new["diagnosis"], new["billed_tokens"], new["logged_tokens"], new["unpriced_billed_tokens"],
            new["unpriced_logged_tokens"]) == ("__unpriced__", 330_000, 110_000, 330_000, 110_000)
    priced = [r for r in out["fct_spend_diagnosis"].to_pylist() if r["model"] != NEW]
    assert {(r["unpriced_billed_tokens"], r["unpriced_logged_tokens"]) for r in priced} == {(0, 0)}


def test_before_the_cost_export_arrives_the_unpriced_model_is_still_listed(tmp_path):
    """No cost export: every cell is priced from the catalog ('provisional'), so acme-llm-7's
    invoice is $0 in fct_spend_reconciliation; the diagnosis lists it as __unpriced__ with its
    tokens instead of letting $0 pass as a price."""
    _, out = reconcile(tmp_path, cost_pages=None)
    found = {r["model"]: r for r in out["fct_spend_diagnosis"].to_pylist() if r["billing_account"] in (
        "proj_new", "proj_disc")}
    assert (found[NEW]["invoice_cost_usd"], found[NEW]["diagnosis"], found[NEW]["unpriced_billed_tokens"],
            found[NEW]["status"]) == (D(0), "__unpriced__", 330_000, "provisional")
    # the discount is invisible until the invoice arrives: list price, ratio 1, nothing to explain
    assert (found[MINI]["price_gap_usd"], found[MINI]["effective_price_ratio"], found[MINI]["diagnosis"]) == (
        D(0), D(1), "exact")


def test_price_gap_check_warns_above_the_configured_share(tmp_path):
    _, out = reconcile(tmp_path)
    path = tmp_path / "fct_spend_diagnosis.parquet"
    pq.write_table(out["fct_spend_diagnosis"], path)
    con = duckdb.connect()
    # shares of each token row's invoice: proj_disc 0.042 / 0.168 = 25%, proj_stale 0.5 / 3.5 =
    # 14.29%, proj_new 1.2 / 1.2 = 100%, proj_unlogged 0
    outcome = checks.price_gap(con, path, D("0.05"))
    assert not outcome.passed
    assert outcome.metadata["cells_over_share"] == 3
    assert outcome.metadata["worst_price_gap_usd"] == "1.200000000000"
    assert checks.price_gap(con, path, D("0.2")).metadata["cells_over_share"] == 2
    assert checks.price_gap(con, path, D("1")).passed


def test_the_parts_sum_to_the_difference_on_every_row_of_a_simulated_world(tmp_path):
    """Three providers, tiers, two days, simulated and reconciled by the real CLI: on every row of
    every day the four parts sum to the difference exactly, and every reconciliation row has one
    diagnosis row with the same invoice."""
    from tests.golden.worlds import AS_OF, _env, _run

    env = _env(tmp_path)
    _run(["simulate", "--out", str(tmp_path / "world"), "--start", "2026-11-01", "--days", "2", "--calls-per-day",
          "300", "--seed", "7", "--providers", "openai,anthropic,aws.bedrock", "--tiers"], env)
    _run(["reconcile", "--date", "2026-11-01", "--to", "2026-11-02", "--source", str(tmp_path / "world" / "sources"),
          "--lake", str(tmp_path / "lake"), "--warehouse", str(tmp_path / "warehouse.duckdb"), "--as-of", AS_OF,
          "--quiet"], env)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    (rows_, broken, unmatched, providers, diagnoses) = con.execute("""
        select
            count(*),
            count(*) filter (where difference_usd <> quantity_gap_usd + price_gap_usd + non_token_usd + credits_usd
                             or difference_usd <> invoice_cost_usd - logged_catalog_cost_usd),
            (select count(*) from fct_spend_reconciliation r full join fct_spend_diagnosis d
                 using (usage_date, provider, billing_account, model, price_tier)
             where r.invoice_cost_usd is distinct from d.invoice_cost_usd),
            count(distinct provider),
            list(distinct diagnosis order by diagnosis)
        from fct_spend_diagnosis""").fetchone()
    recon_rows = con.execute("select count(*) from fct_spend_reconciliation").fetchone()[0]
    con.close()
    assert (broken, unmatched, providers) == (0, 0, 3)
    assert rows_ == recon_rows == 45
    assert "quantity_gap" in diagnoses and set(diagnoses) <= {"exact", "quantity_gap", "price_gap", "non_token",
                                                             "credits", "__unpriced__"}
