"""The simulator writes a consistent world: every provider's exports, the logs and a truth that
agree to the cent, exactly, in the providers' documented shapes."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.lib.prices import canonical_model, catalog_rates
from pipelines.simulate import simulate
from pipelines.simulate.bedrock import PROMPT_MARKER, RESPONSE_MARKER
from pipelines.simulate.s3 import upload

START = date(2026, 11, 1)
DAYS = 2
CALLS = 1500
SEED = 7
DAY_KEYS = [(START + timedelta(days=i)).isoformat() for i in range(DAYS)]
PROVIDERS = ("openai", "anthropic", "aws.bedrock")
JOB_TYPES = (
    "ingest_summarization",
    "session_summarization",
    "proactive_suggestions",
    "embedding_regeneration",
    "llm_judge_evaluation",
)
LINE_ITEM = re.compile(r"^(?P<model>.+), (?P<kind>input|cached input|output)$")
OPENAI_CLASS = {"input": "uncached_input", "cached input": "cache_read", "output": "output"}
ANTHROPIC_CLASS = {
    "uncached_input_tokens": "uncached_input",
    "cache_read_input_tokens": "cache_read",
    "cache_creation.ephemeral_5m_input_tokens": "cache_write_5m",
    "cache_creation.ephemeral_1h_input_tokens": "cache_write_1h",
    "output_tokens": "output",
}
CUR_CLASS = {
    "USE1-MP:USE1_InputTokenCount-Units": "uncached_input",
    "USE1-MP:USE1_CacheReadInputTokenCount-Units": "cache_read",
    "USE1-MP:USE1_CacheWriteInputTokenCount-Units": "cache_write_5m",
    "USE1-MP:USE1_OutputTokenCount-Units": "output",
}
INVOCATIONS = "bedrock/AWSLogs/123456789012/BedrockModelInvocationLogs"
CUR_DATA = "cur/darkcompute-cur/data/BILLING_PERIOD=2026-11/part-00000.parquet"
CUR_MANIFEST = "cur/darkcompute-cur/metadata/BILLING_PERIOD=2026-11/darkcompute-cur-Manifest.json"
OTLP_INT = re.compile(r"^-?[0-9]+$")


def load(path: Path):
    return json.loads(path.read_text(), parse_float=Decimal)


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def dec(value) -> Decimal:
    return Decimal(value)


def next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def log_lines(sources: Path) -> list[tuple[str, str, str]]:
    """(log kind, folder day, raw line) for every line of every app and worker log file."""
    out = []
    for kind in ("app_logs", "worker_logs"):
        for path in sorted((sources / kind).glob("*/*")):
            data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
            assert data.endswith(b"\n")
            out += [(kind, path.parent.name, line) for line in data.decode().splitlines()]
    return out


def parsed(line: str) -> dict | None:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def otlp_value(value: dict):
    """A typed OTLP/JSON attribute value (intValue is a decimal string in the proto3 mapping)."""
    [(kind, raw)] = value.items()
    assert kind in ("stringValue", "intValue", "boolValue"), kind
    if kind == "intValue":
        assert isinstance(raw, str) and OTLP_INT.match(raw)
        return int(raw)
    assert isinstance(raw, bool if kind == "boolValue" else str)
    return raw


def spans_of(record: dict) -> list[dict]:
    """The flat records an OTLP/JSON line carries (one per span), keyed like flat lines."""
    out = []
    for resource_spans in record["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                flat = {a["key"]: otlp_value(a["value"]) for a in span["attributes"]}
                start = int(span["startTimeUnixNano"])
                flat["timestamp"] = datetime.fromtimestamp(start / 1e9, tz=timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                out.append(flat)
    return out


def calls_in(record: dict) -> list[dict]:
    """Model-call records of one parsed line, deprecated names mapped to the current ones."""
    if "resourceSpans" in record:
        return spans_of(record)
    if "gen_ai.system" in record:
        record = dict(record)
        record["gen_ai.provider.name"] = record.pop("gen_ai.system")
        for old, new in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens")):
            if f"gen_ai.usage.{old}" in record:
                record[f"gen_ai.usage.{new}"] = record.pop(f"gen_ai.usage.{old}")
    return [record] if "gen_ai.provider.name" in record else []


def logged_calls(sources: Path) -> list[dict]:
    return [c for _, _, line in log_lines(sources) for c in calls_in(parsed(line) or {})]


def invocation_files(sources: Path) -> list[Path]:
    return sorted(p for p in (sources / INVOCATIONS).rglob("*.json.gz") if "/data/" not in p.as_posix())


def invocations(sources: Path) -> list[tuple[Path, dict]]:
    return [(p, json.loads(line)) for p in invocation_files(sources)
            for line in gzip.decompress(p.read_bytes()).decode().splitlines()]


def cur_lines() -> str:
    return ("select line_item_usage_start_date::date::varchar as day, line_item_line_item_type as kind, "
            "line_item_iam_principal as principal, line_item_resource_id as resource, "
            "line_item_usage_type as usage_type, line_item_usage_amount as tokens, "
            "line_item_unblended_cost::decimal(38, 12) as cost from read_parquet(?)")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    summary = simulate(out, START, DAYS, CALLS, SEED)
    return out, summary, load(out / "ground_truth.json")


# ------------------------------------------------------------------------------ determinism
def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    out, summary, _ = world
    again = simulate(tmp_path / "again", START, DAYS, CALLS, SEED)
    assert tree(tmp_path / "again") == tree(out)
    assert again == {**summary, "out": str(tmp_path / "again")}

    simulate(tmp_path / "other", START, DAYS, CALLS, SEED + 1)
    first, other = tree(out), tree(tmp_path / "other")
    assert first["ground_truth.json"] != other["ground_truth.json"]
    shared = set(first) & set(other) - {f"sources/{INVOCATIONS}/amazon-bedrock-logs-permission-check"}
    assert sum(first[k] != other[k] for k in shared) >= len(shared) - 1  # ~every file differs


def test_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="providers"):
        simulate(tmp_path, START, 1, 10, providers=("azure",))
    with pytest.raises(ValueError, match="otlp_share"):
        simulate(tmp_path, START, 1, 10, otlp_share=1.5)


def test_provisional_days_lose_only_their_cost_exports(world, tmp_path):
    """`provisional_days=1`: the last day's OpenAI costs pages, Anthropic cost_report and CUR rows
    are not written; every other file (but the CUR data file and its manifest) and the truth are
    the bytes of the world without it."""
    out, _, _ = world
    summary = simulate(tmp_path, START, DAYS, CALLS, SEED, provisional_days=1)
    full, late = tree(out), tree(tmp_path)
    last = DAY_KEYS[-1]
    gone = {f"sources/openai/costs/{last}/page-001.json", f"sources/anthropic/cost_report/{last}/page-001.json"}
    assert set(full) - set(late) == gone and set(late) <= set(full)
    assert {k for k in late if late[k] != full[k]} == {f"sources/{CUR_DATA}", f"sources/{CUR_MANIFEST}"}
    assert summary["files_written"] == len(late)
    con = duckdb.connect()
    days = con.execute("select line_item_usage_start_date::date::varchar as day, count(*) from read_parquet(?) "
                       "group by all order by all", [str(tmp_path / "sources" / CUR_DATA)]).fetchall()
    assert [d for d, _ in days] == DAY_KEYS[:-1]
    with pytest.raises(ValueError, match="provisional_days"):
        simulate(tmp_path / "bad", START, DAYS, 10, SEED, provisional_days=DAYS + 1)


def test_one_provider_only(tmp_path):
    summary = simulate(tmp_path, START, 1, 300, SEED, providers=("anthropic",), otlp_share=0, deprecated_share=0)
    assert list(summary["days"][DAY_KEYS[0]]) == ["anthropic"]
    assert sorted(p.name for p in (tmp_path / "sources").iterdir()) == ["anthropic", "app_logs", "worker_logs"]
    # embeddings need OpenAI: without it there are none
    assert {(c["gen_ai.provider.name"], c["gen_ai.operation.name"]) for c in logged_calls(tmp_path / "sources")} == {
        ("anthropic", "chat")}


def test_layout(world):
    out, summary, truth = world
    sources = out / "sources"
    for day in DAY_KEYS:
        assert sorted(p.name for p in (sources / "openai/usage/completions" / day).iterdir()) == [
            "page-001.json", "page-002.json"]
        assert (sources / "openai/usage/embeddings" / day / "page-001.json").is_file()
        assert (sources / "openai/costs" / day / "page-001.json").is_file()
        assert sorted(p.name for p in (sources / "anthropic/usage_report" / day).iterdir()) == [
            "page-001.json", "page-002.json", "page-003.json"]
        assert sorted(p.name for p in (sources / "anthropic/cost_report" / day).iterdir()) == ["page-001.json"]
        assert sorted(p.name for p in (sources / "app_logs" / day).iterdir()) == ["app-01.jsonl", "app-02.jsonl"]
        assert sorted(p.name for p in (sources / "worker_logs" / day).iterdir()) == [
            "worker-01.jsonl.gz", "worker-02.jsonl.gz"]
    assert sorted(str(p.relative_to(sources)) for p in (sources / "cur").rglob("*") if p.is_file()) == [
        CUR_DATA, CUR_MANIFEST]
    # late lines of the last day land in the folder after it; no exports for that day
    after = (START + timedelta(days=DAYS)).isoformat()
    assert any((sources / kind / after).is_dir() for kind in ("app_logs", "worker_logs"))
    assert not (sources / "openai/costs" / after).exists() and not (sources / "anthropic/cost_report" / after).exists()
    assert sorted(truth["days"]) == DAY_KEYS
    assert summary["files_written"] == len(tree(out))
    for day in DAY_KEYS:
        assert list(truth["days"][day]) == list(PROVIDERS)
        for provider in PROVIDERS:
            got, want = summary["days"][day][provider], truth["days"][day][provider]
            assert got == {k: want[k] for k in ("provider_requests", "logged_calls", "invoice_usd")}
        requests = sum(t["provider_requests"] for t in truth["days"][day].values())
        assert 0.85 * CALLS < requests < 1.1 * CALLS
        shares = [truth["days"][day][p]["provider_requests"] / requests for p in PROVIDERS]
        assert 0.45 < shares[0] < 0.65 and 0.2 < shares[1] < 0.35 and 0.12 < shares[2] < 0.25


# ------------------------------------------------------------------------------ the identity, per provider
def test_every_provider_splits_its_invoice_exactly(world):
    _, _, truth = world
    for day in DAY_KEYS:
        for provider in PROVIDERS:
            t = truth["days"][day][provider]
            dark = sum((dec(v) for v in t["dark_usd_by_job_type"].values()), Decimal(0))
            assert dec(t["invoice_usd"]) == dec(t["user_usd"]) + dark + dec(t["non_token_usd"])
            assert sum((dec(v) for v in t["unlogged_by_origin"].values()), Decimal(0)) == dec(
                t["dark_usd_by_job_type"].get("__unlogged__", "0"))
            assert dec(t["user_usd"]) > 0 and dec(t["non_token_usd"]) > 0
        assert dec(truth["days"][day]["anthropic"]["catalog_priced_usd"]) > 0
        assert truth["days"][day]["openai"]["catalog_priced_usd"] == "0"
        assert truth["days"][day]["aws.bedrock"]["catalog_priced_usd"] == "0"


def test_every_job_type_and_the_residual_are_planted(world):
    _, _, truth = world
    expected = {
        "openai": {*JOB_TYPES, "__unlogged__"},
        "anthropic": {*JOB_TYPES, "__unlogged__"} - {"embedding_regeneration"},
        "aws.bedrock": {*JOB_TYPES, "__unlogged__", "nightly_digest"} - {"embedding_regeneration"},
    }
    for day in DAY_KEYS:
        for provider, keys in expected.items():
            dark = truth["days"][day][provider]["dark_usd_by_job_type"]
            assert keys <= set(dark), (day, provider, keys - set(dark))
            assert "embedding_regeneration" not in dark or provider == "openai"
            assert any(k.startswith("retry:") for k in dark)
        origins = truth["days"][day]["openai"]["unlogged_by_origin"]
        assert set(origins) == {"non_logging_service", "sdk_retry", "usage_unknown", "corrupt_line"}
        assert {"non_logging_service", "usage_unknown", "corrupt_line"} <= set(
            truth["days"][day]["anthropic"]["unlogged_by_origin"])
        assert {"non_logging_service", "usage_unknown", "corrupt_line"} <= set(
            truth["days"][day]["aws.bedrock"]["unlogged_by_origin"])


# ------------------------------------------------------------------------------ OpenAI exports
def test_openai_costs_add_up_to_the_invoice_exactly(world):
    out, _, truth = world
    for day in DAY_KEYS:
        t = truth["days"][day]["openai"]
        page = load(out / "sources/openai/costs" / day / "page-001.json")
        assert page["object"] == "page" and page["has_more"] is False and page["next_page"] is None
        [bucket] = page["data"]
        assert bucket["end_time"] - bucket["start_time"] == 86_400
        assert datetime.fromtimestamp(bucket["start_time"], tz=timezone.utc).date().isoformat() == day
        amounts = [r["amount"]["value"] for r in bucket["results"]]
        assert all(isinstance(a, Decimal) for a in amounts)  # written as exact decimal literals
        assert sum(amounts, Decimal(0)) == dec(t["invoice_usd"])
        non_token_lines = [r for r in bucket["results"] if r["quantity"] is None]
        assert [(r["line_item"], r["project_id"]) for r in non_token_lines] == [("web search tool calls", "proj_app")]
        assert non_token_lines[0]["amount"]["value"] == dec(t["non_token_usd"])
        for r in bucket["results"]:
            assert r["object"] == "organization.costs.result" and r["amount"]["currency"] == "usd"
            if r["quantity"] is None:
                continue
            m = LINE_ITEM.match(r["line_item"])
            rate = getattr(catalog_rates("openai", m["model"], date.fromisoformat(day)), OPENAI_CLASS[m["kind"]])
            assert r["quantity_unit"] == "tokens" and r["quantity"] > 0
            assert r["amount"]["value"] == rate * r["quantity"] / 1_000_000


def test_openai_usage_pages(world):
    out, _, truth = world
    for day in DAY_KEYS:
        folder = out / "sources/openai/usage/completions" / day
        first, second = load(folder / "page-001.json"), load(folder / "page-002.json")
        assert first["has_more"] is True and isinstance(first["next_page"], str)
        assert second["has_more"] is False and second["next_page"] is None
        buckets = first["data"] + second["data"]
        day_start = int(datetime.fromisoformat(day + "T00:00:00+00:00").timestamp())
        assert [b["start_time"] for b in buckets] == [day_start + 3600 * h for h in range(24)]
        requests = 0
        for r in (r for b in buckets for r in b["results"]):
            assert r["input_tokens"] == (r["input_uncached_tokens"] + r["input_cached_tokens"]
                                         + r["input_cache_write_tokens"])
            assert r["input_cache_write_tokens"] == 0 and r["batch"] is False and r["service_tier"] == "default"
            assert r["project_id"] in ("proj_app", "proj_jobs", "proj_digest")
            requests += r["num_model_requests"]
        [emb] = load(out / "sources/openai/usage/embeddings" / day / "page-001.json")["data"]
        assert {r["model"] for r in emb["results"]} == {"text-embedding-3-small"}
        requests += sum(r["num_model_requests"] for r in emb["results"])
        assert requests == truth["days"][day]["openai"]["provider_requests"]


# ------------------------------------------------------------------------------ Anthropic exports
def test_anthropic_usage_pages(world):
    out, _, _ = world
    for day in DAY_KEYS:
        folder = out / "sources/anthropic/usage_report" / day
        pages = [load(folder / f"page-00{i}.json") for i in (1, 2, 3)]
        assert [p["has_more"] for p in pages] == [True, True, False]
        buckets = [b for p in pages for b in p["data"]]
        starts = [f"{day}T{h:02d}:00:00Z" for h in range(24)]
        assert [b["starting_at"] for b in buckets] == starts
        assert [b["ending_at"] for b in buckets] == starts[1:] + [f"{next_day(day)}T00:00:00Z"]
        cursors = [p["next_page"] for p in pages]
        assert cursors == ["page_" + base64.b64encode(s.encode()).decode() for s in (starts[8], starts[16])] + [None]
        results = [r for b in buckets for r in b["results"]]
        groups = Counter((r["workspace_id"], r["service_tier"]) for r in results)
        assert set(groups) == {(None, "standard"), ("wrkspc_app", "standard"), ("wrkspc_jobs", "standard"),
                               ("wrkspc_rt", "priority")}
        for r in results:
            assert set(r) == {"uncached_input_tokens", "cache_read_input_tokens", "cache_creation", "output_tokens",
                              "server_tool_use", "workspace_id", "api_key_id", "account_id", "service_account_id",
                              "model", "service_tier", "context_window", "inference_geo"}
            assert r["model"] in ("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001")
            assert r["context_window"] == "0-200k" and r["api_key_id"] is None and r["inference_geo"] is None
            writes = r["cache_creation"]
            # one TTL per workspace: the jobs workspace keeps its cache an hour, the others 5 minutes
            assert writes["ephemeral_1h_input_tokens"] == 0 or r["workspace_id"] == "wrkspc_jobs"
            assert writes["ephemeral_5m_input_tokens"] == 0 or r["workspace_id"] != "wrkspc_jobs"
        assert sum(r["cache_creation"]["ephemeral_1h_input_tokens"] for r in results) > 0
        assert sum(r["cache_creation"]["ephemeral_5m_input_tokens"] for r in results) > 0
        assert sum(r["cache_read_input_tokens"] for r in results) > 0


def test_anthropic_cost_report_in_cents_plus_priority_at_catalog_is_the_invoice(world):
    out, _, truth = world
    for day in DAY_KEYS:
        t = truth["days"][day]["anthropic"]
        page = load(out / "sources/anthropic/cost_report" / day / "page-001.json")
        assert page["has_more"] is False and page["next_page"] is None
        [bucket] = page["data"]
        assert (bucket["starting_at"], bucket["ending_at"]) == (f"{day}T00:00:00Z", f"{next_day(day)}T00:00:00Z")
        results = bucket["results"]
        assert all(isinstance(r["amount"], str) and re.fullmatch(r"[0-9]+\.[0-9]{6,}", r["amount"]) for r in results)
        dollars = sum((dec(r["amount"]) / 100 for r in results), Decimal(0))
        assert dollars + dec(t["catalog_priced_usd"]) == dec(t["invoice_usd"])
        assert {r["workspace_id"] for r in results} == {None, "wrkspc_app", "wrkspc_jobs"}  # no Priority Tier lines
        [search] = [r for r in results if r["cost_type"] == "web_search"]
        assert search["description"] == "Web Search Usage" and search["workspace_id"] == "wrkspc_app"
        assert search["model"] is None and search["token_type"] is None
        assert dec(search["amount"]) / 100 == dec(t["non_token_usd"])
        searches = sum(r["server_tool_use"]["web_search_requests"]
                       for p in sorted((out / "sources/anthropic/usage_report" / day).iterdir())
                       for b in load(p)["data"] for r in b["results"])
        assert dec(search["amount"]) == searches  # one cent a search ($10 per 1,000)

        # token lines are tokens x catalog rate of the standard-tier usage; priority usage is the catalog part
        usage = defaultdict(int)
        for p in sorted((out / "sources/anthropic/usage_report" / day).iterdir()):
            for r in (r for b in load(p)["data"] for r in b["results"]):
                for token_type, token_class in ANTHROPIC_CLASS.items():
                    head, _, tail = token_type.partition(".")
                    n = r[head][tail] if tail else r[head]
                    usage[(r["workspace_id"], r["model"], r["service_tier"], token_class)] += n
        priority = Decimal(0)
        for (workspace, model, tier, token_class), n in usage.items():
            rate = getattr(catalog_rates("anthropic", model, date.fromisoformat(day)), token_class)
            lines = [r for r in results if r["cost_type"] == "tokens" and r["workspace_id"] == workspace
                     and r["model"] == model and ANTHROPIC_CLASS[r["token_type"]] == token_class]
            if tier == "priority":
                assert lines == []
                priority += rate * n / 1_000_000
            elif n:
                [line] = lines
                assert dec(line["amount"]) == rate * n / 10_000  # cents
                assert (line["currency"], line["service_tier"], line["context_window"]) == ("USD", "standard", "0-200k")
            else:
                assert lines == []
        assert priority == dec(t["catalog_priced_usd"])


# ------------------------------------------------------------------------------ Bedrock exports
def test_invocation_logs_are_every_bedrock_call_in_the_documented_shape(world):
    out, _, truth = world
    sources = out / "sources"
    records = invocations(sources)
    ids = [r["requestId"] for _, r in records]
    assert len(ids) == len(set(ids))
    per_day = Counter(r["timestamp"][:10] for _, r in records)
    assert dict(per_day) == {d: truth["days"][d]["aws.bedrock"]["provider_requests"] for d in DAY_KEYS}
    next_hour = next_day = 0
    for path, r in records:
        assert set(r) <= {"schemaType", "schemaVersion", "timestamp", "accountId", "identity", "region",
                          "inferenceRegion", "requestId", "operation", "modelId", "requestMetadata", "input", "output"}
        assert (r["schemaType"], r["schemaVersion"], r["accountId"], r["region"], r["operation"]) == (
            "ModelInvocationLog", "1.0", "123456789012", "us-east-1", "Converse")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["timestamp"])
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", r["requestId"])
        assert r["identity"]["arn"].startswith("arn:aws:sts::123456789012:assumed-role/")
        assert r["modelId"] in ("us.anthropic.claude-haiku-4-5-20251001-v1:0",
                                "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
        assert all(isinstance(v, str) for v in r.get("requestMetadata", {}).values())
        inp, outp = r["input"], r["output"]
        assert inp["inputContentType"] == outp["outputContentType"] == "application/json"
        assert ("inputBodyJson" in inp) != ("inputBodyS3Path" in inp)
        for key in ("inputTokenCount", "cacheReadInputTokenCount", "cacheWriteInputTokenCount"):
            assert isinstance(inp[key], int) and inp[key] >= 0
        usage = outp["outputBodyJson"]["usage"]
        assert (usage["inputTokens"], usage["outputTokens"]) == (inp["inputTokenCount"], outp["outputTokenCount"])
        assert inp["inputTokenCount"] + inp["cacheReadInputTokenCount"] + inp["cacheWriteInputTokenCount"] < 200_000
        # delivered within the hour prefix of the call or a later one (delivery-time partitioning)
        prefix = datetime.strptime("/".join(path.parts[-5:-1]), "%Y/%m/%d/%H").replace(tzinfo=timezone.utc)
        called = datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
        assert called.replace(minute=0, second=0) <= prefix <= called + timedelta(hours=1)
        next_hour += prefix > called
        next_day += prefix.date() > called.date()
    assert next_hour >= 5 and next_day >= 1
    metadata = Counter(tuple(sorted(r.get("requestMetadata", {}))) for _, r in records)
    assert {("job_type",), ("attempt", "job_type"), ("feature",), ()} <= set(metadata)
    attempts = {r["requestMetadata"]["attempt"] for _, r in records if "attempt" in r.get("requestMetadata", {})}
    assert attempts == {"2", "3"}


def test_skipped_objects_beside_the_logs(world):
    out, _, _ = world
    root = out / "sources" / INVOCATIONS
    assert (root / "amazon-bedrock-logs-permission-check").is_file()
    data = sorted(p for p in root.rglob("*") if "/data/" in p.as_posix() and p.is_file())
    assert len(data) == DAYS
    offloaded = {r["requestId"]: r["input"]["inputBodyS3Path"] for _, r in invocations(out / "sources")
                 if "inputBodyS3Path" in r["input"]}
    assert sorted(offloaded.values()) == sorted(
        f"s3://darkcompute-sources/{p.relative_to(out / 'sources').as_posix()}" for p in data)
    for p in data:
        body = json.loads(gzip.decompress(p.read_bytes()))
        assert body["messages"][0]["content"][0]["text"].startswith(PROMPT_MARKER)


def test_prompt_text_only_inside_the_bodies(world):
    out, _, _ = world
    sources = out / "sources"
    records = invocations(sources)
    for _, r in records:
        bodies = [r["input"].pop("inputBodyJson", None), r["output"].pop("outputBodyJson")]
        assert PROMPT_MARKER not in json.dumps(r) and RESPONSE_MARKER not in json.dumps(r)
        assert bodies[1]["output"]["message"]["content"][0]["text"].startswith(RESPONSE_MARKER)
        assert bodies[0] is None or bodies[0]["messages"][0]["content"][0]["text"].startswith(PROMPT_MARKER)
    for path in sorted(p for p in sources.rglob("*") if p.is_file() and INVOCATIONS not in p.as_posix()):
        data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        assert PROMPT_MARKER.encode() not in data and RESPONSE_MARKER.encode() not in data, path


def test_cur_is_the_bedrock_invoice_and_matches_the_invocation_logs(world):
    out, _, truth = world
    sources = out / "sources"
    manifest = json.loads((sources / CUR_MANIFEST).read_text())
    assert manifest["dataFiles"] == [f"s3://darkcompute-sources/{CUR_DATA}"]
    assert manifest["billingPeriod"] == {"start": "2026-11-01T00:00:00.000Z", "end": "2026-12-01T00:00:00.000Z"}
    assert manifest["exportName"] == "darkcompute-cur" and manifest["exportArn"].startswith("arn:aws:bcm-data-exports:")
    table = pq.read_table(sources / CUR_DATA)
    assert [c["name"] for c in manifest["columns"]] == table.column_names
    assert {"bill_billing_period_start_date", "line_item_line_item_type", "line_item_usage_start_date",
            "line_item_usage_end_date", "line_item_product_code", "line_item_usage_type", "line_item_operation",
            "line_item_resource_id", "line_item_usage_amount", "pricing_unit", "line_item_unblended_cost",
            "line_item_currency_code", "line_item_iam_principal", "product", "resource_tags"} <= set(table.column_names)
    for name in ("product", "resource_tags"):
        kind = table.schema.field(name).type
        assert pa.types.is_map(kind) and kind.key_type == kind.item_type == pa.string()

    con = duckdb.connect()
    rows = con.execute(cur_lines(), [str(sources / CUR_DATA)]).fetchall()
    cur_tokens: dict[tuple, int] = defaultdict(int)
    for day in DAY_KEYS:
        t = truth["days"][day]["aws.bedrock"]
        lines = [r for r in rows if r[0] == day]
        assert sum((r[6] for r in lines), Decimal(0)) == dec(t["invoice_usd"])
        kinds = Counter(r[1] for r in lines)
        assert kinds["Tax"] == 1 and kinds["Credit"] == 1 and set(kinds) == {"Usage", "Tax", "Credit"}
        [credit] = [r for r in lines if r[1] == "Credit"]
        [tax] = [r for r in lines if r[1] == "Tax"]
        assert credit[6] < 0 < tax[6] and credit[6] + tax[6] == dec(t["non_token_usd"])
        for _, kind, principal, resource, usage_type, tokens, cost in lines:
            if kind != "Usage":
                continue
            model = resource.rsplit("/", 1)[1]
            token_class = CUR_CLASS[usage_type]
            rate = getattr(catalog_rates("aws.bedrock", model, date.fromisoformat(day)), token_class)
            assert tokens == int(tokens) and cost == rate * int(tokens) / 1_000_000
            cur_tokens[(day, principal, model, token_class)] += int(tokens)
    log_tokens: dict[tuple, int] = defaultdict(int)
    for _, r in invocations(sources):
        cell = (r["timestamp"][:10], r["identity"]["arn"], r["modelId"])
        for key, token_class in (("inputTokenCount", "uncached_input"), ("cacheReadInputTokenCount", "cache_read"),
                                 ("cacheWriteInputTokenCount", "cache_write_5m")):
            log_tokens[(*cell, token_class)] += r["input"][key]
        log_tokens[(*cell, "output")] += r["output"]["outputTokenCount"]
    assert {k: v for k, v in log_tokens.items() if v} == dict(cur_tokens)
    principals = {k[1].rsplit("/", 2)[1] for k in cur_tokens}
    assert principals == {"app-role", "worker-role", "batch-role"}


def test_cur_has_one_data_file_and_manifest_per_billing_period(tmp_path):
    simulate(tmp_path, date(2026, 10, 31), 2, 300, SEED, providers=("aws.bedrock",), otlp_share=0)
    sources = tmp_path / "sources"
    con = duckdb.connect()
    for period, day in (("2026-10", "2026-10-31"), ("2026-11", "2026-11-01")):
        data = f"cur/darkcompute-cur/data/BILLING_PERIOD={period}/part-00000.parquet"
        manifest = json.loads((sources / f"cur/darkcompute-cur/metadata/BILLING_PERIOD={period}/"
                                         f"darkcompute-cur-Manifest.json").read_text())
        assert manifest["dataFiles"] == [f"s3://darkcompute-sources/{data}"]
        assert manifest["billingPeriod"]["start"] == f"{period}-01T00:00:00.000Z"
        days = con.execute("select distinct line_item_usage_start_date::date::varchar, "
                           "bill_billing_period_start_date::date::varchar from read_parquet(?)",
                           [str(sources / data)]).fetchall()
        assert days == [(day, f"{period}-01")]


def test_a_csv_cur_holds_the_parquet_rows_as_text_and_is_deterministic(tmp_path):
    kw = dict(providers=("aws.bedrock",), otlp_share=0, cross_region=True)
    simulate(tmp_path / "parquet", date(2026, 10, 31), 2, 300, SEED, **kw)
    simulate(tmp_path / "csv", date(2026, 10, 31), 2, 300, SEED, cur_format="csv", **kw)
    simulate(tmp_path / "csv2", date(2026, 10, 31), 2, 300, SEED, cur_format="csv", **kw)
    assert tree(tmp_path / "csv") == tree(tmp_path / "csv2")
    con = duckdb.connect()
    for period in ("2026-10", "2026-11"):
        folder = f"sources/cur/darkcompute-cur/data/BILLING_PERIOD={period}"
        manifest = json.loads((tmp_path / "csv" / f"sources/cur/darkcompute-cur/metadata/BILLING_PERIOD={period}/"
                                                   "darkcompute-cur-Manifest.json").read_text())
        assert manifest["dataFiles"] == [
            f"s3://darkcompute-sources/{folder.removeprefix('sources/')}/darkcompute-cur-00001.csv.gz"]
        parquet = con.execute(
            "select line_item_usage_type, line_item_resource_id, line_item_unblended_cost::decimal(38, 12), "
            "line_item_usage_start_date, product['product_name'] from read_parquet(?) order by all",
            [str(tmp_path / "parquet" / folder / "part-00000.parquet")]).fetchall()
        from_csv = con.execute(
            "select line_item_usage_type, line_item_resource_id, line_item_unblended_cost::decimal(38, 12), "
            "strptime(line_item_usage_start_date, '%Y-%m-%dT%H:%M:%S.%gZ'), product ->> '$.product_name' "
            "from read_csv(?, all_varchar = true) order by all",
            [str(tmp_path / "csv" / folder / "darkcompute-cur-00001.csv.gz")]).fetchall()
        assert from_csv == parquet and len(parquet) > 10
        # the global profile's lines carry _Global, billed in the caller's region (USE1)
        assert any((u or "").endswith("_Global-Units") and (r or "").endswith("/global.anthropic.claude-sonnet-4-5-20250929-v1:0")
                   for u, r, *_ in from_csv)
    with pytest.raises(ValueError, match="cur_format"):
        simulate(tmp_path / "bad", START, 1, 10, cur_format="json")


# ------------------------------------------------------------------------------ logs
def test_logged_calls_match_the_log_lines(world):
    out, _, truth = world
    calls, corrupt, unknown, lifecycle, late, deprecated = Counter(), 0, Counter(), 0, 0, 0
    for kind, folder, line in log_lines(out / "sources"):
        record = parsed(line)
        if record is None:
            corrupt += 1
            assert line.startswith('{"timestamp":"')
            continue
        deprecated += "gen_ai.system" in record
        records = calls_in(record)
        if not records:
            assert kind == "worker_logs" and record["event"] in ("job.started", "job.finished")
            assert not any(k.startswith("gen_ai.") for k in record)
            lifecycle += 1
            continue
        for rec in records:
            assert rec["timestamp"].endswith("Z")
            day = rec["timestamp"][:10]
            assert folder in (day, (date.fromisoformat(day) + timedelta(days=1)).isoformat())
            late += folder != day
            provider = rec["gen_ai.provider.name"]
            calls[(day, provider)] += 1
            assert ("job_type" in rec) == (kind == "worker_logs")
            if "gen_ai.usage.input_tokens" not in rec:
                unknown[(day, provider)] += 1
                assert "gen_ai.usage.output_tokens" not in rec and kind == "app_logs"
            else:
                cached = rec.get("gen_ai.usage.cache_read.input_tokens", 0)
                written = rec.get("gen_ai.usage.cache_creation.input_tokens", 0)
                assert rec["gen_ai.usage.input_tokens"] >= cached + written  # OpenTelemetry: input includes cache
                assert rec["gen_ai.usage.input_tokens"] < 200_000  # the 0-200k context window
                assert ("gen_ai.usage.cache_creation.input_tokens" in rec) == (
                    provider != "openai" and rec["gen_ai.operation.name"] == "chat")
    t = truth["days"]
    assert dict(calls) == {(d, p): t[d][p]["logged_calls"] for d in DAY_KEYS for p in PROVIDERS}
    assert dict(unknown) == {(d, p): t[d][p]["usage_unknown_calls"] for d in DAY_KEYS for p in PROVIDERS}
    assert corrupt == sum(t[d][p]["corrupt_lines"] for d in DAY_KEYS for p in PROVIDERS) >= 2 * DAYS
    assert lifecycle > 0 and late > 0 and deprecated > 0


def test_otlp_lines_have_the_documented_encoding(world):
    out, _, _ = world
    lines = [parsed(line) for kind, _, line in log_lines(out / "sources") if '"resourceSpans"' in line]
    span_counts = Counter(len(spans_of(r)) for r in lines)
    assert set(span_counts) == {1, 2} and span_counts[2] > 0
    app_lines = sum(1 for kind, _, line in log_lines(out / "sources") if kind == "app_logs")
    assert 0.05 < len(lines) / app_lines < 0.15  # otlp_share = 0.1 of app calls
    for record in lines:
        assert list(record) == ["resourceSpans"]
        [rs] = record["resourceSpans"]
        resource = {a["key"]: otlp_value(a["value"]) for a in rs["resource"]["attributes"]}
        assert resource["service.name"] == "darkcompute-app"
        [ss] = rs["scopeSpans"]
        assert set(ss["scope"]) == {"name", "version"}
        for span in ss["spans"]:
            assert re.fullmatch(r"[0-9a-f]{32}", span["traceId"]) and re.fullmatch(r"[0-9a-f]{16}", span["spanId"])
            assert span["kind"] == 3
            assert isinstance(span["startTimeUnixNano"], str) and isinstance(span["endTimeUnixNano"], str)
            assert int(span["startTimeUnixNano"]) < int(span["endTimeUnixNano"])
            attributes = {a["key"]: a["value"] for a in span["attributes"]}
            assert len(attributes) == len(span["attributes"])
            assert span["name"] == f'{attributes["gen_ai.operation.name"]["stringValue"]} ' \
                                   f'{attributes["gen_ai.request.model"]["stringValue"]}'
            if "gen_ai.usage.input_tokens" in attributes:
                assert set(attributes["gen_ai.usage.input_tokens"]) == {"intValue"}
            assert span["status"] in ({}, {"code": 2, "message": "model call failed"})
            assert (span["status"] == {}) == (attributes["status"]["stringValue"] == "ok")


def test_lines_sorted_by_timestamp_within_each_file(world):
    out, _, _ = world
    for kind in ("app_logs", "worker_logs"):
        for path in sorted((out / "sources" / kind).glob("*/*")):
            data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
            stamps = []
            for line in data.decode().splitlines():
                record = parsed(line)
                if record and "resourceSpans" in record:
                    stamps.append(spans_of(record)[0]["timestamp"])
                else:
                    stamps.append(line[14:38])  # the timestamp text of a flat line (corrupted ones too)
            assert stamps == sorted(stamps)


# ------------------------------------------------------------------------------ the truth, recomputed from the files
def billed_cells(sources: Path, day: str) -> tuple[dict, dict]:
    """Per (provider, account, canonical model, token class): billed tokens and dollars."""
    tokens: dict[tuple, int] = defaultdict(int)
    dollars: dict[tuple, Decimal] = defaultdict(Decimal)
    [bucket] = load(sources / "openai/costs" / day / "page-001.json")["data"]
    for r in bucket["results"]:
        if r["quantity"] is not None:
            m = LINE_ITEM.match(r["line_item"])
            cell = ("openai", r["project_id"], canonical_model("openai", m["model"]), OPENAI_CLASS[m["kind"]])
            tokens[cell] += r["quantity"]
            dollars[cell] += r["amount"]["value"]
    for p in sorted((sources / "anthropic/usage_report" / day).iterdir()):
        for r in (r for b in load(p)["data"] for r in b["results"]):
            model = canonical_model("anthropic", r["model"])
            for token_type, token_class in ANTHROPIC_CLASS.items():
                head, _, tail = token_type.partition(".")
                n = r[head][tail] if tail else r[head]
                cell = ("anthropic", r["workspace_id"] or "default", model, token_class)
                tokens[cell] += n
                if r["service_tier"] == "priority" and n:  # not in the cost report: catalog price
                    dollars[cell] += getattr(catalog_rates("anthropic", r["model"], date.fromisoformat(day)),
                                             token_class) * n / 1_000_000
    [bucket] = load(sources / "anthropic/cost_report" / day / "page-001.json")["data"]
    for r in bucket["results"]:
        if r["cost_type"] == "tokens":
            cell = ("anthropic", r["workspace_id"] or "default", canonical_model("anthropic", r["model"]),
                    ANTHROPIC_CLASS[r["token_type"]])
            dollars[cell] += dec(r["amount"]) / 100
    for _, r in invocations(sources):
        if r["timestamp"][:10] == day:
            cell = ("aws.bedrock", r["identity"]["arn"], canonical_model("aws.bedrock", r["modelId"]))
            for key, token_class in (("inputTokenCount", "uncached_input"), ("cacheReadInputTokenCount", "cache_read"),
                                     ("cacheWriteInputTokenCount", "cache_write_5m")):
                tokens[(*cell, token_class)] += r["input"][key]
            tokens[(*cell, "output")] += r["output"]["outputTokenCount"]
    for line_day, kind, principal, resource, usage_type, _, cost in duckdb.connect().execute(
            cur_lines(), [str(sources / CUR_DATA)]).fetchall():
        if kind == "Usage" and line_day == day:
            model = canonical_model("aws.bedrock", resource.rsplit("/", 1)[1])
            dollars[("aws.bedrock", principal, model, CUR_CLASS[usage_type])] += cost
    return {k: v for k, v in tokens.items() if v}, dollars


def logged_cells(sources: Path, day: str, billed: dict) -> dict[tuple, dict[str, int]]:
    """Per cell and token class: logged tokens per spender, from the logs and, on Bedrock, from the
    request metadata of invocations no log line claims."""
    logged: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    calls = logged_calls(sources)

    def add(provider, account, model, spender, uncached, read, write, output):
        cell = (provider, account, canonical_model(provider, model))
        write_classes = [c for c in ("cache_write_5m", "cache_write_1h") if (*cell, c) in billed]
        assert len(write_classes) <= 1  # one TTL per account: the log's single write count is unambiguous
        for token_class, n in (("uncached_input", uncached), ("cache_read", read), ("output", output),
                               (write_classes[0] if write_classes else "cache_write_5m", write)):
            if n:
                logged[(*cell, token_class)][spender] += n

    for rec in calls:
        if rec["timestamp"][:10] != day or "gen_ai.usage.input_tokens" not in rec:
            continue  # usage unknown: stays in the residual
        cached = rec.get("gen_ai.usage.cache_read.input_tokens", 0)
        written = rec.get("gen_ai.usage.cache_creation.input_tokens", 0)
        if rec.get("attempt", 1) >= 2:
            spender = "retry:" + (rec.get("job_type") or rec["feature"])
        else:
            spender = rec.get("job_type") or "__user__"
        add(rec["gen_ai.provider.name"], rec["billing.account"],
            rec.get("gen_ai.response.model") or rec["gen_ai.request.model"], spender,
            rec["gen_ai.usage.input_tokens"] - cached - written, cached, written, rec["gen_ai.usage.output_tokens"])
    claimed = {rec.get("gen_ai.response.id") for rec in calls if rec["gen_ai.provider.name"] == "aws.bedrock"}
    for _, r in invocations(sources):
        meta = r.get("requestMetadata", {})
        if r["timestamp"][:10] == day and "job_type" in meta and r["requestId"] not in claimed:
            spender = ("retry:" if int(meta.get("attempt", "1")) >= 2 else "") + meta["job_type"]
            add("aws.bedrock", r["identity"]["arn"], r["modelId"], spender, r["input"]["inputTokenCount"],
                r["input"]["cacheReadInputTokenCount"], r["input"]["cacheWriteInputTokenCount"],
                r["output"]["outputTokenCount"])
    return logged


def test_truth_is_what_a_reconciliation_of_the_files_reports(world):
    """Recompute the split from the written files only: per cell and token class, billed tokens and
    dollars from the exports, logged tokens from the logs; the truth must match exactly."""
    out, _, truth = world
    sources = out / "sources"
    for day in DAY_KEYS:
        billed, dollars = billed_cells(sources, day)
        assert set(dollars) == set(billed)  # every billed class has its dollars and vice versa
        logged = logged_cells(sources, day, billed)
        split: dict[tuple, Decimal] = defaultdict(Decimal)
        for cell, tokens in billed.items():
            rate = dollars[cell] / tokens
            shares = logged.pop(cell, {})
            assert sum(shares.values()) <= tokens  # logs never claim more than was billed
            for key, n in shares.items():
                split[(cell[0], key)] += n * rate
            split[(cell[0], "__unlogged__")] += (tokens - sum(shares.values())) * rate
        assert not logged  # every logged token falls in a billed cell
        for provider in PROVIDERS:
            t = truth["days"][day][provider]
            mine = {k: v for (p, k), v in split.items() if p == provider and v}
            assert mine.pop("__user__") == dec(t["user_usd"])
            assert mine == {k: dec(v) for k, v in t["dark_usd_by_job_type"].items()}


# ------------------------------------------------------------------------------ S3
@pytest.fixture
def s3_server(monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    yield
    server.stop()


def test_upload_to_s3_keeps_the_tree_and_points_the_manifest_at_it(tmp_path, s3_server):
    simulate(tmp_path, START, 1, 200, SEED)
    sources = tmp_path / "sources"
    client = boto3.client("s3")
    client.create_bucket(Bucket="lake")
    keys = upload(sources, "s3://lake/world/sources")
    local = tree(sources)
    assert keys == sorted(f"world/sources/{k}" for k in local)
    listed = {o["Key"]: o["ETag"].strip('"') for page in client.get_paginator("list_objects_v2").paginate(
        Bucket="lake") for o in page.get("Contents", [])}
    assert sorted(listed) == keys
    manifest_key = f"world/sources/{CUR_MANIFEST}"
    for key, etag in listed.items():  # a single-part upload's ETag is the MD5 of its bytes
        if key != manifest_key:
            assert etag == hashlib.md5((sources / key.removeprefix("world/sources/")).read_bytes()).hexdigest()
    manifest = json.loads(client.get_object(Bucket="lake", Key=manifest_key)["Body"].read())
    assert manifest["dataFiles"] == [f"s3://lake/world/sources/{CUR_DATA}"]
    assert {k: v for k, v in manifest.items() if k != "dataFiles"} == {
        k: v for k, v in json.loads((sources / CUR_MANIFEST).read_text()).items() if k != "dataFiles"}
