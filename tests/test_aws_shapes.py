"""Real-world AWS shapes, end to end: Bedrock requests through cross-region inference profiles
(a geographic `us.` one and a `global.` one, served in other regions than the caller's), a 1-hour
prompt-cache write, guardrail interventions on input and on output, and the CUR 2.0 lines that
bill them, delivered as a gzipped CSV export. Then a simulated cross-region world whose CUR is
written both as Parquet and as CSV.

The fixture below is written in the documented shapes (provider-formats.md 3a, 3b; the Bedrock
API reference for Converse `usage.cacheDetails`, `serviceTier`, `stopReason`; InvokeModel's
`amazon-bedrock-guardrailAction`), and every dollar in the assertions is computed by hand from
genai-prices' list prices for Claude Sonnet 4.5 on Bedrock, per million tokens:

    profile      uncached input  1h cache write  output
    us. (geo)    3.30            6.60            16.50
    global.      3.00            6.00            15.00

A guardrail that blocks the prompt stops the request before the model: the record logs 0 tokens
and only the guardrail's text units are billed (a non-token CUR line, $0.15 per 1,000 units). One
that blocks the answer bills the model's tokens too (Bedrock user guide, "How Amazon Bedrock
Guardrails works"). The caller's region bills a cross-region request (`USE1`), whichever region
`inferenceRegion` says served it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.defs.bedrock.parse import parse_invocation_logs
from pipelines.lib.store import SourceFile
from pipelines.simulate import simulate

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

D = Decimal
DAY = date(2026, 11, 2)
ACCOUNT = "123456789012"
APP = f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/app"
WORKER = f"arn:aws:sts::{ACCOUNT}:assumed-role/worker-role/jobs"
US_SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
GLOBAL_SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
LOG_KEY = (f"bedrock/AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/us-east-1/2026/11/02/12/"
           "20261102T120000Z_3f9a1c2b7d4e5f60.json.gz")
EXPORT = "cost-and-usage"
CUR_DATA = f"cur/{EXPORT}/data/BILLING_PERIOD=2026-11/{EXPORT}-00001.csv.gz"
CUR_MANIFEST = f"cur/{EXPORT}/metadata/BILLING_PERIOD=2026-11/{EXPORT}-Manifest.json"
BLOCKED = "Sorry, the model cannot answer this question."


def invocation(request_id: str, principal: str, model_id: str, *, input_tokens: int, output_tokens: int,
               cache_write: int = 0, inference_region: str | None = None, metadata: dict | None = None,
               operation: str = "Converse", output_body: dict | None = None) -> dict:
    record = {
        "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": "2026-11-02T12:00:03Z",
        "accountId": ACCOUNT, "identity": {"arn": principal}, "region": "us-east-1",
        "requestId": request_id, "operation": operation, "modelId": model_id,
        "input": {"inputContentType": "application/json",
                  "inputBodyJson": {"messages": [{"role": "user", "content": [{"text": "a user's prompt"}]}]},
                  "inputTokenCount": input_tokens, "cacheReadInputTokenCount": 0,
                  "cacheWriteInputTokenCount": cache_write},
        "output": {"outputContentType": "application/json",
                   "outputBodyJson": output_body or {
                       "output": {"message": {"role": "assistant", "content": [{"text": "an answer"}]}},
                       "stopReason": "end_turn", "serviceTier": {"type": "default"},
                       "usage": {"inputTokens": input_tokens, "outputTokens": output_tokens,
                                 "totalTokens": input_tokens + output_tokens}},
                   "outputTokenCount": output_tokens},
    }
    if inference_region:
        record["inferenceRegion"] = inference_region
    if metadata:
        record["requestMetadata"] = metadata
    return record


RECORDS = [
    # a user's request through the US profile, served in us-west-2 (logged by the app)
    invocation("req-user-1", APP, US_SONNET, input_tokens=10_000, output_tokens=2_000, inference_region="us-west-2"),
    # a job tagged in requestMetadata, never logged: 4,000 tokens written to the 1-hour cache
    invocation("req-job-1", WORKER, US_SONNET, input_tokens=20_000, output_tokens=1_000, cache_write=4_000,
               inference_region="us-east-2", metadata={"job_type": "summarize"},
               output_body={"output": {"message": {"role": "assistant", "content": [{"text": "a summary"}]}},
                            "stopReason": "end_turn", "serviceTier": {"type": "default"},
                            "usage": {"inputTokens": 20_000, "outputTokens": 1_000, "totalTokens": 25_000,
                                      "cacheReadInputTokens": 0, "cacheWriteInputTokens": 4_000,
                                      "cacheDetails": [{"ttl": "1h", "inputTokens": 4_000}]}}),
    # the guardrail blocked the prompt: the model never ran, nothing but the guardrail is billed
    invocation("req-guard-in", APP, US_SONNET, input_tokens=0, output_tokens=0,
               output_body={"output": {"message": {"role": "assistant", "content": [{"text": BLOCKED}]}},
                            "stopReason": "guardrail_intervened",
                            "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}}),
    # the guardrail blocked the answer (InvokeModel, Anthropic's body): the model's tokens are billed
    invocation("req-guard-out", WORKER, US_SONNET, input_tokens=3_000, output_tokens=500, operation="InvokeModel",
               inference_region="us-west-2", metadata={"job_type": "moderate"},
               output_body={"amazon-bedrock-guardrailAction": "INTERVENED", "type": "message", "role": "assistant",
                            "content": [{"type": "text", "text": BLOCKED}],
                            "usage": {"input_tokens": 3_000, "output_tokens": 500,
                                      "cache_creation": {"ephemeral_5m_input_tokens": 0,
                                                         "ephemeral_1h_input_tokens": 0}}}),
    # the global profile, served in Europe: one request the app logged, one nobody did
    invocation("req-global-user", APP, GLOBAL_SONNET, input_tokens=8_000, output_tokens=1_000,
               inference_region="eu-west-1"),
    invocation("req-global-dark", APP, GLOBAL_SONNET, input_tokens=5_000, output_tokens=1_000,
               inference_region="ap-northeast-1"),
]

APP_LOG = [  # the application's own records: OpenTelemetry names, input tokens include cache
    {"timestamp": "2026-11-02T12:00:02Z", "gen_ai.provider.name": "aws.bedrock", "gen_ai.request.model": model,
     "gen_ai.response.id": rid, "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out,
     "billing.account": APP, "request_id": f"r-{rid}", "feature": "chat"}
    for rid, model, inp, out in [("req-user-1", US_SONNET, 10_000, 2_000), ("req-guard-in", US_SONNET, 0, 0),
                                 ("req-global-user", GLOBAL_SONNET, 8_000, 1_000)]
]

CUR_COLUMNS = ["bill_billing_period_start_date", "bill_billing_period_end_date", "line_item_line_item_type",
               "line_item_usage_start_date", "line_item_usage_end_date", "line_item_product_code",
               "line_item_usage_type", "line_item_operation", "line_item_resource_id", "line_item_usage_amount",
               "pricing_unit", "line_item_unblended_rate", "line_item_unblended_cost", "line_item_currency_code",
               "line_item_line_item_description", "line_item_usage_account_id", "line_item_iam_principal",
               "product"]
US_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{US_SONNET}"
GLOBAL_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{GLOBAL_SONNET}"
SONNET_PRODUCT = '{"product_name": "Claude Sonnet 4.5 (Amazon Bedrock Edition)", "region": "us-east-1"}'
BEDROCK_PRODUCT = '{"product_name": "Amazon Bedrock", "region": "us-east-1"}'
# (type, usage type, resource, amount, unit, rate, cost, principal, product)
CUR_LINES = [
    ("Usage", "USE1-MP:USE1_InputTokenCount-Units", US_ARN, "10000", "Units", "0.0000033", "0.033", APP,
     SONNET_PRODUCT),
    ("Usage", "USE1-MP:USE1_OutputTokenCount-Units", US_ARN, "2000", "Units", "0.0000165", "0.033", APP,
     SONNET_PRODUCT),
    ("Usage", "USE1-MP:USE1_InputTokenCount-Units", US_ARN, "23000", "Units", "0.0000033", "0.0759", WORKER,
     SONNET_PRODUCT),
    ("Usage", "USE1-MP:USE1_CacheWrite1hInputTokenCount-Units", US_ARN, "4000", "Units", "0.0000066", "0.0264",
     WORKER, SONNET_PRODUCT),
    ("Usage", "USE1-MP:USE1_OutputTokenCount-Units", US_ARN, "1500", "Units", "0.0000165", "0.02475", WORKER,
     SONNET_PRODUCT),
    ("Usage", "USE1-MP:USE1_InputTokenCount_Global-Units", GLOBAL_ARN, "13000", "Units", "0.000003", "0.039", APP,
     SONNET_PRODUCT),
    ("Usage", "USE1-MP:USE1_OutputTokenCount_Global-Units", GLOBAL_ARN, "2000", "Units", "0.000015", "0.03", APP,
     SONNET_PRODUCT),
    # guardrail text units: 1 for the blocked prompt, 2 (prompt and answer) for the blocked answer
    ("Usage", "USE1-Guardrail-ContentPolicyUnitsConsumed", "", "0.001", "1K text units", "0.15", "0.00015", APP,
     BEDROCK_PRODUCT),
    ("Usage", "USE1-Guardrail-ContentPolicyUnitsConsumed", "", "0.002", "1K text units", "0.15", "0.0003", WORKER,
     BEDROCK_PRODUCT),
    ("Tax", "", "", "", "", "", "0.02", "", BEDROCK_PRODUCT),
]


def cur_csv() -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CUR_COLUMNS)
    for kind, usage_type, resource, amount, unit, rate, cost, principal, product in CUR_LINES:
        start, end = ("2026-11-02T12:00:00Z", "2026-11-02T13:00:00Z") if kind == "Usage" else (
            "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")
        writer.writerow(["2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", kind, start, end, "AmazonBedrock",
                         usage_type, "InvokeModel" if kind == "Usage" else "", resource, amount, unit, rate, cost,
                         "USD", "Tax for product code AmazonBedrock" if kind == "Tax" else "", ACCOUNT, principal,
                         product])
    return gzip.compress(buf.getvalue().encode(), mtime=0)


def write_sources(root: Path) -> None:
    files = {
        LOG_KEY: gzip.compress("".join(json.dumps(r) + "\n" for r in RECORDS).encode(), mtime=0),
        "app_logs/2026-11-02/app-01.jsonl": "".join(json.dumps(r) + "\n" for r in APP_LOG).encode(),
        CUR_DATA: cur_csv(),
        CUR_MANIFEST: json.dumps({
            "executionId": "9b2f6c1e-4d3a-4e8b-a1f0-5c7d2e9b3a41",
            "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{ACCOUNT}:export/{EXPORT}-1a2b3c4d",
            "exportName": EXPORT,
            "columns": [{"name": c, "type": "map<string,string>" if c == "product" else "string"}
                        for c in CUR_COLUMNS],
            "dataFiles": [f"s3://billing-exports/{CUR_DATA}"],
        }).encode(),
    }
    for key, body in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(body)


def test_the_records_bring_their_region_tier_guardrail_and_1h_writes_into_bronze():
    got = parse_invocation_logs([SourceFile(LOG_KEY, gzip.compress(
        "".join(json.dumps(r) + "\n" for r in RECORDS).encode()))], folder_date=DAY)
    assert got.rejects.num_rows == 0
    rows = [(r["request_id"], r["region"], r["inference_region"], r["service_tier"], r["guardrail_action"],
             r["cache_write_tokens"], r["cache_write_1h_tokens"]) for r in got.records.to_pylist()]
    assert rows == [
        ("req-user-1", "us-east-1", "us-west-2", "default", None, 0, None),
        ("req-job-1", "us-east-1", "us-east-2", "default", None, 4000, 4000),
        ("req-guard-in", "us-east-1", None, None, "INTERVENED", 0, None),
        ("req-guard-out", "us-east-1", "us-west-2", None, "INTERVENED", 0, 0),
        ("req-global-user", "us-east-1", "eu-west-1", "default", None, 0, None),
        ("req-global-dark", "us-east-1", "ap-northeast-1", "default", None, 0, None),
    ]
    # the blocked answer's text is nowhere in the lake's rows
    assert BLOCKED not in json.dumps(got.records.to_pylist(), default=str)


@pytest.mark.parametrize("bad, reason", [
    ({"cacheDetails": [{"ttl": "1h", "inputTokens": 5_000}]},
     "1-hour cache writes (5000) above input.cacheWriteInputTokenCount (4000)"),
    ({"cacheDetails": "1h"}, "output.outputBodyJson.usage.cacheDetails is not a list of {ttl, inputTokens}"),
])
def test_a_1h_split_that_cannot_be_true_is_rejected(bad, reason):
    record = json.loads(json.dumps(RECORDS[1]))
    record["output"]["outputBodyJson"]["usage"].update(bad)
    got = parse_invocation_logs([SourceFile(LOG_KEY, gzip.compress((json.dumps(record) + "\n").encode()))],
                                folder_date=DAY)
    assert [(r["line"], r["reason"]) for r in got.rejects.to_pylist()] == [(1, reason)]


@pytest.fixture(scope="module")
def fixture_warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("aws_shapes")
    write_sources(root / "sources")
    code = main(["reconcile", "--date", "2026-11-02", "--quiet", "--source", str(root / "sources"),
                 "--lake", str(root / "lake"), "--warehouse", str(root / "w.duckdb"),
                 "--as-of", "2026-11-06T04:00:00Z"])
    con = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    yield code, con
    con.close()


def test_the_fixture_reconciles_to_the_cent_with_dark_compute_where_the_logs_put_it(fixture_warehouse):
    code, con = fixture_warehouse
    assert code == 0
    rows = con.execute(
        "select billing_account, model, invoice_cost_usd, user_cost_usd, background_cost_usd, retry_cost_usd, "
        "unlogged_cost_usd, non_token_cost_usd, provider_requests, logged_calls, status "
        "from fct_spend_reconciliation where provider = 'aws.bedrock' order by billing_account, model").fetchall()
    assert rows == [
        # the tax, on the account
        (ACCOUNT, "__non_token__", D("0.02"), 0, 0, 0, 0, D("0.02"), 0, 0, "final"),
        # the blocked prompt's guardrail units: non-token, on its caller
        (APP, "__non_token__", D("0.00015"), 0, 0, 0, 0, D("0.00015"), 0, 0, "final"),
        # global profile: 8,000 x $3 + 1,000 x $15 per million = $0.039 logged by the app; the
        # other request (5,000 x $3 + 1,000 x $15 = $0.03) nobody logged
        (APP, GLOBAL_SONNET, D("0.069"), D("0.039"), 0, 0, D("0.03"), 0, 2, 1, "final"),
        # US profile: 10,000 x $3.30 + 2,000 x $16.50 = $0.066, the user's; the blocked prompt is a
        # logged call of 0 tokens and $0
        (APP, US_SONNET, D("0.066"), D("0.066"), 0, 0, 0, 0, 2, 2, "final"),
        (WORKER, "__non_token__", D("0.0003"), 0, 0, 0, 0, D("0.0003"), 0, 0, "final"),
        # summarize: 20,000 x $3.30 + 4,000 x $6.60 (1-hour writes) + 1,000 x $16.50 = $0.1089;
        # moderate, whose answer the guardrail blocked: 3,000 x $3.30 + 500 x $16.50 = $0.01815
        (WORKER, US_SONNET, D("0.12705"), 0, D("0.12705"), 0, 0, 0, 2, 2, "final"),
    ]
    assert sum(r[2] for r in rows) == D("0.2825")  # every line of the CUR
    dark = con.execute(
        "select billing_account, model, dark_class, job_type, calls, cache_write_tokens, cost_usd "
        "from fct_dark_compute where provider = 'aws.bedrock' order by billing_account, model, job_type").fetchall()
    assert dark == [
        (APP, GLOBAL_SONNET, "unlogged", "__unlogged__", 1, 0, D("0.03")),
        (WORKER, US_SONNET, "background", "moderate", 1, 0, D("0.01815")),
        (WORKER, US_SONNET, "background", "summarize", 1, 4000, D("0.1089")),
    ]
    assert con.execute("select count(*) from rejected_records").fetchone() == (0,)


# ---------------------------------------------------------------------------------------------
# a simulated cross-region world, its CUR written as Parquet and as gzipped CSV

START = date(2026, 10, 5)


def reconcile_world(root: Path, cur_format: str) -> tuple[dict, duckdb.DuckDBPyConnection]:
    simulate(root / "world", START, 2, calls_per_day=3000, seed=20261005, cur_format=cur_format, cross_region=True)
    code = main(["reconcile", "--date", "2026-10-05", "--to", "2026-10-06", "--quiet",
                 "--source", str(root / "world" / "sources"), "--lake", str(root / "lake"),
                 "--warehouse", str(root / "w.duckdb"), "--as-of", "2026-10-10T04:00:00Z"])
    assert code == 0
    truth = json.loads((root / "world" / "ground_truth.json").read_text())["days"]
    return truth, duckdb.connect(str(root / "w.duckdb"), read_only=True)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    parquet = reconcile_world(tmp_path_factory.mktemp("parquet"), "parquet")
    csv_world = reconcile_world(tmp_path_factory.mktemp("csv"), "csv")
    yield parquet, csv_world
    parquet[1].close()
    csv_world[1].close()


MARTS = {
    "fct_spend_reconciliation": "select * exclude (reconciled_at) from fct_spend_reconciliation order by all",
    "fct_dark_compute": "select * from fct_dark_compute order by all",
}


@pytest.mark.parametrize("mart", sorted(MARTS))
def test_one_cur_export_written_both_ways_reconciles_to_identical_marts(worlds, mart):
    (_, parquet), (_, from_csv) = worlds
    rows = from_csv.execute(MARTS[mart]).fetchall()
    assert len(rows) > 20
    assert rows == parquet.execute(MARTS[mart]).fetchall()


def test_the_cross_region_world_bills_its_two_profiles_as_two_cells_at_two_prices(worlds):
    _, (_, con) = worlds
    rates = dict(con.execute(
        "select model, sum(invoice_cost_usd) / sum(catalog_cost_usd) from fct_spend_reconciliation "
        "where provider = 'aws.bedrock' and model like '%sonnet%' group by model").fetchall())
    assert set(rates) == {US_SONNET, GLOBAL_SONNET}
    assert rates == {US_SONNET: 1, GLOBAL_SONNET: 1}  # each billed at its own list price
    prices = dict(con.execute(
        "select model, sum(invoice_cost_usd) from fct_spend_reconciliation where provider = 'aws.bedrock' "
        "and model like '%sonnet%' group by model").fetchall())
    assert all(v > 0 for v in prices.values())


def test_the_cross_region_csv_world_holds_its_planted_truth(worlds):
    _, (truth, con) = worlds
    invoices = {(str(d), p): v for d, p, v in con.execute(
        "select usage_date, provider, sum(invoice_cost_usd) from fct_spend_reconciliation group by all").fetchall()}
    got = defaultdict(Decimal)
    for day, provider, job_type, cost in con.execute(
            "select usage_date, provider, job_type, sum(cost_usd) from fct_dark_compute group by all").fetchall():
        got[(str(day), provider, job_type)] += cost
    checked = 0
    for day, providers in truth.items():
        for provider, values in providers.items():
            assert invoices[(day, provider)] == Decimal(values["invoice_usd"]), (day, provider)
            for job_type, amount in values["dark_usd_by_job_type"].items():
                expected = Decimal(amount)
                if expected < Decimal("0.01"):
                    continue
                checked += 1
                assert abs(got[(day, provider, job_type)] - expected) <= expected * Decimal("0.0001"), (
                    day, provider, job_type, got[(day, provider, job_type)], expected)
    assert checked >= 2 * 8
