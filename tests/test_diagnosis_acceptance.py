"""Issue 13's acceptance: a simulated world with every cause of a gap between the bill and the
catalog planted, reconciled by the real CLI; the diagnosis must name each cause in the right cell
with the dollars the planted truth implies, and the FOCUS export of that world must hold the bill.

The world (2 days x 1,500 calls, all three providers, seed 7):

- Bedrock is billed at a negotiated 80% of list (`negotiated_discount`: the one AWS account every
  principal bills to). Without a price override every Bedrock token cell shows a price gap of
  -25% of its invoice (ratio 0.8); with the 80% rates in an overrides file the gap is gone;
- OpenAI bills gpt-4o-mini's input at $0.25 per million tokens while the catalog says $0.15
  (`stale_price`): a price gap of $0.10 per million billed input tokens on its cells;
- OpenAI's llm_judge_evaluation jobs go through the Batch API, proactive_suggestions on flex
  (`tiers`): billed at half the list price, which the catalog's tier rule prices, so no price gap;
- on 2026-11-02 Anthropic doc_qa requests on Sonnet send prompts over 200k tokens
  (`long_context_day`): a `standard+long_context` cell billed at 2x input / 1.5x output, no price gap;
- Anthropic web searches ($10 per 1,000) land on the app workspace's non-token row;
- OpenAI credits proj_jobs $2.50 on 2026-11-02 (`credit`);
- every first attempt with usage goes through a LiteLLM proxy that logs 0.7 x list
  (`litellm_share=1`, `litellm_cost_factor=0.7`): 30% under the bill;
- proj_jobs' ingest_summarization jobs run on `acme-llm-7`, a model no catalog lists
  (`unpriced_model`): `__unpriced__` with its tokens, billed dollars kept, never $0.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from pipelines.lib import dbt as dbt_run
from pipelines.lib.lake import Lake
from pipelines.lib.prices import catalog_rates
from pipelines.simulate import simulate
from pipelines.simulate.anthropic import WEB_SEARCH_CENTS
from pipelines.simulate.plants_pricing import PRIVATE_RATES
from pipelines.simulate.providers import ANTHROPIC, BEDROCK, OPENAI, SONNET, WORKSPACE_APP
from tests.golden.worlds import AS_OF, _env, _run

pytestmark = pytest.mark.slow  # a simulated world reconciled by the CLI

D = Decimal
DAYS = (date(2026, 11, 1), date(2026, 11, 2))
LONG_DAY = CREDIT_DAY = DAYS[1]
DISCOUNT = D("0.8")
STALE_MODEL, STALE_RATE = "gpt-4o-mini-2024-07-18", D("0.25")
CREDIT = D("-2.50")
UNPRICED = "acme-llm-7"
GATEWAY_FACTOR = D("0.7")
MTOK = D(1_000_000)
# OpenAI Costs API line item suffix / Anthropic token_type -> token class
OPENAI_CLASS = {"input": "uncached_input", "cached input": "cache_read", "output": "output"}
ANTHROPIC_CLASS = {"uncached_input_tokens": "uncached_input", "cache_read_input_tokens": "cache_read",
                   "cache_creation.ephemeral_5m_input_tokens": "cache_write_5m",
                   "cache_creation.ephemeral_1h_input_tokens": "cache_write_1h", "output_tokens": "output"}
CUR_CLASS = {"InputTokenCount": "uncached_input", "CacheReadInputTokenCount": "cache_read",
             "CacheWriteInputTokenCount": "cache_write_5m", "OutputTokenCount": "output"}
LONG_FACTOR = {"output": D("1.5")}  # input classes: 2
# FOCUS 1.3 columns that must never be null in this export
REQUIRED = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency", "ChargeCategory",
            "ChargeDescription", "ChargeFrequency", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart",
            "BillingPeriodEnd", "ServiceName", "ServiceCategory", "ServiceProviderName", "InvoiceIssuerName",
            "SubAccountId", "x_LineId")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("acceptance")
    simulate(work / "world", DAYS[0], len(DAYS), 1500, seed=7, tiers=True, otlp_share=0.0, litellm_share=1.0,
             litellm_cost_factor=GATEWAY_FACTOR, negotiated_discount=(BEDROCK, DISCOUNT),
             stale_price=(OPENAI, STALE_MODEL, "uncached_input", STALE_RATE), long_context_day=LONG_DAY,
             credit=(CREDIT_DAY, "proj_jobs", CREDIT), unpriced_model=UNPRICED)
    _run(["reconcile", "--date", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(), "--source",
          str(work / "world" / "sources"), "--lake", str(work / "lake"), "--warehouse", str(work / "warehouse.duckdb"),
          "--as-of", AS_OF, "--quiet"], _env(work))
    return work


def rows(world: Path, sql: str) -> list[dict]:
    con = duckdb.connect(str(world / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql(sql).to_arrow_table().to_pylist()
    finally:
        con.close()


def diagnosis(world: Path) -> list[dict]:
    return rows(world, "select * from fct_spend_diagnosis order by all")


def cell(r: dict) -> tuple:
    return (r["usage_date"], r["provider"], r["billing_account"], r["model"], r["price_tier"])


# ------------------------------------------------------------------ the planted truth, from the files

def openai_lines(world: Path) -> list[dict]:
    """Every OpenAI cost line: day, project, line item, amount, quantity; model/tier/class parsed."""
    out = []
    for day in DAYS:
        page = json.loads((world / "world/sources/openai/costs" / day.isoformat() / "page-001.json").read_text(),
                          parse_float=D)
        for r in page["data"][0]["results"]:
            tier, _, rest = r["line_item"].rpartition(" | ")
            model, _, suffix = rest.rpartition(", ")
            # the embeddings usage names no tier (its cells are '__all__')
            tier = "__all__" if model.startswith("text-embedding") else tier or "standard"
            out.append({"day": day, "account": r["project_id"], "amount": D(str(r["amount"]["value"])),
                        "quantity": r["quantity"], "model": model or None, "tier": tier,
                        "token_class": OPENAI_CLASS.get(suffix), "line_item": r["line_item"]})
    return out


def anthropic_usage(world: Path, day: date) -> list[dict]:
    return [r for page in sorted((world / "world/sources/anthropic/usage_report" / day.isoformat()).glob("*.json"))
            for bucket in json.loads(page.read_text())["data"] for r in bucket["results"]]


def anthropic_lines(world: Path) -> list[dict]:
    out = []
    for day in DAYS:
        page = json.loads((world / "world/sources/anthropic/cost_report" / day.isoformat() / "page-001.json").read_text())
        for r in page["data"][0]["results"]:
            tier = "standard+long_context" if r["context_window"] == "200k-1M" else "standard"
            out.append({"day": day, "account": r["workspace_id"] or "default", "amount": D(r["amount"]).scaleb(-2),
                        "model": r["model"], "tier": tier, "token_class": ANTHROPIC_CLASS.get(r["token_type"])})
    return out


def cur_lines(world: Path) -> list[dict]:
    """The CUR's Bedrock token lines summed per day, principal, model and token class."""
    table = pq.read_table(next((world / "world/sources/cur").rglob("*.parquet"))).to_pylist()
    out: dict[tuple, D] = defaultdict(D)
    for r in table:
        if r["line_item_line_item_type"] == "Usage":
            kind = r["line_item_usage_type"].split("_", 1)[1].removesuffix("-Units")
            key = (r["line_item_usage_start_date"].date(), r["line_item_iam_principal"],
                   r["line_item_resource_id"].rsplit("/", 1)[1], CUR_CLASS[kind])
            out[key] += D(repr(r["line_item_unblended_cost"]))
    return [{"day": k[0], "account": k[1], "model": k[2], "tier": "standard", "token_class": k[3], "amount": v}
            for k, v in out.items()]


def invoice_truth(world: Path) -> dict[tuple, D]:
    truth = json.loads((world / "world/ground_truth.json").read_text())["days"]
    return {(date.fromisoformat(d), p): D(t["invoice_usd"]) for d, providers in truth.items()
            for p, t in providers.items()}


# ------------------------------------------------------------------------------------ the diagnosis

def test_every_row_splits_the_difference_exactly(world):
    diag = diagnosis(world)
    recon = rows(world, "select * from fct_spend_reconciliation")
    assert sorted(map(cell, diag)) == sorted(map(cell, recon))
    assert len(diag) == 54
    for r in diag:
        assert r["difference_usd"] == r["invoice_cost_usd"] - r["logged_catalog_cost_usd"], cell(r)
        assert r["quantity_gap_usd"] + r["price_gap_usd"] + r["non_token_usd"] + r["credits_usd"] \
            == r["difference_usd"], cell(r)
    # the invoice the diagnosis explains is the world's, to the picodollar
    invoice = defaultdict(D)
    for r in diag:
        invoice[(r["usage_date"], r["provider"])] += r["invoice_cost_usd"]
    assert dict(invoice) == invoice_truth(world)


def test_a_negotiated_discount_is_a_price_gap_until_it_is_an_override(world, tmp_path):
    billed = defaultdict(D)
    for line in cur_lines(world):
        billed[(line["day"], line["account"], line["model"])] += line["amount"]
    bedrock = [r for r in diagnosis(world) if r["provider"] == BEDROCK and r["model"] != "__non_token__"]
    assert len(bedrock) == 10 and {(r["usage_date"], r["billing_account"], r["model"]) for r in bedrock} == set(billed)
    for r in bedrock:
        invoice = billed[(r["usage_date"], r["billing_account"], r["model"])]
        assert r["invoice_cost_usd"] == invoice
        # the bill is 80% of list: list = invoice / 0.8, the gap -20% of list
        assert r["catalog_cost_usd"] == invoice / DISCOUNT
        assert r["price_gap_usd"] == invoice - invoice / DISCOUNT
        assert r["effective_price_ratio"] == DISCOUNT
    # the logged principals' cells are named for it; the batch principal, which logs nothing, for its
    # unlogged usage (the larger part there)
    assert {r["diagnosis"] for r in bedrock if "batch-role" not in r["billing_account"]} == {"price_gap"}
    assert {r["diagnosis"] for r in bedrock if "batch-role" in r["billing_account"]} <= {"quantity_gap", "price_gap"}

    # what a user does: the contract's rates (80% of the catalog's) in an overrides file; the gap is gone
    overrides = tmp_path / "overrides.csv"
    lines = ["provider,model,token_class,modality,rate_mtok,valid_from,valid_to,note"]
    for model in sorted({r["model"] for r in bedrock}):
        rates = catalog_rates(BEDROCK, model, DAYS[0])
        lines += [f"{BEDROCK},{model},{c},text,{getattr(rates, c) * DISCOUNT},{DAYS[0]},,AWS private pricing 20% off"
                  for c in sorted(set(CUR_CLASS.values()))]
    overrides.write_text("\n".join(lines) + "\n")
    built = dbt_run.build(Lake(world / "lake"), DAYS[0], datetime.fromisoformat(AS_OF), price_overrides=overrides)
    assert built.success, built.failures
    after = [r for r in built.marts["fct_spend_diagnosis"].to_pylist()
             if r["provider"] == BEDROCK and r["model"] != "__non_token__"]
    assert len(after) == 5
    for r in after:
        assert r["price_gap_usd"] == 0 and r["effective_price_ratio"] == 1, cell(r)
        assert r["catalog_cost_usd"] == r["invoice_cost_usd"] == billed[(r["usage_date"], r["billing_account"],
                                                                         r["model"])]
        assert r["diagnosis"] in ("exact", "quantity_gap")


def test_a_stale_catalog_price_is_a_price_gap_on_its_model(world):
    gap = defaultdict(D)
    for line in openai_lines(world):
        if line["model"] == STALE_MODEL and line["token_class"] == "uncached_input":
            catalog = catalog_rates(OPENAI, STALE_MODEL, line["day"]).uncached_input
            gap[(line["day"], line["account"])] += line["quantity"] * (STALE_RATE - catalog) / MTOK
    stale = {(r["usage_date"], r["billing_account"]): r for r in diagnosis(world)
             if r["provider"] == OPENAI and r["model"] == STALE_MODEL}
    assert set(stale) == set(gap) and len(gap) == 6
    for key, r in stale.items():
        assert r["price_gap_usd"] == gap[key] > 0, key
        assert r["effective_price_ratio"] > 1  # a premium over the catalog: it is stale
    # named on the logged projects; the digest project logs nothing: its unlogged usage is larger
    assert {k[1]: r["diagnosis"] for k, r in stale.items() if k[0] == DAYS[0]} == {
        "proj_app": "price_gap", "proj_jobs": "price_gap", "proj_digest": "quantity_gap"}
    # no other OpenAI cell has a price gap but the model no catalog lists
    assert {r["model"] for r in diagnosis(world) if r["provider"] == OPENAI and r["price_gap_usd"] != 0} == {
        STALE_MODEL, UNPRICED}


def test_batch_and_flex_at_half_price_are_no_price_gap(world):
    half = defaultdict(D)
    for line in openai_lines(world):
        if line["tier"] in ("batch", "flex"):
            rate = getattr(catalog_rates(OPENAI, line["model"], line["day"]), line["token_class"])
            assert line["amount"] == line["quantity"] * rate / MTOK / 2  # the bill: half the list price
            half[(line["day"], line["account"], line["model"], line["tier"])] += line["amount"]
    tiered = {(r["usage_date"], r["billing_account"], r["model"], r["price_tier"]): r for r in diagnosis(world)
              if r["price_tier"] in ("batch", "flex")}
    assert set(tiered) == set(half) and len(half) == 6
    for key, r in tiered.items():
        assert r["invoice_cost_usd"] == r["catalog_cost_usd"] == half[key]
        assert r["price_gap_usd"] == 0 and r["effective_price_ratio"] == 1
        assert r["diagnosis"] in ("exact", "quantity_gap")


def test_a_long_context_day_is_priced_at_the_long_context_rate(world):
    expected, requests = D(0), 0
    for r in anthropic_usage(world, LONG_DAY):
        if r["context_window"] != "200k-1M":
            continue
        assert (r["model"], r["workspace_id"]) == (SONNET[0], WORKSPACE_APP)
        rates = catalog_rates(ANTHROPIC, r["model"], LONG_DAY)
        tokens = {"uncached_input": r["uncached_input_tokens"], "cache_read": r["cache_read_input_tokens"],
                  "cache_write_5m": r["cache_creation"]["ephemeral_5m_input_tokens"],
                  "cache_write_1h": r["cache_creation"]["ephemeral_1h_input_tokens"], "output": r["output_tokens"]}
        expected += sum((n * getattr(rates, c) * LONG_FACTOR.get(c, D(2)) / MTOK for c, n in tokens.items()), D(0))
        requests += 1
    assert requests > 0
    long = [r for r in diagnosis(world) if r["price_tier"] == "standard+long_context"]
    assert [(r["usage_date"], r["billing_account"], r["model"]) for r in long] == [(LONG_DAY, WORKSPACE_APP, SONNET[0])]
    assert long[0]["invoice_cost_usd"] == long[0]["catalog_cost_usd"] == expected
    assert long[0]["price_gap_usd"] == 0 and long[0]["effective_price_ratio"] == 1
    assert long[0]["diagnosis"] in ("exact", "quantity_gap")
    assert long[0]["billed_tokens"] > 200_000 * 40  # the whole requests, not the tokens past 200k
    assert not [r for r in diagnosis(world) if r["price_tier"] == "standard+long_context" and r["usage_date"] != LONG_DAY]


def test_web_searches_and_a_credit_are_non_token_and_credits(world):
    diag = {cell(r): r for r in diagnosis(world)}
    for day in DAYS:
        searches = sum(r["server_tool_use"]["web_search_requests"] for r in anthropic_usage(world, day)
                       if r["workspace_id"] == WORKSPACE_APP)
        row = diag[(day, ANTHROPIC, WORKSPACE_APP, "__non_token__", "__all__")]
        assert searches > 0 and row["non_token_usd"] == (WEB_SEARCH_CENTS * searches).scaleb(-2)
        assert (row["credits_usd"], row["price_gap_usd"], row["quantity_gap_usd"], row["diagnosis"]) == (
            0, 0, 0, "non_token")
    credit = diag[(CREDIT_DAY, OPENAI, "proj_jobs", "__non_token__", "__all__")]
    assert (credit["invoice_cost_usd"], credit["credits_usd"], credit["non_token_usd"], credit["diagnosis"]) == (
        CREDIT, CREDIT, 0, "credits")
    assert (DAYS[0], OPENAI, "proj_jobs", "__non_token__", "__all__") not in diag


def test_a_model_missing_from_the_catalog_is_unpriced_with_its_tokens(world):
    usage = defaultdict(int)
    for day in DAYS:
        for page in sorted((world / "world/sources/openai/usage/completions" / day.isoformat()).glob("*.json")):
            for bucket in json.loads(page.read_text())["data"]:
                for r in bucket["results"]:
                    if r["model"] == UNPRICED:
                        usage[day] += r["input_tokens"] + r["output_tokens"]
    billed = defaultdict(D)
    for line in openai_lines(world):
        if line["model"] == UNPRICED:
            assert line["amount"] == line["quantity"] * PRIVATE_RATES[line["token_class"]] / MTOK
            billed[line["day"]] += line["amount"]
    unpriced = {r["usage_date"]: r for r in diagnosis(world) if r["model"] == UNPRICED}
    assert set(unpriced) == set(DAYS)
    for day, r in unpriced.items():
        assert r["diagnosis"] == "__unpriced__"
        assert r["unpriced_billed_tokens"] == r["billed_tokens"] == usage[day] > 0
        assert 0 < r["unpriced_logged_tokens"] <= r["unpriced_billed_tokens"]
        assert r["invoice_cost_usd"] == billed[day] > 0  # the bill's dollars, never a silent $0
        assert r["catalog_cost_usd"] == 0 and r["effective_price_ratio"] is None
    assert {r["model"] for r in diagnosis(world) if r["diagnosis"] == "__unpriced__"} == {UNPRICED}


def test_the_gateway_estimate_is_30_percent_under_the_bill(world):
    gateway = rows(world, "select * from fct_gateway_estimate order by all")
    planted = {STALE_MODEL, UNPRICED}
    plain = [r for r in gateway if r["provider"] != BEDROCK and r["model"] not in planted
             and r["price_tier"] != "standard+long_context"]
    assert len(plain) == 17
    for r in plain:  # every call it saw, priced at 0.7 x the list price the bill charges
        assert r["gateway_price_ratio"] == GATEWAY_FACTOR, cell(r)
        assert r["price_gap_usd"] == r["seen_invoice_cost_usd"] - r["gateway_cost_usd"]
        assert r["gateway_cost_usd"] == r["seen_invoice_cost_usd"] * GATEWAY_FACTOR
    # on Bedrock the bill itself is 80% of list: the gateway is 0.7 / 0.8 of it (the app principal's
    # cells, whose gateway-logged calls are every call of their spender groups)
    app = [r for r in gateway if r["provider"] == BEDROCK and "app-role" in r["billing_account"]]
    assert len(app) == 4 and {r["gateway_price_ratio"] for r in app} == {GATEWAY_FACTOR / DISCOUNT}
    # the model it cannot price it logs at $0
    assert {(r["gateway_cost_usd"], r["gateway_price_ratio"]) for r in gateway if r["model"] == UNPRICED} == {(0, 0)}
    for r in gateway:
        assert r["quantity_gap_usd"] + r["price_gap_usd"] == r["invoice_cost_usd"] - r["gateway_cost_usd"]


# ------------------------------------------------------------------------------------ the FOCUS export

def source_lines(world: Path) -> dict[tuple, D]:
    """Every token line of the three exports, summed per FOCUS line (day, provider, account,
    model, tier, class)."""
    out: dict[tuple, D] = defaultdict(D)
    for provider, lines in ((OPENAI, openai_lines(world)), (ANTHROPIC, anthropic_lines(world)),
                            (BEDROCK, cur_lines(world))):
        for line in lines:
            if line["token_class"] is not None:
                out[(line["day"], provider, line["account"], line["model"], line["tier"], line["token_class"])] += \
                    line["amount"]
    return dict(out)


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_the_focus_export_holds_the_bill(world, tmp_path, suffix):
    out = tmp_path / f"focus.{suffix}"
    assert main(["export", "focus", "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(), "--out", str(out),
                 "--warehouse", str(world / "warehouse.duckdb")]) == 0
    if suffix == "parquet":
        focus = pq.read_table(out).to_pylist()
    else:
        with out.open(newline="") as handle:
            focus = [{k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(handle)]
        for r in focus:
            for k in ("BilledCost", "ConsumedQuantity"):
                r[k] = None if r[k] is None else D(r[k])
            r["x_UsageDate"] = date.fromisoformat(r["x_UsageDate"])
    assert len(focus) > 300
    for column in REQUIRED:
        assert all(r[column] is not None for r in focus), column
    # BilledCost per provider and day is the invoice; in all, the invoice total
    billed = defaultdict(D)
    for r in focus:
        billed[(r["x_UsageDate"], r["x_Provider"])] += r["BilledCost"]
    truth = invoice_truth(world)
    assert dict(billed) == truth
    assert sum(r["BilledCost"] for r in focus) == sum(truth.values())
    # a quantity only on usage
    assert all(r["ConsumedQuantity"] is None for r in focus if r["ChargeCategory"] != "Usage")
    assert {r["ChargeCategory"] for r in focus} == {"Usage", "Tax", "Credit"}
    assert all(r["ConsumedQuantity"] is not None for r in focus if r["x_TokenClass"] is not None)
    # the allocated rows of each line sum to it: every token line the exports bill (Anthropic's
    # Priority Tier, which no cost export lists, aside)
    lines = defaultdict(D)
    for r in focus:
        if r["x_TokenClass"] is not None:
            lines[r["x_LineId"]] += r["BilledCost"]
    exported = {f"{d}|{p}|{a}|{m}|{t}|{c}": v for (d, p, a, m, t, c), v in source_lines(world).items()}
    assert {k: v for k, v in lines.items() if "|priority|" not in k} == exported
    assert len(exported) > 100
