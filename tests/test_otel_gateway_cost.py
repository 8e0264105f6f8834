"""The gateway cost of OpenTelemetry spans: the per-call USD cost an instrumentation writes on its
span, read into `gateway_cost_usd` (as LiteLLM's `response_cost` is) and so into
`fct_gateway_estimate`, to exact dollars.

The attribute names are the published ones:
  `gen_ai.usage.cost`                  OpenLIT (`SemanticConvention.GEN_AI_USAGE_COST`), also what
                                       Langfuse's OTel ingestion reads as a total
  `langfuse.observation.cost_details`  Langfuse SDKs: a JSON object as a string (`total`, else
                                       `input` + `output`, Langfuse's rule)
  `llm.cost.total`                     OpenInference (Arize), read by Langfuse too
  `gen_ai.cost.total_cost`             LiteLLM's OpenTelemetry callback (`gen_ai.cost.<cost_breakdown key>`)
  `litellm.cost.total`                 LiteLLM's OpenTelemetry v2 callback
  `operation.cost`                     Pydantic AI (Logfire)
Spans are OTLP/JSON lines as the Collector file exporter writes them (helpers of test_otlp.py):
a double is a JSON number (proto3 JSON allows a string too), an int64 a decimal string.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pipelines.defs.reconcile.model import reconcile_day
from pipelines.lib import sql

from .fixtures import DAY
from .test_gateway_estimate import COLUMNS, COSTS, USAGE, _flat
from .test_litellm_day import CHAT, RECONCILED_AT, _write, rows
from .test_otlp import TEN, chat, i, one_file, otlp, rejected, resource_spans, s, span

D = Decimal


def d(value) -> dict:
    """A double attribute value, as the exporter writes it (a JSON number; a string if given one)."""
    return {"doubleValue": value}


def costs(got) -> list:
    return [r["gateway_cost_usd"] for r in got.records.to_pylist()]


# ---------------------------------------------------------------------------------------------
# each instrumentation's attribute, read exactly


@pytest.mark.parametrize(("key", "value", "usd"), [
    ("gen_ai__usage__cost", d(0.00126), "0.00126"),                 # OpenLIT
    ("gen_ai__cost__total_cost", d(0.000756), "0.000756"),          # LiteLLM OTel callback
    ("litellm__cost__total", d(2.85e-05), "0.0000285"),             # LiteLLM OTel v2
    ("operation__cost", d(0.30000000000000004), "0.3"),             # Pydantic AI: the double's shortest text, 12 places
    ("llm__cost__total", d(1.234567890123e-3), "0.00123456789"),    # OpenInference: rounded to 12 places
    ("gen_ai__usage__cost", d("0.0042"), "0.0042"),                 # a double as a proto3 JSON string
    ("gen_ai__usage__cost", i("0"), "0"),                           # an int64 (Python's int 0)
    ("langfuse__observation__cost_details", s('{"input": 0.01, "output": 0.02, "total": 0.0305}'), "0.0305"),
    ("langfuse__observation__cost_details", s('{"input": 0.000084, "output": 0.000168}'), "0.000252"),
    ("langfuse__observation__cost_details", s('{"input": 0.1}'), "0.1"),
])
def test_each_instrumentations_cost_attribute_is_the_gateway_cost(key, value, usd):
    got = one_file(otlp(resource_spans(chat("a1", **{key: value}))))
    assert rejected(got) == []
    assert costs(got) == [D(usd)]


def test_a_span_without_a_cost_attribute_has_no_gateway_cost():
    got = one_file(otlp(resource_spans(chat("a1"), chat("a2", gen_ai__usage__cost=s("")))))
    assert costs(got) == [None, None]  # an empty string is absent, as Langfuse reads it


def test_the_first_cost_attribute_in_order_wins_and_a_resource_cost_is_never_read():
    both = chat("a1", gen_ai__usage__cost=d(0.5), gen_ai__cost__total_cost=d(0.7), operation__cost=d(0.9))
    langfuse_first = chat("a2", operation__cost=d(0.9), langfuse__observation__cost_details=s('{"total": 0.25}'))
    litellm = chat("a3", operation__cost=d(0.9), litellm__cost__total=d(0.125))
    got = one_file(otlp(resource_spans(both, langfuse_first, litellm)),
                   otlp(resource_spans(chat("b1"), resource={"gen_ai__usage__cost": d(9.0)})))
    assert costs(got) == [D("0.5"), D("0.25"), D("0.125"), None]


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("gen_ai__usage__cost", s("0.01"), "gen_ai.usage.cost is not a number"),
    ("gen_ai__usage__cost", d("NaN"), "gen_ai.usage.cost is not a number"),
    ("gen_ai__usage__cost", d("Infinity"), "gen_ai.usage.cost is not a number"),
    ("gen_ai__cost__total_cost", d(-0.002), "gen_ai.cost.total_cost is negative"),
    ("operation__cost", i("-3"), "operation.cost is negative"),
    ("litellm__cost__total", d(1e40), "litellm.cost.total out of range"),
    ("llm__cost__total", {"boolValue": True}, "llm.cost.total is not a number"),
    ("langfuse__observation__cost_details", s("0.25"), "langfuse.observation.cost_details total is not a number"),
    ("langfuse__observation__cost_details", s("{not json"), "langfuse.observation.cost_details total is not a number"),
    ("langfuse__observation__cost_details", s('{"input": 0.1, "input_cached_tokens": 0.01}'),
     "langfuse.observation.cost_details total is not a number"),
    ("langfuse__observation__cost_details", s('{"total": "0.3"}'), "langfuse.observation.cost_details total is not a number"),
    ("langfuse__observation__cost_details", s('{"input": 0.1, "output": "x"}'),
     "langfuse.observation.cost_details total is not a number"),
    ("langfuse__observation__cost_details", s('{"total": -1}'), "langfuse.observation.cost_details total is negative"),
])
def test_a_cost_that_is_not_a_usable_number_rejects_the_span_with_a_reason(key, value, reason):
    got = one_file(otlp(resource_spans(chat("a1", **{key: value}), chat("a2", gen_ai__usage__cost=d(0.001)))))
    assert rejected(got) == [("app_logs/2026-11-02/otel-1.jsonl", 1, reason)]
    assert costs(got) == [D("0.001")]


def test_a_negative_litellm_response_cost_is_rejected_too():
    from .litellm_payloads import payload
    from .test_litellm import parse
    got = parse(payload(cost="-0.004"), payload(cost="0.004", call_id="msg_02"))
    assert [r["reason"] for r in got.rejects.to_pylist()] == ["response_cost is negative"]
    assert costs(got) == [D("0.004")]


# ---------------------------------------------------------------------------------------------
# the mart: the same hand-computed cells as test_gateway_estimate.py's LiteLLM payloads, the
# gateway's costs now on spans from three instrumentations (30% under the bill on every call)


def _line(*spans: dict, service: str, **resource: dict) -> str:
    group = resource_spans(*spans, resource={"billing__account": s("proj_a"), **resource})
    group["resource"]["attributes"][0] = {"key": "service.name", "value": s(service)}
    return json.dumps(otlp(group))


OPENLIT = span(  # OpenLIT's OpenAI instrumentation, the app's feature set by the app
    "a1a1a1a1a1a1a1a1", TEN, name="chat gpt-4o-mini",
    gen_ai__operation__name=s("chat"), gen_ai__system=s("openai"), gen_ai__request__model=s("gpt-4o-mini"),
    gen_ai__response__model=s("gpt-4o-mini-2024-07-18"), gen_ai__response__id=s("chatcmpl-a1"),
    gen_ai__usage__input_tokens=i("8000"), gen_ai__usage__cache_read__input_tokens=i("2000"),
    gen_ai__usage__output_tokens=i("2000"), gen_ai__usage__cost=d(0.00126), feature=s("chat"))
LITELLM = span(  # LiteLLM's OpenTelemetry callback in the digest worker
    "b2b2b2b2b2b2b2b2", TEN - 8 * 3_600_000_000_000, name="litellm_request",
    gen_ai__request__model=s("gpt-4o-mini"), gen_ai__system=s("openai"), llm__request__type=s("acompletion"),
    gen_ai__response__id=s("chatcmpl-b2"), gen_ai__usage__input_tokens=i("6000"),
    gen_ai__usage__cache_read__input_tokens=i("2000"), gen_ai__usage__output_tokens=i("1000"),
    gen_ai__cost__input_cost=d(0.000396), gen_ai__cost__output_cost=d(0.00036), gen_ai__cost__total_cost=d(0.000756))
LANGFUSE = span(  # a generation with Langfuse's cost details beside the GenAI attributes
    "c3c3c3c3c3c3c3c3", TEN + 3_600_000_000_000, name="chat gpt-4o-mini",
    gen_ai__operation__name=s("chat"), gen_ai__provider__name=s("openai"), gen_ai__request__model=s("gpt-4o-mini"),
    gen_ai__response__id=s("chatcmpl-c3"), gen_ai__usage__input_tokens=i("1000"), gen_ai__usage__output_tokens=i("500"),
    langfuse__observation__type=s("generation"), feature=s("chat"),
    langfuse__observation__cost_details=s('{"input": 0.000084, "output": 0.000168}'))

APP = [
    _line(OPENLIT, service="answers-api"),
    _line(LANGFUSE, service="answers-api", billing__account=s("proj_b")),
    _flat("proj_a", 2_000, 1_000, attempt=2, feature="chat", **{"gen_ai.response.id": "chatcmpl-r4"}),
    _flat("proj_c", 1_000, 0, **{"gen_ai.response.id": "chatcmpl-c5"}),
]
WORKER = [_line(LITELLM, service="digest-worker", job_type=s("nightly_digest"))]


@pytest.mark.slow
def test_span_costs_30_percent_under_the_bill_split_into_quantity_and_price(tmp_path):
    lake = _write(tmp_path / "lake", DAY, usage={"completions": [USAGE]}, costs=[COSTS], app=APP, worker=WORKER)
    out = reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)
    assert rows(out["fct_gateway_estimate"], COLUMNS) == [
        ("proj_a", CHAT, 3, 2, D("0.002016"), D("0.00456"), D("0.002544"), D("0.00288"), D("0.00168"),
         D("0.000864"), D("0.44210526"), D("0.70000000"), "final"),
        ("proj_b", CHAT, 1, 1, D("0.000252"), D("0.00036"), D("0.000108"), D("0.00036"), D("0"), D("0.000108"),
         D("0.70000000"), D("0.70000000"), "final"),
    ]


# ---------------------------------------------------------------------------------------------
# a call the LiteLLM proxy and a worker both logged: the worker's line, the proxy's cost


@pytest.mark.slow
def test_a_call_logged_by_the_proxy_and_a_worker_keeps_the_workers_job_and_the_proxys_cost(tmp_path):
    from pipelines.defs.reconcile.model import ensure_catalog
    from pipelines.lib import dbt as dbt_run

    from .litellm_payloads import payload

    proxy = payload(provider="openai", model="gpt-4o-mini", call_id="chatcmpl-p1", team_alias="proj_b",
                    tags=["feature:chat"], prompt_tokens=1_000, cache_read=0, cache_creation=None, details_only=True,
                    completion_tokens=500, cost="0.000252", start="2026-11-02T11:00:00Z")
    worker = _flat("proj_b", 1_000, 500, job_type="report_builder", **{"gen_ai.response.id": "chatcmpl-p1",
                                                                     "timestamp": "2026-11-02T11:00:00.120Z"})
    lake = _write(tmp_path / "lake", DAY, usage={"completions": [USAGE]}, costs=[COSTS], app=[proxy], worker=[worker])
    ensure_catalog(lake, DAY)
    result = dbt_run.build(lake, DAY, RECONCILED_AT, keep=("stg_model_calls",))
    assert result.success, result.failures
    assert rows(result.kept["stg_model_calls"], ["billing_account", "log_source", "spend_class", "job_type",
                                                 "uncached_input", "output", "gateway_cost_usd"]) == [
        ("proj_b", "worker", "background", "report_builder", 1_000, 500, D("0.000252"))]
    assert rows(result.marts["fct_gateway_estimate"], COLUMNS) == [
        ("proj_b", CHAT, 1, 1, D("0.000252"), D("0.00036"), D("0.000108"), D("0.00036"), D("0"), D("0.000108"),
         D("0.70000000"), D("0.70000000"), "final"),
    ]
    # the invoice split is the worker's: the call is background spend of its job, not the app's
    assert rows(result.marts["fct_spend_reconciliation"], ["billing_account", "user_cost_usd", "background_cost_usd",
                                                           "unlogged_cost_usd"]) == [
        ("proj_a", 0, 0, D("0.00456")), ("proj_b", 0, D("0.00036"), 0), ("proj_c", 0, 0, D("0.00012"))]
