"""Property-based tests: every parser, fed arbitrary bytes and mutated valid records, never raises
and never loses a line.

For every parser (app and worker logs, OpenAI usage and cost pages, Anthropic usage and cost pages,
Bedrock invocation logs, CUR 2.0 deliveries) and any input:
  * it returns; no exception escapes;
  * the tables have the bronze, rejects and files schemas;
  * per file, `lines_read = records + skipped + rejected`, and the records and rejected rows it
    returns are exactly those counts (per line for line-based files, an OTLP line's spans counting
    once);
  * every rejected row names a delivered file, a line within `1..lines_read` (or none, for a
    whole-file problem) and a reason;
  * no record has a negative token count, a null provider, model or timestamp where the source
    guarantees one, and money is an exact Decimal.

The valid seeds follow the providers' documented shapes (provider-formats.md: OpenAI 1.8,
Anthropic 2.7, Bedrock 3a, CUR 3b; the log contract in DESIGN.md; OTLP/JSON per
opentelemetry-proto). A mutation drops a key, changes a value's type, writes an absurd or
negative number, inserts garbage or random unicode, truncates, or duplicates a line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.defs.anthropic import parse as anthropic
from pipelines.defs.bedrock.cur import parse_cur_delivery
from pipelines.defs.bedrock.parse import MAX_TOKENS_PER_CALL as BEDROCK_MAX_TOKENS
from pipelines.defs.bedrock.parse import parse_invocation_logs
from pipelines.defs.logs.parse import DEFAULT_MAX_RECORD_TOKENS, parse_log_files
from pipelines.defs.openai import parse as openai
from pipelines.lib import bronze
from pipelines.lib.bronze.aws import BEDROCK_INVOCATIONS, CUR_LINES
from pipelines.lib.ingest import FILES_SCHEMA, REJECTS_SCHEMA, Ingested
from pipelines.lib.money import loads
from pipelines.lib.store import SourceFile

DAY = date(2026, 11, 2)
UTC = timezone.utc
PROVIDERS = {"openai", "anthropic", "aws.bedrock"}
LOG_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens")

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# Valid seeds, in the documented shapes

APP_LINES = [
    {"timestamp": "2026-11-02T00:49:42.520Z", "gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat",
     "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
     "gen_ai.response.id": "chatcmpl-64c16e45e3716e1a", "gen_ai.usage.input_tokens": 2004,
     "gen_ai.usage.output_tokens": 552, "gen_ai.usage.cache_read.input_tokens": 1664, "billing.account": "proj_app",
     "service_tier": "default", "batch": False, "attempt": 1, "status": "ok", "request_id": "req_e3786a596cf49743",
     "user_id": "u_000003", "tenant_id": "t_0003", "feature": "chat"},
    {"timestamp": "2026-11-02T10:12:00+02:00", "gen_ai.system": "anthropic",
     "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.prompt_tokens": 900,
     "gen_ai.usage.completion_tokens": 120, "gen_ai.usage.cache_creation.input_tokens": 300,
     "billing.account": "default", "attempt": 2, "feature": "doc_qa"},
]
WORKER_LINES = [
    {"timestamp": "2026-11-02T00:11:27.812Z", "event": "job.started", "job_id": "job_cf7431380bb9158c",
     "job_type": "session_summarization", "queue": "sessions", "trigger": "event"},
    {"timestamp": "2026-11-02T00:11:28.096Z", "gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat",
     "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 3120, "gen_ai.usage.output_tokens": 539,
     "billing.account": "proj_jobs", "job_id": "job_cf7431380bb9158c", "job_type": "session_summarization",
     "queue": "sessions", "trigger": "event", "parent_request_id": "req_1"},
    {"timestamp": "2026-11-02T00:12:00Z", "gen_ai.provider.name": "aws.bedrock",
     "gen_ai.request.model": "us.anthropic.claude-haiku-4-5-20251001-v1:0", "job_type": "llm_judge_evaluation"},
]


def attribute(key: str, kind: str, value) -> dict:
    return {"key": key, "value": {kind: value}}


OTLP_LINE = {  # one ExportTraceServiceRequest per line, as the Collector's file exporter writes it
    "resourceSpans": [{
        "resource": {"attributes": [attribute("service.name", "stringValue", "darkcompute-app"),
                                    attribute("billing.account", "stringValue", "proj_app")]},
        "scopeSpans": [{
            "scope": {"name": "darkcompute.genai", "version": "1.4.0"},
            "spans": [
                {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
                 "name": "chat gpt-4o-mini", "kind": 3, "startTimeUnixNano": "1793613600000000000",
                 "endTimeUnixNano": "1793613601500000000",
                 "attributes": [attribute("gen_ai.provider.name", "stringValue", "openai"),
                                attribute("gen_ai.request.model", "stringValue", "gpt-4o-mini"),
                                attribute("gen_ai.usage.input_tokens", "intValue", "1200"),
                                attribute("gen_ai.usage.output_tokens", "intValue", "80"),
                                attribute("attempt", "intValue", 1)],
                 "status": {"code": 1}},
                {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "0f1e2d3c4b5a6978",
                 "name": "GET /health", "kind": 2, "startTimeUnixNano": "1793613602000000000",
                 "attributes": [attribute("http.request.method", "stringValue", "GET")]},
            ],
        }],
    }]
}

OPENAI_USAGE_PAGE = {  # provider-formats.md 1.8
    "object": "page",
    "data": [{
        "object": "bucket", "start_time": 1793577600, "end_time": 1793664000,
        "results": [
            {"object": "organization.usage.completions.result", "input_tokens": 5000, "input_cached_tokens": 1800,
             "input_cache_write_tokens": 200, "input_uncached_tokens": 3000, "output_tokens": 1000,
             "input_text_tokens": 2500, "output_text_tokens": 800, "num_model_requests": 5,
             "project_id": "proj_abc", "user_id": None, "api_key_id": None, "model": "gpt-4o-mini-2024-07-18",
             "batch": False, "service_tier": "default"},
            {"object": "organization.usage.completions.result", "input_tokens": 70, "output_tokens": 9,
             "num_model_requests": 1, "project_id": None, "user_id": None, "api_key_id": None, "model": None,
             "batch": None, "service_tier": None},
        ],
    }],
    "has_more": False, "next_page": None,  # the last page (a page alone that says has_more is a cut listing)
}
OPENAI_COST_PAGE = {
    "object": "page",
    "data": [{
        "object": "bucket", "start_time": 1793577600, "end_time": 1793664000,
        "results": [
            {"object": "organization.costs.result", "amount": {"value": Decimal("12.3456"), "currency": "usd"},
             "line_item": "gpt-4o-mini-2024-07-18, cached input", "project_id": "proj_abc", "api_key_id": None,
             "quantity": 1800000, "quantity_unit": "tokens"},
            {"object": "organization.costs.result", "amount": {"value": Decimal("0.06"), "currency": "usd"},
             "line_item": "web search tool calls", "project_id": "proj_abc", "api_key_id": None,
             "quantity": None, "quantity_unit": None},
        ],
    }],
    "has_more": False, "next_page": None,
}
ANTHROPIC_USAGE_PAGE = {  # provider-formats.md 2.7
    "data": [{
        "starting_at": "2026-11-02T00:00:00Z", "ending_at": "2026-11-02T01:00:00Z",
        "results": [{
            "uncached_input_tokens": 120034, "cache_read_input_tokens": 880120,
            "cache_creation": {"ephemeral_5m_input_tokens": 40210, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 30551, "server_tool_use": {"web_search_requests": 3},
            "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ", "api_key_id": None, "account_id": None,
            "service_account_id": None, "model": "claude-sonnet-4-5-20250929", "service_tier": "batch",
            "context_window": "0-200k", "inference_geo": None,
        }],
    }],
    "has_more": False, "next_page": None,  # the last page
}
ANTHROPIC_COST_PAGE = {
    "data": [{
        "starting_at": "2026-11-02T00:00:00Z", "ending_at": "2026-11-03T00:00:00Z",
        "results": [
            {"amount": "41280.000000", "currency": "USD", "workspace_id": None,
             "description": "Claude Sonnet 4 Usage - Input Tokens", "cost_type": "tokens",
             "model": "claude-sonnet-4-20250514", "token_type": "uncached_input_tokens", "service_tier": "standard",
             "context_window": "0-200k", "inference_geo": None},
            {"amount": "50", "currency": "USD", "workspace_id": "wrkspc_01", "description": "Web Search Usage",
             "cost_type": "web_search", "model": None, "token_type": None, "service_tier": None,
             "context_window": None, "inference_geo": None},
        ],
    }],
    "has_more": False, "next_page": None,
}
BEDROCK_RECORD = {  # provider-formats.md 3a, bodies included (they must never be kept)
    "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": "2026-11-02T12:00:03Z",
    "accountId": "123456789012", "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/worker-role/job-4711"},
    "region": "us-east-1", "requestId": "a1b2c3d4-5678-90ab-cdef-111122223333", "operation": "Converse",
    "modelId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "requestMetadata": {"job_type": "summarize", "attempt": "1"},
    "input": {"inputContentType": "application/json",
              "inputBodyJson": {"messages": [{"role": "user", "content": [{"text": "hello"}]}]},
              "inputTokenCount": 1500, "cacheReadInputTokenCount": 42000, "cacheWriteInputTokenCount": 3000},
    "output": {"outputContentType": "application/json", "outputBodyJson": {"output": {}}, "outputTokenCount": 500},
}

LOG_KEY = "app_logs/2026-11-02/app-01.jsonl"
WORKER_KEY = "worker_logs/2026-11-02/worker-01.jsonl.gz"
BEDROCK_KEY = "bedrock/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/2026/11/02/12/a1.json.gz"
CUR_DATA = "cur/darkcompute-cur/data/BILLING_PERIOD=2026-11"
CUR_MANIFEST = "cur/darkcompute-cur/metadata/BILLING_PERIOD=2026-11/darkcompute-cur-Manifest.json"


def cur_rows() -> list[dict]:
    """Three CUR 2.0 lines (3b): a marketplace token line, a first-party one and a tax line."""
    def line(usage_type, cost, kind="Usage", amount=1000.0, unit="Units",
             product="Claude Haiku 4.5 (Amazon Bedrock Edition)"):
        start = datetime(2026, 11, 2, 12)
        return {"line_item_line_item_type": kind, "line_item_usage_start_date": start,
                "line_item_usage_end_date": start + timedelta(hours=1), "line_item_product_code": "AmazonBedrock",
                "line_item_usage_type": usage_type, "line_item_operation": "InvokeModel",
                "line_item_resource_id": "arn:aws:bedrock:us-east-1:123456789012:inference-profile/x",
                "line_item_usage_amount": amount, "pricing_unit": unit, "line_item_unblended_cost": cost,
                "line_item_net_unblended_cost": cost, "line_item_currency_code": "USD",
                "line_item_line_item_description": None, "line_item_usage_account_id": "123456789012",
                "line_item_iam_principal": "arn:aws:sts::123456789012:assumed-role/worker-role/job-4711",
                "product": [("product_name", product)], "resource_tags": [("user_team", "search")]}
    return [line("USE1-MP:USE1_InputTokenCount-Units", 0.004),
            line("USE1-NovaPro-input-tokens", 0.0016, amount=2.0, unit="1K tokens", product="Amazon Bedrock"),
            line(None, 0.25, kind="Tax", amount=0.0, unit=None)]


CUR_SCHEMA = pa.schema([
    ("line_item_line_item_type", pa.string()), ("line_item_usage_start_date", pa.timestamp("ms")),
    ("line_item_usage_end_date", pa.timestamp("ms")), ("line_item_product_code", pa.string()),
    ("line_item_usage_type", pa.string()), ("line_item_operation", pa.string()),
    ("line_item_resource_id", pa.string()), ("line_item_usage_amount", pa.float64()), ("pricing_unit", pa.string()),
    ("line_item_unblended_cost", pa.float64()), ("line_item_net_unblended_cost", pa.float64()),
    ("line_item_currency_code", pa.string()), ("line_item_line_item_description", pa.string()),
    ("line_item_usage_account_id", pa.string()), ("line_item_iam_principal", pa.string()),
    ("product", pa.map_(pa.string(), pa.string())), ("resource_tags", pa.map_(pa.string(), pa.string())),
])


# ---------------------------------------------------------------------------------------------
# Strategies: arbitrary JSON, and mutations of a valid document


def dumps(value) -> str:
    """JSON text; a Decimal is written as its exact literal; NaN and infinities as Python writes them."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


json_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats()
    | st.decimals(places=4, allow_nan=False, allow_infinity=False) | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def retyped(value):
    """The same value under another JSON type, or an absurd or negative number."""
    return st.sampled_from([
        str(value), [value], {"value": value}, None, True, -1, -(2**63), 2**63, 2**64 + 7, 10**12, 1.5,
        float("nan"), "", "\x00", Decimal("1e400"),
    ])


def paths(doc, prefix=()) -> list[tuple]:
    """The path (keys and indexes) of every value inside `doc`."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for key, value in items:
        out.append((*prefix, key))
        out += paths(value, (*prefix, key))
    return out


def at(doc, path):
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def mutated(draw, seed):
    """A deep copy of `seed` with one to three mutations at random places."""
    doc = loads(dumps(seed))
    for _ in range(draw(st.integers(1, 3))):
        found = paths(doc)
        if not found:
            break
        path = draw(st.sampled_from(found))
        parent, key = at(doc, path[:-1]), path[-1]
        op = draw(st.sampled_from(["drop", "replace", "retype", "unicode", "add_key"]))
        if op == "drop":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(json_values)
        elif op == "retype":
            parent[key] = draw(retyped(parent[key]))
        elif op == "unicode":
            parent[key] = str(parent[key]) + draw(st.text(min_size=1, max_size=6))
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(json_values)
    return doc


@st.composite
def damaged_text(draw, text: bytes):
    """Byte-level damage on serialized text: truncate, insert garbage, duplicate a line, or none."""
    op = draw(st.sampled_from(["none", "truncate", "garbage", "duplicate", "bom", "crlf"]))
    if op == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if op == "garbage":
        at_ = draw(st.integers(0, len(text)))
        return text[:at_] + draw(st.binary(min_size=1, max_size=12)) + text[at_:]
    if op == "duplicate":
        lines = text.split(b"\n")
        i = draw(st.integers(0, len(lines) - 1))
        return b"\n".join(lines[: i + 1] + lines[i:])
    if op == "bom":
        return b"\xef\xbb\xbf" + text
    if op == "crlf":
        return text.replace(b"\n", b"\r\n")
    return text


@st.composite
def log_text(draw, seeds: list[dict]) -> bytes:
    """JSONL of seed lines, mutated or left valid or replaced by any JSON value, then byte-level damage."""
    lines = draw(st.lists(st.sampled_from(seeds), min_size=1, max_size=5))
    docs = []
    for seed in lines:
        kind = draw(st.sampled_from(["mutated", "valid", "any"]))
        docs.append(draw(mutated(seed)) if kind == "mutated" else seed if kind == "valid" else draw(json_values))
    return draw(damaged_text(("\n".join(dumps(d) for d in docs) + "\n").encode()))


@st.composite
def page_text(draw, seed: dict) -> bytes:
    doc = draw(mutated(seed)) if draw(st.booleans()) else draw(json_values)
    return draw(damaged_text(dumps(doc).encode()))


# (key suffix, how the bytes are delivered): plain, gzipped, or a gzip stream cut short
deliveries = st.sampled_from([
    ("", lambda b: b),
    (".gz", lambda b: gzip.compress(b, mtime=0)),
    (".gz", lambda b: gzip.compress(b, mtime=0)[: max(10, len(b) // 3)]),
])


# ---------------------------------------------------------------------------------------------
# The invariants


def check_common(got, files: list[SourceFile], schema: pa.Schema, source_counts) -> list[dict]:
    """Schemas, per-file conservation and rejected rows; returns the records as dicts."""
    assert got.records.schema == schema
    assert got.rejects.schema == REJECTS_SCHEMA
    assert got.files.schema == FILES_SCHEMA
    keys = {f.key for f in files}
    rows = {r["file"]: r for r in got.files.to_pylist()}
    assert len(rows) == got.files.num_rows  # one row per file
    for row in rows.values():
        assert min(row["lines_read"], row["records"], row["skipped"], row["rejected"]) >= 0, row
        assert row["lines_read"] == row["records"] + row["skipped"] + row["rejected"], row
    records = got.records.to_pylist()
    for reject in got.rejects.to_pylist():
        assert reject["file"] in keys, reject
        assert isinstance(reject["reason"], str) and reject["reason"].strip(), reject
        line = reject["line"]
        assert line is None or 1 <= line <= rows[reject["file"]]["lines_read"], reject
        assert reject["raw"] is not None and len(reject["raw"]) <= 4096
    source_counts(rows, records, got.rejects.to_pylist())
    return records


def one_row_per_result(rows: dict, records: list[dict], rejects: list[dict]) -> None:
    """Pages: a record or a rejected row per counted unit, exactly."""
    for key, row in rows.items():
        assert sum(r["source_file"] == key for r in records) == row["records"]
        assert sum(r["file"] == key for r in rejects) == row["rejected"]


def one_outcome_per_line(rows: dict, records: list[dict], rejects: list[dict]) -> None:
    """Line-based files: the lines with a record are the records counted; the other lines with a
    rejected row are the rejected counted (an OTLP line with several spans counts once)."""
    for key, row in rows.items():
        record_lines = {r["source_line"] for r in records if r["source_file"] == key}
        rejected_lines = {r["line"] for r in rejects if r["file"] == key} - record_lines
        assert len(record_lines) == row["records"], (key, row)
        assert len(rejected_lines) == row["rejected"], (key, row)
        assert all(1 <= line <= row["lines_read"] for line in record_lines)


def check_log_records(records: list[dict]) -> None:
    for r in records:
        assert r["provider"] in PROVIDERS, r
        assert r["model"] and r["model"].strip(), r
        assert r["ts"] is not None and r["ts"].tzinfo is not None, r
        assert r["usage_date"] == r["ts"].astimezone(UTC).date()
        assert abs((r["usage_date"] - DAY).days) <= 1
        assert r["attempt"] >= 1
        for name in LOG_TOKENS:
            assert r[name] is None or 0 <= r[name] <= DEFAULT_MAX_RECORD_TOKENS, (name, r)
        assert 1 <= r["request_count"] <= DEFAULT_MAX_RECORD_TOKENS, r
        assert r["usage_known"] == (r["input_tokens"] is not None)
        if r["usage_known"]:
            assert r["cache_read_tokens"] + r["cache_creation_tokens"] <= r["input_tokens"], r


def parse_logs(data: bytes, key: str, log_source: str, other: bytes | None = None):
    """Parse `data` (and `other`, as a second file of the folder) and check every invariant."""
    files = [SourceFile(key, data)]
    if other is not None:
        files.append(SourceFile(key.replace("-01.", "-02."), other))
    got = parse_log_files(files, log_source=log_source, folder_date=DAY)
    check_log_records(check_common(got, files, bronze.MODEL_CALLS, one_outcome_per_line))
    assert got.files.num_rows == len(files)
    return got


# ---------------------------------------------------------------------------------------------
# App and worker logs


@FAST
@given(data=st.binary(max_size=400), gz=st.booleans())
def test_logs_never_raise_on_arbitrary_bytes(data, gz):
    parse_logs(data, WORKER_KEY if gz else LOG_KEY, "worker" if gz else "app")


@FAST
@given(text=log_text(APP_LINES + [OTLP_LINE]), delivery=deliveries, other=log_text(APP_LINES))
def test_app_logs_keep_their_invariants_on_mutated_records(text, delivery, other):
    suffix, deliver = delivery
    parse_logs(deliver(text), LOG_KEY + suffix, "app", other)


@FAST
@given(text=log_text(WORKER_LINES + [OTLP_LINE]))
def test_worker_logs_keep_their_invariants_on_mutated_records(text):
    parse_logs(gzip.compress(text, mtime=0), WORKER_KEY, "worker")


def test_the_invariants_catch_a_line_that_is_lost_or_counted_twice():
    got = parse_logs(("\n".join(dumps(d) for d in APP_LINES) + "\n").encode(), LOG_KEY, "app")
    lost = Ingested(got.records, got.rejects, got.files.set_column(
        4, "lines_read", pa.array([3], pa.int64())))
    twice = Ingested(pa.concat_tables([got.records, got.records.slice(0, 1)]), got.rejects, got.files)
    for broken in (lost, twice):
        with pytest.raises(AssertionError):
            check_common(broken, [SourceFile(LOG_KEY, b"")], bronze.MODEL_CALLS, one_row_per_result)


def test_the_log_seeds_are_valid():
    text = ("\n".join(dumps(d) for d in APP_LINES + WORKER_LINES + [OTLP_LINE]) + "\n").encode()
    got = parse_logs(text, LOG_KEY, "app")
    assert [(r["lines_read"], r["records"], r["skipped"], r["rejected"]) for r in got.files.to_pylist()] == [
        (6, 5, 1, 0)]
    assert got.records.column("model").to_pylist() == [
        "gpt-4o-mini-2024-07-18", "claude-sonnet-4-5", "gpt-4o-mini",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0", "gpt-4o-mini"]


# ---------------------------------------------------------------------------------------------
# OpenAI and Anthropic API pages


def check_usage_tokens(records: list[dict], names: tuple[str, ...]) -> None:
    for r in records:
        assert r["bucket_start"] is not None and r["bucket_start"] < r["bucket_end"], r
        assert r["usage_date"] == r["bucket_start"].astimezone(UTC).date()
        for name in names:
            assert r[name] is None or r[name] >= 0, (name, r)


def check_money(records: list[dict], column: str, currency: str) -> None:
    for r in records:
        assert isinstance(r[column], Decimal), r
        assert r[column].as_tuple().exponent == -12  # DECIMAL(38, 12), never a float
        assert r["currency"] == currency
        assert r["bucket_start"] is not None


PAGE_PARSERS = {
    "openai_usage": (
        lambda fs: openai.parse_usage_pages(fs, endpoint="completions", folder_date=DAY), bronze.OPENAI_USAGE,
        lambda rs: check_usage_tokens(rs, openai.USAGE_INT_FIELDS), OPENAI_USAGE_PAGE,
        "openai/usage/completions/2026-11-02/page-001.json"),
    "openai_costs": (
        lambda fs: openai.parse_cost_pages(fs, folder_date=DAY), bronze.OPENAI_COSTS,
        lambda rs: check_money(rs, "amount", "usd"), OPENAI_COST_PAGE, "openai/costs/2026-11-02/page-001.json"),
    "anthropic_usage": (
        lambda fs: anthropic.parse_usage_pages(fs, DAY), bronze.ANTHROPIC_USAGE,
        lambda rs: check_usage_tokens(rs, (*anthropic.USAGE_TOKENS, "web_search_requests")), ANTHROPIC_USAGE_PAGE,
        "anthropic/usage_report/2026-11-02/page-001.json"),
    "anthropic_costs": (
        lambda fs: anthropic.parse_cost_pages(fs, DAY), bronze.ANTHROPIC_COSTS,
        lambda rs: check_money(rs, "amount_usd", "USD"), ANTHROPIC_COST_PAGE,
        "anthropic/cost_report/2026-11-02/page-001.json"),
}


def parse_page(name: str, *pages: bytes):
    parse, schema, check, _, key = PAGE_PARSERS[name]
    files = [SourceFile(key.replace("001", f"{i:03d}"), data) for i, data in enumerate(pages, start=1)]
    got = parse(files)
    check(check_common(got, files, schema, one_row_per_result))
    assert got.files.num_rows == len(files)
    return got


def page_test(name: str):
    seed = PAGE_PARSERS[name][3]

    @QUICK
    @given(first=page_text(seed), second=st.binary(max_size=200))
    def test(first, second):
        parse_page(name, first, second)

    return test


test_openai_usage_pages_keep_their_invariants = page_test("openai_usage")
test_openai_cost_pages_keep_their_invariants = page_test("openai_costs")
test_anthropic_usage_pages_keep_their_invariants = page_test("anthropic_usage")
test_anthropic_cost_pages_keep_their_invariants = page_test("anthropic_costs")


def test_the_page_seeds_are_valid():
    assert {name: parse_page(name, dumps(p[3]).encode()).counts for name, p in PAGE_PARSERS.items()} == {
        "openai_usage": {"lines_read": 2, "records": 2, "skipped": 0, "rejected": 0, "files": 1},
        "openai_costs": {"lines_read": 2, "records": 2, "skipped": 0, "rejected": 0, "files": 1},
        "anthropic_usage": {"lines_read": 1, "records": 1, "skipped": 0, "rejected": 0, "files": 1},
        "anthropic_costs": {"lines_read": 2, "records": 2, "skipped": 0, "rejected": 0, "files": 1},
    }


LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z


@pytest.mark.parametrize("end_time", [10**12, 2**63, LAST_SECOND + 1])
def test_openai_bucket_times_beyond_the_calendar_are_rejected_not_a_crash(end_time):
    page = {**OPENAI_USAGE_PAGE, "data": [{**OPENAI_USAGE_PAGE["data"][0], "end_time": end_time}]}
    got = parse_page("openai_usage", dumps(page).encode())
    assert got.counts == {"lines_read": 1, "records": 0, "skipped": 0, "rejected": 1, "files": 1}
    assert got.rejects.column("line").to_pylist() == [None]


@pytest.mark.parametrize(("starting_at", "ending_at"), [
    ("0001-01-01T00:00:00+01:00", "2026-11-02T01:00:00Z"),
    ("9999-12-31T23:00:00Z", "9999-12-31T23:30:00Z"),
])
def test_anthropic_bucket_times_beyond_the_calendar_are_rejected_not_a_crash(starting_at, ending_at):
    bucket = {**ANTHROPIC_USAGE_PAGE["data"][0], "starting_at": starting_at, "ending_at": ending_at}
    got = parse_page("anthropic_usage", dumps({**ANTHROPIC_USAGE_PAGE, "data": [bucket]}).encode())
    assert got.counts == {"lines_read": 1, "records": 0, "skipped": 0, "rejected": 1, "files": 1}
    assert got.rejects.column("line").to_pylist() == [None]


# ---------------------------------------------------------------------------------------------
# Bedrock invocation logs and CUR 2.0


def parse_bedrock(data: bytes):
    files = [SourceFile(BEDROCK_KEY, data)]
    got = parse_invocation_logs(files, folder_date=DAY)
    records = check_common(got, files, BEDROCK_INVOCATIONS, one_outcome_per_line)
    for r in records:
        assert r["ts"] is not None and r["model_id"] and r["request_id"], r
        assert abs((r["usage_date"] - DAY).days) <= 1
        for name in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens"):
            assert r[name] is None or 0 <= r[name] <= BEDROCK_MAX_TOKENS, (name, r)
    assert "hello" not in str(got.records.to_pylist()) + str(got.rejects.to_pylist())  # no body is ever kept
    return got


@FAST
@given(data=st.binary(max_size=400) | log_text([BEDROCK_RECORD]), delivery=deliveries)
def test_bedrock_invocation_logs_keep_their_invariants(data, delivery):
    parse_bedrock(delivery[1](data))  # the key ends in .json.gz whatever the bytes are


def cur_file(rows: list[dict], schema: pa.Schema = CUR_SCHEMA) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buf)
    return buf.getvalue()


def cur_manifest(*names: str) -> bytes:
    return json.dumps({"executionId": "3f1c2b9e", "exportName": "darkcompute-cur",
                       "dataFiles": [f"s3://billing-bucket/{CUR_DATA}/{n}" for n in names]}).encode()


# a column's values under another Parquet type; `product` keeps its type here: text that is not
# JSON there is a known crash (test_a_cur_product_column_of_plain_text_is_read_not_a_crash)
RETYPED = {pa.string(): st.text(max_size=8), pa.int64(): st.integers(-(2**63), 2**63 - 1),
           pa.float64(): st.floats(), pa.bool_(): st.booleans()}


@st.composite
def cur_data(draw) -> bytes:
    """A valid CUR file with one column dropped, retyped or filled with hostile values, or bytes."""
    rows, schema = cur_rows(), CUR_SCHEMA
    op = draw(st.sampled_from(["values", "retype", "drop", "bytes", "valid"]))
    name = draw(st.sampled_from(schema.names))
    if op == "bytes":
        return draw(st.binary(max_size=300))
    if op == "drop":
        schema = schema.remove(schema.get_field_index(name))
        rows = [{k: v for k, v in r.items() if k != name} for r in rows]
    elif op == "retype":
        kind = draw(st.sampled_from(list(RETYPED)))
        schema = schema.set(schema.get_field_index(name), pa.field(name, kind))
        value = draw(RETYPED[kind])
        rows = [dict(r, **{name: value}) for r in rows]
    elif op == "values":
        kind = schema.field(name).type
        if pa.types.is_floating(kind):
            value = draw(st.floats() | st.sampled_from([-1e30, 1e30, -0.0, 5e-324]))
        elif pa.types.is_string(kind):
            value = draw(st.none() | st.text(max_size=40))
        else:
            value = None
        rows = [dict(r, **{name: value}) for r in rows]
    return cur_file(rows, schema)


@FAST
@given(data=cur_data(), manifest=st.sampled_from(["valid", "bytes"]), junk=st.binary(max_size=80))
def test_cur_deliveries_keep_their_invariants(data, manifest, junk):
    manifest_file = SourceFile(CUR_MANIFEST, cur_manifest("part-00000.parquet", "part-00001.parquet")
                               if manifest == "valid" else junk)
    files = [SourceFile(f"{CUR_DATA}/part-00000.parquet", data)]  # part-00001 is listed, never delivered
    got = parse_cur_delivery(manifest_file, files, delivered=[f.key for f in files])
    records = check_common(got, [manifest_file, *files, SourceFile(f"{CUR_DATA}/part-00001.parquet", b"")],
                           CUR_LINES, one_row_per_result)
    for r in records:
        assert r["usage_date"] is not None and r["line_item_type"], r
        assert r["unblended_cost"] is None or isinstance(r["unblended_cost"], Decimal), r
    if manifest == "valid":
        assert {r["file"]: r["rejected"] for r in got.files.to_pylist()}[f"{CUR_DATA}/part-00001.parquet"] == 1


def cur_csv(rows: list[dict]) -> str:
    """CUR rows as the CSV export writes them (ISO timestamps, shortest double text, JSON maps)."""
    def text(v) -> str:
        if v is None:
            return ""
        if isinstance(v, datetime):
            return v.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return json.dumps(dict(v)) if isinstance(v, list) else repr(v) if isinstance(v, float) else str(v)

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CUR_SCHEMA.names)
    writer.writerows([[text(r[n]) for n in CUR_SCHEMA.names] for r in rows])
    return buf.getvalue()


@st.composite
def cur_csv_data(draw) -> bytes:
    """A valid gzipped CSV CUR file with lines replaced, inserted or cut short, or bytes."""
    op = draw(st.sampled_from(["lines", "cut", "bytes", "valid"]))
    if op == "bytes":
        return draw(st.binary(max_size=300))
    lines = cur_csv(cur_rows()).splitlines()
    if op == "lines":
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(lines)))
            junk = draw(st.text(alphabet=st.sampled_from(list(',"\n\r ab1.e-') + ["\u00e9"]), max_size=60))
            if draw(st.booleans()) and at < len(lines):
                lines[at] = junk
            else:
                lines.insert(at, junk)
    body = ("\n".join(lines) + "\n").encode()
    if op == "cut":
        body = body[:draw(st.integers(0, len(body)))]
    return gzip.compress(body, mtime=0)


@FAST
@given(data=cur_csv_data())
def test_cur_csv_deliveries_keep_their_invariants(data):
    name = "darkcompute-cur-00001.csv.gz"
    manifest_file = SourceFile(CUR_MANIFEST, cur_manifest(name))
    files = [SourceFile(f"{CUR_DATA}/{name}", data)]
    got = parse_cur_delivery(manifest_file, files, delivered=[f.key for f in files])
    records = check_common(got, [manifest_file, *files], CUR_LINES, one_row_per_result)
    for r in records:
        assert r["usage_date"] is not None and r["line_item_type"], r
        assert isinstance(r["unblended_cost"], Decimal), r
        assert 2 <= r["source_line"] <= got.files["lines_read"][1].as_py(), r


def test_a_cur_product_column_of_plain_text_is_read_not_a_crash():
    schema = CUR_SCHEMA.set(CUR_SCHEMA.get_field_index("product"), pa.field("product", pa.string()))
    rows = [dict(r, product="Amazon Bedrock") for r in cur_rows()]
    files = [SourceFile(f"{CUR_DATA}/part-00000.parquet", cur_file(rows, schema))]
    manifest = SourceFile(CUR_MANIFEST, cur_manifest("part-00000.parquet"))
    got = parse_cur_delivery(manifest, files, delivered=[files[0].key])
    check_common(got, [manifest, *files], CUR_LINES, one_row_per_result)
    assert got.counts == {"lines_read": 3, "records": 3, "skipped": 0, "rejected": 0, "files": 2}


def test_the_bedrock_and_cur_seeds_are_valid():
    bedrock = parse_bedrock(gzip.compress((dumps(BEDROCK_RECORD) + "\n").encode()))
    assert bedrock.counts == {"lines_read": 1, "records": 1, "skipped": 0, "rejected": 0, "files": 1}
    files = [SourceFile(f"{CUR_DATA}/part-00000.parquet", cur_file(cur_rows()))]
    cur = parse_cur_delivery(SourceFile(CUR_MANIFEST, cur_manifest("part-00000.parquet")), files,
                             delivered=[files[0].key])
    assert cur.counts == {"lines_read": 3, "records": 3, "skipped": 0, "rejected": 0, "files": 2}
