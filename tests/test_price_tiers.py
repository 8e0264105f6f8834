"""Money-changing dimensions are cells: Anthropic batch, long context, both cache-write classes and
web search, and OpenAI flex, reconciled to the cent on hand-computed reports.

Anthropic, 2026-11-02, workspace wrkspc_app, claude-sonnet-4-5 (list per million tokens: input $3,
cache read $0.30, 5-minute write $3.75, 1-hour write $6, output $15; batch half; 200k-1M context
input $6, output $22.50). The usage report (grouped by workspace, model, service tier, context
window) and the cost report (by workspace and description, amounts in cents, at list):

    standard 0-200k    100,000 in  $0.30 | 200,000 read $0.06 | 40,000 5m $0.15 | 10,000 1h $0.06 | 20,000 out $0.30
    batch 0-200k       200,000 in  $0.30 | 50,000 out $0.375
    standard 200k-1M 1,000,000 in  $6.00 | 10,000 out $0.225
    web search (3 requests) $0.03                                             invoice $7.80

Logs: a user call (50,000 uncached, 100,000 read, 25,000 written, 10,000 out: the write split 4:1
as billed, 20,000 5m and 5,000 1h) = $0.15 + $0.03 + $0.075 + $0.03 + $0.15 = $0.435; a `batch_eval`
job sent with batch = true (200,000 in, 50,000 out: all of the batch tier) = $0.675; a `long_doc`
job of 1,000,000 input tokens (over 200k: long context) and 5,000 out = $6.00 + $0.1125. Unlogged:
$0.435 of the standard tier and $0.1125 of long context.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipelines.defs.anthropic.parse import parse_cost_pages, parse_usage_pages
from pipelines.defs.reconcile.model import reconcile_day
from pipelines.lib import sql
from pipelines.lib.store import SourceFile

from .fixtures import DAY, build_day, call, unix, usage, usage_page, write_day

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

D = Decimal
RECONCILED_AT = datetime(2026, 11, 4, 4, 0, tzinfo=timezone.utc)
SONNET = "claude-sonnet-4-5-20250929"
START, END = "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"


def used(tier: str, window: str, uncached: int, output: int, read: int = 0, write_5m: int = 0, write_1h: int = 0,
         searches: int = 0) -> dict:
    return {"uncached_input_tokens": uncached, "cache_read_input_tokens": read,
            "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h},
            "output_tokens": output, "server_tool_use": {"web_search_requests": searches},
            "workspace_id": "wrkspc_app", "api_key_id": None, "account_id": None, "service_account_id": None,
            "model": SONNET, "service_tier": tier, "context_window": window, "inference_geo": None}


def charged(cents: str, tier: str, window: str, token_type: str, label: str) -> dict:
    return {"amount": cents, "currency": "USD", "workspace_id": "wrkspc_app",
            "description": f"Claude Sonnet 4.5 Usage - {label}", "cost_type": "tokens", "model": SONNET,
            "token_type": token_type, "service_tier": tier, "context_window": window, "inference_geo": None}


USAGE = [
    used("standard", "0-200k", 100_000, 20_000, read=200_000, write_5m=40_000, write_1h=10_000, searches=3),
    used("batch", "0-200k", 200_000, 50_000),
    used("standard", "200k-1M", 1_000_000, 10_000),
]
COSTS = [
    charged("30", "standard", "0-200k", "uncached_input_tokens", "Input Tokens"),
    charged("6", "standard", "0-200k", "cache_read_input_tokens", "Cache Read"),
    charged("15", "standard", "0-200k", "cache_creation.ephemeral_5m_input_tokens", "5m Cache Write"),
    charged("6", "standard", "0-200k", "cache_creation.ephemeral_1h_input_tokens", "1h Cache Write"),
    charged("30", "standard", "0-200k", "output_tokens", "Output Tokens"),
    charged("30", "batch", "0-200k", "uncached_input_tokens", "Input Tokens (Batch)"),
    charged("37.5", "batch", "0-200k", "output_tokens", "Output Tokens (Batch)"),
    charged("600", "standard", "200k-1M", "uncached_input_tokens", "Long Context Input Tokens"),
    charged("22.5", "standard", "200k-1M", "output_tokens", "Long Context Output Tokens"),
    {"amount": "3", "currency": "USD", "workspace_id": "wrkspc_app", "description": "Web Search Usage",
     "cost_type": "web_search", "model": None, "token_type": None, "service_tier": None, "context_window": None,
     "inference_geo": None},
]


def anthropic_call(input_tokens: int, output_tokens: int, **fields) -> str:
    return call(**usage(input_tokens, output_tokens, **fields), gen_ai__provider__name="anthropic",
                gen_ai__request__model="claude-sonnet-4-5", billing__account="wrkspc_app")


APP = [anthropic_call(175_000, 10_000, cache_read=100_000, gen_ai__usage__cache_creation__input_tokens=25_000,
                      service_tier="standard", feature="chat")]
WORKER = [anthropic_call(200_000, 50_000, batch=True, job_type="batch_eval"),
          anthropic_call(1_000_000, 5_000, job_type="long_doc")]


def anthropic_day(tmp_path, usage_results=USAGE, cost_results=COSTS, keep=()):
    """The marts of the day, and the `keep` models' tables."""
    lake = write_day(tmp_path / "lake", DAY, app_lines=APP, worker_lines=WORKER)
    folder = DAY.isoformat()
    pages = {
        "anthropic_usage": parse_usage_pages([SourceFile(f"anthropic/usage_report/{folder}/p.json", json.dumps(
            {"data": [{"starting_at": START, "ending_at": END, "results": usage_results}], "has_more": False,
             "next_page": None}).encode())], folder_date=DAY),
        "anthropic_costs": parse_cost_pages([SourceFile(f"anthropic/cost_report/{folder}/p.json", json.dumps(
            {"data": [{"starting_at": START, "ending_at": END, "results": cost_results}], "has_more": False,
             "next_page": None}).encode())], folder_date=DAY),
    }
    for table, ingested in pages.items():
        assert ingested.rejects.num_rows == 0
        lake.write("bronze", table, DAY, ingested.records)
        lake.write("bronze", f"{table}_files", DAY, ingested.files)
        lake.write("bronze", f"{table}_rejects", DAY, ingested.rejects)
    result = build_day(lake, DAY, RECONCILED_AT, keep)
    return {**result.marts, **result.kept}


def test_batch_long_context_cache_writes_and_web_search_are_priced_in_their_own_cells(tmp_path):
    out = anthropic_day(tmp_path, keep=("stg_anthropic_usage",))
    con = sql.connect()
    con.from_arrow(out["stg_anthropic_usage"]).create_view("stg_anthropic_usage")
    # staging keeps every dimension that changes the price, and the web searches the cell made
    assert con.execute("select price_tier, uncached_input, cache_write_5m, cache_write_1h, web_search_requests "
                       "from stg_anthropic_usage order by all").fetchall() == [
        ("batch", 200_000, 0, 0, 0), ("standard", 100_000, 40_000, 10_000, 3), ("standard+long_context", 1_000_000, 0, 0, 0)]
    recon = {(r["model"], r["price_tier"]): r for r in out["fct_spend_reconciliation"].to_pylist()
             if r["provider"] == "anthropic"}
    cols = ("invoice_cost_usd", "user_cost_usd", "background_cost_usd", "unlogged_cost_usd", "non_token_cost_usd")
    assert {k: tuple(r[c] for c in cols) for k, r in recon.items()} == {
        (SONNET, "standard"): (D("0.87"), D("0.435"), 0, D("0.435"), 0),
        (SONNET, "batch"): (D("0.675"), 0, D("0.675"), 0, 0),
        (SONNET, "standard+long_context"): (D("6.225"), 0, D("6.1125"), D("0.1125"), 0),
        ("__non_token__", "__all__"): (D("0.03"), 0, 0, 0, D("0.03")),
    }
    assert sum(r["invoice_cost_usd"] for r in recon.values()) == D("7.80")
    assert {r["allocation_basis"] for r in recon.values()} == {"cost_line"}
    dark = {(r["price_tier"], r["job_type"]): r["cost_usd"] for r in out["fct_dark_compute"].to_pylist()}
    assert dark == {("batch", "batch_eval"): D("0.675"), ("standard+long_context", "long_doc"): D("6.1125"),
                    ("standard", "__unlogged__"): D("0.435"), ("standard+long_context", "__unlogged__"): D("0.1125")}
    # the user call's cache writes were shared 4:1 over the billed 5-minute and 1-hour classes
    assert recon[(SONNET, "standard")]["catalog_cost_usd"] == D("0.87")


def test_a_cost_report_without_description_is_shared_by_tier_weighted_list_prices(tmp_path):
    # one workspace total, $7.77 of tokens: catalog weights are the list prices above (batch at half,
    # long context at double input and 1.5x output), so each tier gets exactly its list cost
    total = {"amount": "777", "currency": "USD", "workspace_id": "wrkspc_app", "description": None,
             "cost_type": None, "model": None, "token_type": None, "service_tier": None, "context_window": None,
             "inference_geo": None}
    out = anthropic_day(tmp_path, cost_results=[total])
    recon = {r["price_tier"]: r for r in out["fct_spend_reconciliation"].to_pylist()}
    assert {t: r["invoice_cost_usd"] for t, r in recon.items()} == {
        "standard": D("0.87"), "batch": D("0.675"), "standard+long_context": D("6.225")}
    assert {r["allocation_basis"] for r in recon.values()} == {"catalog_weights"}
    assert sum(r["background_cost_usd"] for r in recon.values()) == D("0.675") + D("6.1125")


# OpenAI flex: proj_a's gpt-4o-mini, 4,000 input and 400 output tokens on the flex tier, invoiced at
# half of list ("flex | " line items: $0.0003 and $0.00012), all of it logged by a `nightly` job
# that sent service_tier = "flex"; 20,000 / 2,000 standard tokens ($0.003 / $0.0012), half logged.
MINI = "gpt-4o-mini-2024-07-18"
OPENAI_USAGE = usage_page(DAY, [
    {"input_tokens": 20_000, "output_tokens": 2_000, "num_model_requests": 4, "project_id": "proj_a", "model": MINI,
     "batch": False, "service_tier": "default"},
    {"input_tokens": 4_000, "output_tokens": 400, "num_model_requests": 1, "project_id": "proj_a", "model": MINI,
     "batch": False, "service_tier": "flex"},
])
OPENAI_APP = [call(**usage(10_000, 1_000, feature="chat"))]
OPENAI_WORKER = [call(**usage(4_000, 400, job_type="nightly"), service_tier="flex")]


def openai_costs(lines: list[tuple[str | None, str]]) -> str:
    results = ",".join(
        '{"object": "organization.costs.result", "amount": {"value": %s, "currency": "usd"}, "line_item": %s, '
        '"project_id": "proj_a", "api_key_id": null, "quantity": null, "quantity_unit": null}'
        % (amount, json.dumps(item)) for item, amount in lines)
    return ('{"object": "page", "data": [{"object": "bucket", "start_time": %d, "end_time": %d, "results": [%s]}], '
            '"has_more": false, "next_page": null}' % (unix(DAY), unix(DAY) + 86400, results))


def test_openai_flex_is_a_cell_of_its_own(tmp_path):
    costs = openai_costs([(f"{MINI}, input", "0.003"), (f"{MINI}, output", "0.0012"),
                          (f"flex | {MINI}, input", "0.0003"), (f"flex | {MINI}, output", "0.00012")])
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[OPENAI_USAGE], cost_pages=[costs], app_lines=OPENAI_APP,
                     worker_lines=OPENAI_WORKER)
    out = reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)
    recon = {r["price_tier"]: (r["invoice_cost_usd"], r["user_cost_usd"], r["background_cost_usd"],
                               r["unlogged_cost_usd"]) for r in out["fct_spend_reconciliation"].to_pylist()}
    assert recon == {"standard": (D("0.0042"), D("0.0021"), 0, D("0.0021")),
                     "flex": (D("0.00042"), 0, D("0.00042"), 0)}


def test_openai_flex_without_tier_line_items_is_weighted_at_half_price(tmp_path):
    # a project total ($0.00462 = list for standard + half of list for flex) shared by tier weights
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[OPENAI_USAGE], cost_pages=[openai_costs([(None, "0.00462")])],
                     app_lines=OPENAI_APP, worker_lines=OPENAI_WORKER)
    out = reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)
    dark = {(r["price_tier"], r["job_type"]): r["cost_usd"] for r in out["fct_dark_compute"].to_pylist()}
    assert dark == {("flex", "nightly"): D("0.00042"), ("standard", "__unlogged__"): D("0.0021")}


def test_long_context_lines_on_a_usage_report_not_grouped_by_context_window_land_on_its_standard_cell(tmp_path):
    # context_window null: the report was not grouped by it, so the standard cell holds both windows
    merged = [dict(USAGE[0], uncached_input_tokens=1_100_000, output_tokens=30_000, context_window=None),
              dict(USAGE[1], context_window=None)]
    out = anthropic_day(tmp_path, usage_results=merged)
    recon = {r["price_tier"]: r for r in out["fct_spend_reconciliation"].to_pylist()}
    assert {t: r["invoice_cost_usd"] for t, r in recon.items()} == {
        "standard": D("0.87") + D("6.225"), "batch": D("0.675"), "__all__": D("0.03")}
    # the long_doc call has no cell of its own tier: it is in the standard cell, weighed at the
    # long-context price, so it takes more than its token share of the cell's input cost
    dark = {r["job_type"]: r["cost_usd"] for r in out["fct_dark_compute"].to_pylist() if r["price_tier"] == "standard"}
    token_share = (D("6.30") * 1_000_000 / 1_100_000) + D("0.525") * 5_000 / 30_000
    assert dark["long_doc"] > token_share
    assert sum(r["invoice_cost_usd"] for r in recon.values()) == D("7.80")
    for r in recon.values():
        assert r["invoice_cost_usd"] == (r["user_cost_usd"] + r["background_cost_usd"] + r["retry_cost_usd"]
                                         + r["unlogged_cost_usd"] + r["non_token_cost_usd"])


def test_an_audio_line_item_lands_on_its_models_cell(tmp_path):
    # "<model> audio, input": the audio part of the model's input, billed apart ($0.01 here); the
    # usage counts those tokens in input_tokens, so it is the standard cell's money too
    costs = openai_costs([(f"{MINI}, input", "0.003"), (f"{MINI} audio, input", "0.01"), (f"{MINI}, output", "0.0012"),
                          (f"flex | {MINI}, input", "0.0003"), (f"flex | {MINI}, output", "0.00012")])
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[OPENAI_USAGE], cost_pages=[costs], app_lines=OPENAI_APP,
                     worker_lines=OPENAI_WORKER)
    out = reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)
    recon = {r["price_tier"]: (r["model"], r["invoice_cost_usd"], r["user_cost_usd"], r["allocation_basis"])
             for r in out["fct_spend_reconciliation"].to_pylist()}
    # the user call: half the input tokens ($0.013 / 2) and half the output ($0.0012 / 2)
    assert recon == {"standard": (MINI, D("0.0142"), D("0.0071"), "catalog_weights"),
                     "flex": (MINI, D("0.00042"), 0, "cost_line")}
