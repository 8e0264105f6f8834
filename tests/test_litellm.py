"""LiteLLM logging payloads, aggregate (job-level) records, unrecognized files and OpenTelemetry's
service tier names -> bronze rows (pure parsing, no Dagster).

Payloads are `StandardLoggingPayload`s in the shape the LiteLLM proxy's logging callbacks write
(tests/litellm_payloads.py); their prompt, completion and error text carry a marker that no output
may hold.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.defs.logs.litellm import DEFAULT_RULE, parse_rule
from pipelines.defs.logs.parse import parse_log_files
from pipelines.defs.resources import configured_resources
from pipelines.lib.store import SourceFile

from .litellm_payloads import MARKER, payload

DAY = date(2026, 11, 2)
KEY = "app_logs/2026-11-02/litellm-proxy.jsonl"
UTC = timezone.utc


def lines(*items: str | dict) -> bytes:
    return "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in items).encode()


def parse(*items: str | dict, key: str = KEY, log_source: str = "app", **kw):
    return parse_log_files([SourceFile(key, lines(*items))], log_source=log_source, folder_date=DAY, **kw)


def counts(got) -> tuple[int, int, int, int]:
    [row] = got.files.to_pylist()
    assert row["lines_read"] == row["records"] + row["skipped"] + row["rejected"]
    return row["lines_read"], row["records"], row["skipped"], row["rejected"]


def everything_written(got) -> str:
    """Every value of every output table, as text."""
    return json.dumps([t.to_pylist() for t in (got.records, got.rejects, got.files)], default=str)


# ---------------------------------------------------------------------------------------------
# LiteLLM payloads


def test_an_anthropic_payload_becomes_one_exact_row():
    got = parse(payload())
    assert counts(got) == (1, 1, 0, 0)
    [row] = got.records.to_pylist()
    assert {k: v for k, v in row.items() if k != "line_md5"} == {
        "log_source": "app", "folder_date": DAY, "usage_date": DAY,
        "ts": datetime(2026, 11, 2, 10, 0, 0, 250000, tzinfo=UTC),
        "provider": "anthropic", "model": "claude-3-5-sonnet-20241022",
        "request_model": "claude-3-5-sonnet-20241022", "response_model": None, "operation": "chat",
        "usage_known": True,
        # prompt_tokens includes cache read and creation (LiteLLM's OpenAI-format usage)
        "input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 1000, "cache_creation_tokens": 100,
        "reasoning_tokens": 0, "request_count": 1, "gateway_cost_usd": Decimal("0.004627500000"),
        # default rule: billing.account <- team alias; feature <- tag feature:<x>; user <- end_user
        "billing_account": "search-team", "service_tier": None, "batch": None, "attempt": 1, "status": "ok",
        "request_id": "trace-msg_01", "response_id": "msg_01", "user_id": "u-42", "tenant_id": None,
        "feature": "search_answer", "job_id": None, "job_type": None, "queue": None, "trigger": None,
        "parent_request_id": None, "source_file": KEY, "source_line": 1,
    }


@pytest.mark.parametrize(
    ("provider", "expected"),
    [("openai", "openai"), ("text-completion-openai", "openai"), ("anthropic", "anthropic"),
     ("bedrock", "aws.bedrock"), ("bedrock_converse", "aws.bedrock")],
)
def test_custom_llm_provider_maps_to_the_invoice_providers(provider, expected):
    got = parse(payload(provider=provider))
    assert [r["provider"] for r in got.records.to_pylist()] == [expected]


def test_other_gateways_providers_are_rejected_and_keep_no_content():
    got = parse(payload(call_id="ok"), payload(provider="azure", call_id="az"), payload(provider="vertex_ai"))
    assert counts(got) == (3, 1, 0, 2)
    assert [(r["line"], r["reason"]) for r in got.rejects.to_pylist()] == [
        (2, "unknown provider: azure"), (3, "unknown provider: vertex_ai")]
    raw = json.loads(got.rejects.to_pylist()[0]["raw"])  # the contract fields, not the payload
    assert raw["gen_ai.provider.name"] == "azure" and raw["gen_ai.response.id"] == "az"
    assert "messages" not in raw and "response" not in raw
    assert MARKER not in everything_written(got)


def test_no_content_field_reaches_any_output():
    got = parse(payload(), payload(status="failure", prompt_tokens=0, completion_tokens=0, cache_read=None,
                                   cache_creation=None, cost="0.0", call_id="f1"),
                payload(provider="cohere", call_id="c1"), payload(completion_tokens=-5, call_id="bad"))
    assert counts(got) == (4, 2, 0, 2)
    assert MARKER in lines(payload()).decode()
    assert MARKER not in everything_written(got)


def test_openai_cached_tokens_come_from_prompt_tokens_details():
    got = parse(payload(provider="openai", model="gpt-4o-mini", prompt_tokens=5000, cache_read=4096,
                        cache_creation=None, details_only=True, call_id="chatcmpl-1"))
    assert [(r["input_tokens"], r["cache_read_tokens"], r["cache_creation_tokens"])
            for r in got.records.to_pylist()] == [(5000, 4096, 0)]


def test_the_usage_object_may_sit_in_hidden_params():
    got = parse(payload(usage_in_hidden_params=True))
    assert [(r["cache_read_tokens"], r["cache_creation_tokens"]) for r in got.records.to_pylist()] == [(1000, 100)]


def test_a_failed_call_is_an_error_with_its_zero_usage():
    got = parse(payload(status="failure", prompt_tokens=0, completion_tokens=0, cache_read=None,
                        cache_creation=None, cost="0.0"))
    assert [(r["status"], r["usage_known"], r["input_tokens"], r["gateway_cost_usd"])
            for r in got.records.to_pylist()] == [("error", True, 0, Decimal(0))]


@pytest.mark.parametrize(
    ("written", "kept"),
    [("0.0046275", "0.004627500000"), ("2.85e-05", "0.000028500000"), ("0.30000000000000004", "0.300000000000"),
     ("12", "12.000000000000"), ("1.234567890123e-3", "0.001234567890")],
)
def test_response_cost_is_kept_as_written_in_decimal(written, kept):
    got = parse(payload(cost=written))
    assert [r["gateway_cost_usd"] for r in got.records.to_pylist()] == [Decimal(kept)]


def test_a_response_cost_that_is_not_a_number_is_rejected():
    got = parse(payload(cost='"0.01"'), payload(cost="1e40"))
    assert [r["reason"] for r in got.rejects.to_pylist()] == ["response_cost is not a number",
                                                              "response_cost out of range"]


def test_start_time_is_checked_like_a_timestamp():
    bad = json.loads(payload())
    bad["startTime"] = "yesterday"
    late = payload(start="2026-11-05T10:00:00Z")
    got = parse(json.dumps(bad), late)
    reasons = [r["reason"] for r in got.rejects.to_pylist()]
    assert reasons[0] == "timestamp without a time zone: yesterday"
    assert "outside this folder's window" in reasons[1]


def test_a_start_time_serialized_as_text_is_read_with_its_zone_and_rejected_without():
    # LiteLLM's GCS Pub/Sub logger writes the payload's datetimes as text
    # (tests/logging_callback_tests/gcs_pub_sub_body/standard_logging_payload.json in BerriAI/litellm):
    # without a zone it cannot be placed on a UTC day, so it is rejected, saying why
    naive, zoned, listed = json.loads(payload()), json.loads(payload(call_id="msg_02")), json.loads(payload())
    naive["startTime"] = "2026-11-02 09:20:46.847371"
    zoned["startTime"] = "2026-11-02T09:20:46.847371+00:00"
    listed["startTime"] = [1]
    got = parse(naive, zoned, listed)
    assert counts(got) == (3, 1, 0, 2)
    assert [r["ts"] for r in got.records.to_pylist()] == [datetime(2026, 11, 2, 9, 20, 46, 847371, tzinfo=UTC)]
    assert [(r["line"], r["reason"]) for r in got.rejects.to_pylist()] == [
        (1, "timestamp without a time zone: 2026-11-02 09:20:46.847371"),
        (3, "startTime is neither a number nor a string"),
    ]


def test_tags_and_spend_metadata_attribute_by_the_default_rule():
    got = parse(
        payload(tags=["job_type:embedding_reindex", "billing.account:proj_jobs", "job_id:j-77", "env:prod"],
                call_id="a"),
        payload(tags=[], spend_metadata={"job_type": "nightly_digest", "tenant_id": "t-9", "n": 3},
                call_id="b"),
        payload(tags=["untagged"], team_alias=None, key_alias=None, end_user=None, call_id="c"),
        log_source="worker",
    )
    cols = ("billing_account", "feature", "job_type", "job_id", "user_id", "tenant_id")
    assert [tuple(r[c] for c in cols) for r in got.records.to_pylist()] == [
        ("proj_jobs", "search-backend", "embedding_reindex", "j-77", "u-42", None),
        ("search-team", "search-backend", "nightly_digest", None, "u-42", "t-9"),
        # no alias: the team id; no end user: the key's user
        ("team-7f1c", None, None, None, "user-ops", None),
    ]


def test_the_rule_can_be_overridden():
    rule = parse_rule("billing.account=team_id; job_type=tag:job,metadata:kind; feature=")
    assert rule["user_id"] == DEFAULT_RULE["user_id"]
    got = parse(payload(tags=["job:crawl", "feature:x"], call_id="a"),
                payload(tags=[], spend_metadata={"kind": "backfill"}, call_id="b"), attribution=rule)
    assert [(r["billing_account"], r["job_type"], r["feature"]) for r in got.records.to_pylist()] == [
        ("team-7f1c", "crawl", None), ("team-7f1c", "backfill", None)]


@pytest.mark.parametrize(
    ("text", "message"),
    [("owner=team_id", "target among"), ("job_type=team", "unknown source 'team'"), ("job_type", "target among"),
     ("feature=tag:", "unknown source")],
)
def test_a_wrong_rule_says_what_is_accepted(text, message):
    with pytest.raises(ValueError, match=message):
        parse_rule(text)


def test_the_rule_comes_from_the_environment(monkeypatch):
    """DARKCOMPUTE_LITELLM_ATTRIBUTION is the `litellm` resource's field, read when it is initialized."""
    monkeypatch.setenv("DARKCOMPUTE_LITELLM_ATTRIBUTION", "job_type=tag:job")
    litellm = configured_resources()["litellm"]
    monkeypatch.setenv("DARKCOMPUTE_LITELLM_ATTRIBUTION", "feature=key_alias")
    got = parse(payload(tags=["feature:ignored"]), attribution=litellm.process_config_and_initialize().rule())
    assert [r["feature"] for r in got.records.to_pylist()] == ["search-backend"]


# ---------------------------------------------------------------------------------------------
# aggregate records


def job(**fields) -> dict:
    record = {"timestamp": "2026-11-02T03:00:00Z", "gen_ai.provider.name": "openai",
              "gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
              "gen_ai.usage.input_tokens": 800_000_000, "gen_ai.usage.output_tokens": 0,
              "billing.account": "proj_jobs", "job_type": "embedding_reindex", "job_id": "reindex-2026-11-02",
              "request_count": 400_000}
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


def test_a_whole_jobs_usage_on_one_line_is_a_record():
    got = parse(job(), job(**{"request_count": None, "gen_ai.usage.input_tokens": 5_000_000_000_000}),
                log_source="worker")
    assert counts(got) == (2, 2, 0, 0)
    assert [(r["input_tokens"], r["request_count"], r["job_type"]) for r in got.records.to_pylist()] == [
        (800_000_000, 400_000, "embedding_reindex"), (5_000_000_000_000, 1, "embedding_reindex")]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [({"request_count": 0}, "request_count is not a positive integer"),
     ({"request_count": -3}, "request_count is not a positive integer"),
     ({"request_count": 2.5}, "request_count is not a positive integer"),
     ({"request_count": "10"}, "request_count is not a positive integer"),
     ({"gen_ai.usage.input_tokens": 800_000_000.5}, "gen_ai.usage.input_tokens is not an integer"),
     ({"gen_ai.usage.input_tokens": -1}, "negative token count"),
     ({"gen_ai.usage.input_tokens": 10**13 + 1},
      "count above 10000000000000 in one record, more than any day could hold (DARKCOMPUTE_MAX_RECORD_TOKENS)"),
     ({"request_count": 10**13 + 1},
      "count above 10000000000000 in one record, more than any day could hold (DARKCOMPUTE_MAX_RECORD_TOKENS)"),
     ({"gen_ai.usage.input_tokens": 10**20}, "gen_ai.usage.input_tokens is not an integer")],
)
def test_only_counts_that_cannot_be_true_are_rejected(fields, reason):
    got = parse(job(), job(**fields), log_source="worker")
    assert [(r["line"], r["reason"]) for r in got.rejects.to_pylist()] == [(2, reason)]


def test_the_limit_is_a_setting(monkeypatch):
    """DARKCOMPUTE_MAX_RECORD_TOKENS is the `ingest_limits` resource's field, read when it is initialized."""
    monkeypatch.setenv("DARKCOMPUTE_MAX_RECORD_TOKENS", "5")
    limits = configured_resources()["ingest_limits"]
    monkeypatch.setenv("DARKCOMPUTE_MAX_RECORD_TOKENS", "1000000000")
    limit = limits.process_config_and_initialize().record_tokens()
    got = parse(job(), job(**{"gen_ai.usage.input_tokens": 1_000_000_001}), log_source="worker", max_record_tokens=limit)
    assert [r["reason"] for r in got.rejects.to_pylist()] == [
        "count above 1000000000 in one record, more than any day could hold (DARKCOMPUTE_MAX_RECORD_TOKENS)"]
    monkeypatch.setenv("DARKCOMPUTE_MAX_RECORD_TOKENS", "lots")
    with pytest.raises(ValueError, match="DARKCOMPUTE_MAX_RECORD_TOKENS: expected a positive whole number of tokens, "
                                         "got 'lots'"):
        limits.process_config_and_initialize().record_tokens()


# ---------------------------------------------------------------------------------------------
# unrecognized lines, known events


def test_json_objects_no_rule_knows_are_counted_with_their_keys_only():
    got = parse({"ts": 1, "spend": {"usd": 3.5}, "secret_value": "hunter2"}, {"level": "info", "msg": "started"},
                {"event": "job.started", "job_id": "j1"}, {"event.name": "gen_ai.client.inference.operation.details"},
                "", "[1, 2]")
    [row] = got.files.to_pylist()
    assert (row["lines_read"], row["records"], row["skipped"], row["rejected"], row["unrecognized"]) == (6, 0, 5, 1, 2)
    assert row["sample_keys"] == "level, msg, secret_value, spend, ts"
    assert "hunter2" not in everything_written(got) and "started" not in row["sample_keys"]


def test_a_file_of_calls_has_no_unrecognized_lines():
    got = parse(payload(), job())
    assert [(r["unrecognized"], r["sample_keys"]) for r in got.files.to_pylist()] == [(0, None)]


def test_sample_keys_are_cut_and_capped():
    got = parse({f"k{i:02d}" + "x" * 100: i for i in range(30)})
    keys = got.files.to_pylist()[0]["sample_keys"].split(", ")
    assert len(keys) == 20 and all(len(k) == 64 for k in keys)


# ---------------------------------------------------------------------------------------------
# OpenTelemetry service tier names


def flat(**fields) -> dict:
    record = {"timestamp": "2026-11-02T10:00:00Z", "gen_ai.provider.name": "openai",
              "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 10,
              "gen_ai.usage.output_tokens": 1}
    record.update(fields)
    return record


def test_service_tier_comes_from_opentelemetry_names_too():
    got = parse(
        flat(**{"openai.response.service_tier": "flex"}),
        flat(**{"gen_ai.openai.response.service_tier": "priority"}),
        flat(**{"openai.request.service_tier": "default"}),
        flat(**{"gen_ai.openai.request.service_tier": "flex"}),
        # the tier that served the call wins over the one asked for; the flat key over both
        flat(**{"openai.request.service_tier": "auto", "openai.response.service_tier": "default"}),
        flat(**{"service_tier": "scale", "openai.response.service_tier": "default"}),
    )
    assert [r["service_tier"] for r in got.records.to_pylist()] == [
        "flex", "priority", "default", "flex", "default", "scale"]


def test_otlp_spans_carry_the_service_tier_and_request_count():
    span = {"traceId": "t", "spanId": "s", "name": "embeddings", "startTimeUnixNano": "1793613600000000000",
            "attributes": [{"key": k, "value": v} for k, v in {
                "gen_ai.provider.name": {"stringValue": "openai"},
                "gen_ai.request.model": {"stringValue": "text-embedding-3-small"},
                "gen_ai.usage.input_tokens": {"intValue": "800000000"},
                "openai.response.service_tier": {"stringValue": "flex"},
                "request_count": {"intValue": "1000"}}.items()]}
    got = parse({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]})
    assert [(r["service_tier"], r["request_count"], r["input_tokens"]) for r in got.records.to_pylist()] == [
        ("flex", 1000, 800_000_000)]


# ---------------------------------------------------------------------------------------------
# arbitrary values in a payload's fields


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
FIELDS = ["custom_llm_provider", "model", "prompt_tokens", "completion_tokens", "startTime", "id", "status",
          "response_cost", "request_tags", "metadata", "end_user", "call_type", "trace_id"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FIELDS), JSON_VALUES), min_size=1, max_size=4))
def test_any_field_value_is_a_record_or_a_reason_and_never_leaks_content(changes):
    record = json.loads(payload())
    for field, value in changes:
        record[field] = value
    got = parse(record, payload(call_id="ok"))
    lines_read, records, skipped, rejected = counts(got)
    assert (lines_read, skipped) == (2, 0) and records + rejected == 2
    assert got.records.num_rows == records and got.rejects.num_rows == rejected
    assert all(r["reason"] for r in got.rejects.to_pylist())
    for r in got.records.to_pylist():
        assert r["provider"] in ("openai", "anthropic", "aws.bedrock") and r["request_count"] == 1
        assert r["input_tokens"] is None or 0 <= r["input_tokens"] <= 10**13
    assert MARKER not in everything_written(got)


def test_the_key_sample_comes_from_the_first_hundred_unrecognized_lines():
    items = [{"a": i} for i in range(150)]
    items[99] = {"a": 1, "seen": 1}
    items[120] = {"a": 1, "too_late": 1}
    got = parse(*items)
    [row] = got.files.to_pylist()
    assert (row["unrecognized"], row["sample_keys"]) == (150, "a, seen")
