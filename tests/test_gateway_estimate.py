"""fct_gateway_estimate: what a LiteLLM proxy would have reported against the invoice, per cell, the
difference split into quantity (usage the gateway never saw) and price (the calls it saw, priced
otherwise than the bill), to exact dollars.

Hand-computed fixture (OpenAI chat, 2026-11-02, `gpt-4o-mini-2024-07-18`). The invoice prices a
token at $0.00000012 uncached input, $0.00000006 cached input, $0.00000048 output. The proxy's
`response_cost` is 30% under the bill on every call it logged.

`proj_a`: 20,000 input tokens (4,000 cached), 5,000 output, 10 requests, invoiced
$0.00192 + $0.00024 + $0.0024 = $0.00456.
    LiteLLM a1 (user, feature chat): 8,000 prompt (2,000 cached), 2,000 completion
        6,000 x 0.00000012 + 2,000 x 0.00000006 + 2,000 x 0.00000048 = $0.0018  -> gateway $0.00126
    LiteLLM b2 (background nightly_digest): 6,000 prompt (2,000 cached), 1,000 completion
        4,000 x 0.00000012 + 2,000 x 0.00000006 + 1,000 x 0.00000048 = $0.00108 -> gateway $0.000756
    a retry the app logged itself (attempt 2, no gateway cost): 2,000 input, 1,000 output
        2,000 x 0.00000012 + 1,000 x 0.00000048 = $0.00072
    unlogged: 4,000 uncached + 1,000 output = $0.00096
  gateway $0.002016; seen by it $0.00288; quantity $0.00072 + $0.00096 = $0.00168;
  price $0.00288 - $0.002016 = $0.000864; difference $0.002544 = $0.00168 + $0.000864;
  gateway's share of the invoice 0.002016 / 0.00456 = 0.44210526; its price ratio 0.70.
`proj_b`: 1,000 input, 500 output, 1 request, invoiced $0.00012 + $0.00024 = $0.00036, all of it
    one LiteLLM call priced at $0.000252: quantity $0, price $0.000108, share 0.70.
`proj_c`: billed, logged without LiteLLM: no row.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.lib import dbt as dbt_run
from pipelines.lib import sql
from pipelines.lib.lake import Lake
from pipelines.defs.reconcile.model import reconcile_day

from .fixtures import DAY, cost_page, usage_page
from .litellm_payloads import payload
from .test_litellm_day import CHAT, RECONCILED_AT, _write, rows

pytestmark = pytest.mark.slow  # dbt builds and simulated worlds

D = Decimal
COLUMNS = ["billing_account", "model", "logged_calls", "gateway_calls", "gateway_cost_usd", "invoice_cost_usd",
           "difference_usd", "seen_invoice_cost_usd", "quantity_gap_usd", "price_gap_usd",
           "gateway_share_of_invoice", "gateway_price_ratio", "status"]

USAGE = usage_page(DAY, [
    {"input_tokens": 20_000, "input_cached_tokens": 4_000, "output_tokens": 5_000, "num_model_requests": 10,
     "project_id": "proj_a", "model": CHAT},
    {"input_tokens": 1_000, "input_cached_tokens": 0, "output_tokens": 500, "num_model_requests": 1,
     "project_id": "proj_b", "model": CHAT},
    {"input_tokens": 1_000, "input_cached_tokens": 0, "output_tokens": 0, "num_model_requests": 1,
     "project_id": "proj_c", "model": CHAT},
])
COSTS = cost_page(DAY, [
    (f"{CHAT}, input", "proj_a", "0.00192"), (f"{CHAT}, cached input", "proj_a", "0.00024"),
    (f"{CHAT}, output", "proj_a", "0.0024"),
    (f"{CHAT}, input", "proj_b", "0.00012"), (f"{CHAT}, output", "proj_b", "0.00024"),
    (f"{CHAT}, input", "proj_c", "0.00012"),
])


def _flat(account: str, input_tokens: int, output_tokens: int, **fields) -> str:
    return json.dumps({"timestamp": "2026-11-02T09:00:00Z", "gen_ai.provider.name": "openai",
                       "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                       "gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": output_tokens,
                       "billing.account": account, **fields})


APP = [
    payload(provider="openai", model="gpt-4o-mini", call_id="chatcmpl-a1", team_alias="proj_a", tags=["feature:chat"],
            prompt_tokens=8_000, cache_read=2_000, cache_creation=None, details_only=True, completion_tokens=2_000,
            cost="0.00126"),
    payload(provider="openai", model="gpt-4o-mini", call_id="chatcmpl-b2", team_alias="growth",
            tags=["job_type:nightly_digest", "billing.account:proj_a"], prompt_tokens=6_000, cache_read=2_000,
            cache_creation=None, details_only=True, completion_tokens=1_000, cost="0.000756",
            start="2026-11-02T02:00:00Z"),
    payload(provider="openai", model="gpt-4o-mini", call_id="chatcmpl-c3", team_alias="proj_b", tags=["feature:chat"],
            prompt_tokens=1_000, cache_read=0, cache_creation=None, details_only=True, completion_tokens=500,
            cost="0.000252", start="2026-11-02T11:00:00Z"),
    _flat("proj_a", 2_000, 1_000, attempt=2, feature="chat", **{"gen_ai.response.id": "chatcmpl-r4"}),
    _flat("proj_c", 1_000, 0, **{"gen_ai.response.id": "chatcmpl-c5"}),
]


def test_the_gateways_estimate_30_percent_under_the_bill_splits_into_quantity_and_price(tmp_path):
    lake = _write(tmp_path / "lake", DAY, usage={"completions": [USAGE]}, costs=[COSTS], app=APP)
    out = reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)
    recon = rows(out["fct_spend_reconciliation"], ["billing_account", "invoice_cost_usd", "user_cost_usd",
                                                   "background_cost_usd", "retry_cost_usd", "unlogged_cost_usd"])
    assert recon == [("proj_a", D("0.00456"), D("0.0018"), D("0.00108"), D("0.00072"), D("0.00096")),
                     ("proj_b", D("0.00036"), D("0.00036"), 0, 0, 0),
                     ("proj_c", D("0.00012"), D("0.00012"), 0, 0, 0)]
    got = rows(out["fct_gateway_estimate"], COLUMNS)
    assert got == [
        ("proj_a", CHAT, 3, 2, D("0.002016"), D("0.00456"), D("0.002544"), D("0.00288"), D("0.00168"),
         D("0.000864"), D("0.44210526"), D("0.70000000"), "final"),
        ("proj_b", CHAT, 1, 1, D("0.000252"), D("0.00036"), D("0.000108"), D("0.00036"), D("0"), D("0.000108"),
         D("0.70000000"), D("0.70000000"), "final"),
    ]
    for r in out["fct_gateway_estimate"].to_pylist():
        assert r["quantity_gap_usd"] + r["price_gap_usd"] == r["invoice_cost_usd"] - r["gateway_cost_usd"]
    # the existing mart is unchanged by the sibling: no gateway column on it
    assert not {"gateway_cost_usd", "quantity_gap_usd"} & set(out["fct_spend_reconciliation"].column_names)


def test_the_parts_sum_test_fails_on_a_broken_row():
    """The dbt test `assert_gateway_estimate_parts_sum` returns a row whose parts do not add up."""
    compiled = (dbt_run.PROJECT_DIR / "tests" / "assert_gateway_estimate_parts_sum.sql").read_text()
    body = compiled.split("-#}", 1)[1].replace("{{ config(severity='error') }}", "")
    body = body.replace("{{ ref('fct_gateway_estimate') }}", "fct_gateway_estimate")
    con = duckdb.connect()
    con.execute("create table fct_gateway_estimate as select * from values "
                "(date '2026-11-02', 'openai', 'p', 'm', 'standard', 1.00::decimal(38, 12), 0.70::decimal(38, 12), "
                "0.30::decimal(38, 12), 0.20::decimal(38, 12), 0.10::decimal(38, 12)), "
                "(date '2026-11-02', 'openai', 'q', 'm', 'standard', 1.00::decimal(38, 12), 0.70::decimal(38, 12), "
                "0.30::decimal(38, 12), 0.20::decimal(38, 12), 0.05::decimal(38, 12)) "
                "t(usage_date, provider, billing_account, model, price_tier, invoice_cost_usd, gateway_cost_usd, "
                "difference_usd, quantity_gap_usd, price_gap_usd)")
    assert con.execute(body).fetchall() == [
        (date(2026, 11, 2), "openai", "q", "m", "standard", D("1.00"), D("0.70"), D("0.20"), D("0.05"))]
