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

import gzip
import json
import re
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from pipelines.defs.reconcile.model import reconcile_day
from pipelines.lib import dbt as dbt_run
from pipelines.lib import sql

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


# ---------------------------------------------------------------------------------------------
# a simulated world whose first attempts all go through a LiteLLM proxy 30% under the bill

SIM_DAY = "2026-11-01"
RESPONSE_COST = re.compile(rb'"stream":false,"response_cost":([0-9.]+)')


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    root = tmp_path_factory.mktemp("gateway_world")
    assert main(["simulate", "--out", str(root / "world"), "--start", SIM_DAY, "--days", "1", "--calls-per-day", "300",
                 "--seed", "7", "--otlp-share", "0", "--litellm-share", "1", "--litellm-cost-factor", "0.7"]) == 0
    assert main(["reconcile", "--date", SIM_DAY, "--quiet", "--source", str(root / "world" / "sources"),
                 "--lake", str(root / "lake"), "--warehouse", str(root / "warehouse.duckdb")]) == 0
    logs = [p for log in ("app_logs", "worker_logs") for p in sorted((root / "world" / "sources" / log).rglob("*"))
            if p.is_file()]
    logged = [D(m.decode()) for p in logs
              for m in RESPONSE_COST.findall(gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes())]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    yield con, logged
    con.close()


def test_a_simulated_gateway_30_percent_under_the_bill(simulated):
    con, logged = simulated
    # what the proxy wrote is what the mart says it would have reported
    assert len(logged) == 287
    assert con.execute("select sum(gateway_calls), sum(gateway_cost_usd) from fct_gateway_estimate").fetchone() == (
        len(logged), sum(logged))
    assert con.execute("""
        select provider, count(*), sum(gateway_cost_usd), sum(invoice_cost_usd), sum(quantity_gap_usd),
               sum(price_gap_usd)
        from fct_gateway_estimate group by all order by all""").fetchall() == [
        ("anthropic", 4, D("0.484988175"), D("0.72794225"), D("0.035102"), D("0.207852075")),
        ("aws.bedrock", 4, D("0.2148254185"), D("0.310362855"), D("0.0034694"), D("0.0920680365")),
        ("openai", 8, D("0.415511768"), D("0.61207387"), D("0.01848563"), D("0.178076472")),
    ]
    # the bill is at list and the gateway priced every call it saw at 0.7 x list: the price part is
    # 30% of what it saw, on every cell; what it never saw is the quantity part
    assert con.execute("select distinct gateway_price_ratio from fct_gateway_estimate").fetchall() == [(D("0.7"),)]
    assert con.execute("""
        select count(*) from fct_gateway_estimate
        where quantity_gap_usd + price_gap_usd <> invoice_cost_usd - gateway_cost_usd
           or difference_usd <> invoice_cost_usd - gateway_cost_usd""").fetchone() == (0,)
    # every cell keys a row of fct_spend_reconciliation with the same invoice; the quantity part
    # holds at least its retries and unlogged usage (the gateway logged neither)
    assert con.execute("""
        select count(*), count(r.model), count(*) filter (where g.invoice_cost_usd = r.invoice_cost_usd),
               count(*) filter (where g.quantity_gap_usd >= r.retry_cost_usd + r.unlogged_cost_usd)
        from fct_gateway_estimate as g
        left join fct_spend_reconciliation as r using (usage_date, provider, billing_account, model, price_tier)
        """).fetchone() == (16, 16, 16, 16)
    gateway, invoice = con.execute("select sum(gateway_cost_usd), sum(invoice_cost_usd) from fct_gateway_estimate"
                                   ).fetchone()
    assert (gateway, invoice) == (D("1.1153253615"), D("1.650378975"))
    assert round(gateway / invoice, 4) == D("0.6758")  # 32.4% under: 30% on the price, the rest it never saw
