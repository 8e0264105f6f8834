"""OpenTelemetry Collector file exporter lines (OTLP/JSON) in app and worker logs -> bronze rows.

Each line is one `{"resourceSpans": [...]}` object in the OTLP/JSON encoding (opentelemetry-proto
docs/specification.md "JSON Protobuf Encoding" and examples/trace.json): lowerCamelCase keys,
trace and span ids as hex, enums (`kind`, status `code`) as integers, 64-bit integers
(`startTimeUnixNano`, `intValue`) as decimal strings, numbers accepted too. Every span with GenAI
attributes is one model call with the flat contract's columns; per-file counts stay in lines.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import date, datetime, timezone

import pytest

from pipelines.defs.logs.parse import parse_log_files
from pipelines.lib import bronze, sql
from pipelines.lib.store import SourceFile

UTC = timezone.utc
DAY = date(2026, 11, 2)
KEY = "app_logs/2026-11-02/otel-1.jsonl"
TEN = 1_793_613_600_000_000_000  # 2026-11-02T10:00:00Z in Unix nanoseconds
TRACE = "5b8efff798038103d269b633813fc60c"


def s(value: str) -> dict:
    return {"stringValue": value}


def i(value: int | str) -> dict:
    """An int64 attribute value: a decimal string by default (proto3 JSON), a number if given one."""
    return {"intValue": value}


def attrs(**values: dict) -> list[dict]:
    """OTLP attributes; `gen_ai__usage__input_tokens` -> `gen_ai.usage.input_tokens`."""
    return [{"key": k.replace("__", "."), "value": v} for k, v in values.items()]


def span(span_id: str, start_ns: int | str = TEN, *, name: str = "chat gpt-4o-mini", **values: dict) -> dict:
    """A span of TRACE; `start_ns` as written when it is a string (a bad one ends with no end time)."""
    start = str(start_ns) if isinstance(start_ns, int) else start_ns
    end = str(int(start) + 850_000_000) if start.isdigit() else None
    return {"traceId": TRACE, "spanId": span_id, "parentSpanId": "eee19b7ec3c1b173", "name": name, "kind": 3,
            "startTimeUnixNano": start, "endTimeUnixNano": end, "attributes": attrs(**values), "status": {}}


def chat(span_id: str, start_ns: int | str = TEN, **values: dict) -> dict:
    """A minimal valid OpenAI chat span; `None` removes an attribute."""
    base = {"gen_ai__operation__name": s("chat"), "gen_ai__provider__name": s("openai"),
            "gen_ai__request__model": s("gpt-4o-mini"), "gen_ai__usage__input_tokens": i("100"),
            "gen_ai__usage__output_tokens": i("10")}
    base.update(values)
    return span(span_id, start_ns, **{k: v for k, v in base.items() if v is not None})


def http(span_id: str) -> dict:
    return span(span_id, name="POST /v1/answers", http__request__method=s("POST"),
                http__response__status_code=i("200"), url__path=s("/v1/answers"))


def resource_spans(*spans: dict, resource: dict | None = None) -> dict:
    return {"resource": {"attributes": attrs(service__name=s("answers-api"), **(resource or {}))},
            "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.1b0"},
                            "spans": list(spans)}]}


def otlp(*groups: dict) -> dict:
    return {"resourceSpans": list(groups)}


def jsonl(*lines: dict | str) -> bytes:
    return "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines).encode()


def parse(*files: SourceFile, log_source: str = "app", con=None):
    return parse_log_files(list(files), log_source=log_source, folder_date=DAY, con=con)


def one_file(*lines: dict | str, key: str = KEY, **kw):
    return parse(SourceFile(key, jsonl(*lines)), **kw)


def file_counts(ingested) -> dict[str, tuple[int, int, int, int]]:
    """file -> (lines_read, records, skipped, rejected), checking conservation on the way."""
    out = {}
    for row in ingested.files.to_pylist():
        assert row["lines_read"] == row["records"] + row["skipped"] + row["rejected"], row
        out[row["file"]] = (row["lines_read"], row["records"], row["skipped"], row["rejected"])
    return out


def records(ingested, *cols: str) -> list[tuple]:
    return [tuple(r[c] for c in cols) for r in ingested.records.to_pylist()]


def rejected(ingested) -> list[tuple[str, int, str]]:
    return [(r["file"], r["line"], r["reason"]) for r in ingested.rejects.to_pylist()]


def compact(value) -> str:
    """JSON as DuckDB writes it (no spaces)."""
    return json.dumps(value, separators=(",", ":"))


CONTRACT = {
    "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model", "gen_ai.response.model",
    "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens", "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning.output_tokens", "gen_ai.response.id", "gen_ai.operation.name", "billing.account",
    "service_tier", "batch", "attempt", "status", "request_id", "user_id", "tenant_id", "feature", "job_id",
    "job_type", "queue", "trigger", "parent_request_id",
}


def kept(sp: dict, resource: list[dict] | None = None) -> dict:
    """What the lake keeps of a span (a rejection's `raw`, the text of `line_md5`): the span as
    written with its identity and only the flat contract's attributes, its resource's too."""
    def only(attributes):
        return None if attributes is None else [a for a in attributes if a["key"] in CONTRACT]
    return {"traceId": sp["traceId"], "spanId": sp["spanId"], "name": sp["name"],
            "startTimeUnixNano": sp["startTimeUnixNano"], "status": sp["status"],
            "attributes": only(sp["attributes"]), "resource": {"attributes": only(resource)}}


# ---------------------------------------------------------------------------------------------
# accepted spans


def test_a_genai_span_becomes_one_exact_row():
    call = span(
        "eee19b7ec3c1b174", TEN + 250_123_456,
        gen_ai__operation__name=s("chat"),
        gen_ai__provider__name=s("openai"),
        gen_ai__request__model=s("gpt-4o-mini"),
        gen_ai__response__model=s("gpt-4o-mini-2024-07-18"),
        gen_ai__response__id=s("chatcmpl-123"),
        gen_ai__response__finish_reasons={"arrayValue": {"values": [s("stop")]}},
        gen_ai__request__temperature={"doubleValue": 0.2},
        gen_ai__usage__input_tokens=i("1200"),          # int64 as a decimal string
        gen_ai__usage__cache_read__input_tokens=i("1000"),
        gen_ai__usage__cache_creation__input_tokens=i(100),   # int64 as a number
        gen_ai__usage__output_tokens=i("300"),
        gen_ai__usage__reasoning__output_tokens=i("64"),
        billing__account=s("proj_a"),
        service_tier=s("default"),
        batch={"boolValue": False},
        attempt=i("1"),
        status=s("ok"),
        request_id=s("req-1"),
        user_id=s("u-9"),
        tenant_id=s("t-3"),
        feature=s("chat"),
    )
    data = jsonl(otlp(resource_spans(call)))

    got = parse(SourceFile(KEY, data))

    assert got.records.schema == bronze.MODEL_CALLS
    assert got.records.to_pylist() == [
        {
            "log_source": "app",
            "folder_date": DAY,
            "usage_date": DAY,
            "ts": datetime(2026, 11, 2, 10, 0, 0, 250123, tzinfo=UTC),  # nanoseconds cut to microseconds
            "provider": "openai",
            "model": "gpt-4o-mini-2024-07-18",
            "request_model": "gpt-4o-mini",
            "response_model": "gpt-4o-mini-2024-07-18",
            "operation": "chat",
            "usage_known": True,
            "input_tokens": 1200,
            "output_tokens": 300,
            "cache_read_tokens": 1000,
            "cache_creation_tokens": 100,
            "reasoning_tokens": 64,
            "request_count": 1,
            "gateway_cost_usd": None,
            "billing_account": "proj_a",
            "service_tier": "default",
            "batch": False,
            "attempt": 1,
            "status": "ok",
            "request_id": "req-1",
            "response_id": "chatcmpl-123",
            "user_id": "u-9",
            "tenant_id": "t-3",
            "feature": "chat",
            "job_id": None,
            "job_type": None,
            "queue": None,
            "trigger": None,
            "parent_request_id": None,
            "source_file": KEY,
            "source_line": 1,
            "line_md5": hashlib.md5(compact(kept(call, attrs(service__name=s("answers-api")))).encode()).hexdigest(),
        }
    ]
    # the fingerprint leaves out what the contract does not read
    assert "finish_reasons" not in compact(kept(call)) and "temperature" not in compact(kept(call))
    assert got.rejects.num_rows == 0
    assert got.files.to_pylist() == [
        {"source": "app_logs", "file": KEY, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
         "lines_read": 1, "records": 1, "skipped": 0, "rejected": 0, "unrecognized": 0, "sample_keys": None}
    ]


def test_int_values_as_strings_and_as_numbers_and_start_times_as_either():
    got = one_file(
        otlp(resource_spans(chat("a1", TEN, gen_ai__usage__input_tokens=i("700"), gen_ai__usage__output_tokens=i(70)))),
        otlp(resource_spans(chat("a2", TEN + 1_000, gen_ai__usage__input_tokens=i(800),
                                 gen_ai__usage__output_tokens=i("80"), attempt=i(2)))),
        # startTimeUnixNano as a JSON number, as in opentelemetry-proto's examples/trace.json
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "a3", "startTimeUnixNano": %d, "attributes": '
        '[{"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}}, {"key": "gen_ai.request.model", '
        '"value": {"stringValue": "gpt-4o"}}, {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 900}}]}]}]}]}'
        % (TEN + 60_000_000_000),
    )
    assert records(got, "source_line", "ts", "input_tokens", "output_tokens", "attempt", "usage_known") == [
        (1, datetime(2026, 11, 2, 10, 0, tzinfo=UTC), 700, 70, 1, True),
        (2, datetime(2026, 11, 2, 10, 0, 0, 1, tzinfo=UTC), 800, 80, 2, True),
        (3, datetime(2026, 11, 2, 10, 1, tzinfo=UTC), 900, 0, 1, True),
    ]
    assert got.rejects.num_rows == 0
    assert file_counts(got) == {KEY: (3, 3, 0, 0)}


def test_span_attributes_win_over_resource_attributes():
    resource = {"billing__account": s("proj_service"), "job_type": s("nightly_digest"), "queue": s("digests"),
                "tenant_id": s("t-resource")}
    own = {"billing__account": s("proj_span"), "tenant_id": s("t-span"), "job_id": s("j-77"), "trigger": s("schedule"),
           "parent_request_id": s("req-0")}
    got = one_file(
        otlp(
            resource_spans(chat("b1"), chat("b2", **own), resource=resource),  # b2's own attributes win
            resource_spans(chat("b3")),                                        # another resource: nothing of the first
        ),
        log_source="worker", key="worker_logs/2026-11-02/otel.jsonl",
    )
    assert records(got, "source_line", "billing_account", "job_type", "queue", "tenant_id", "job_id", "trigger",
                   "parent_request_id", "log_source") == [
        (1, "proj_service", "nightly_digest", "digests", "t-resource", None, None, None, "worker"),
        (1, "proj_span", "nightly_digest", "digests", "t-span", "j-77", "schedule", "req-0", "worker"),
        (1, None, None, None, None, None, None, None, "worker"),
    ]


def test_resource_attributes_alone_do_not_make_a_call():
    # a service whose resource names its provider: its HTTP spans are still not model calls
    got = one_file(otlp(resource_spans(http("c1"), chat("c2", gen_ai__provider__name=None),
                                       resource={"gen_ai__provider__name": s("anthropic")})))
    assert records(got, "provider", "model") == [("anthropic", "gpt-4o-mini")]
    assert got.rejects.num_rows == 0
    assert file_counts(got) == {KEY: (1, 1, 0, 0)}


def test_deprecated_attribute_names_are_accepted():
    old = span("d1", gen_ai__system=s("openai"), gen_ai__request__model=s("gpt-4o-mini"),
               gen_ai__usage__prompt_tokens=i("300"), gen_ai__usage__completion_tokens=i("40"))
    # where both spellings appear, the current names win
    both = chat("d2", gen_ai__provider__name=s("anthropic"), gen_ai__system=s("openai"),
                gen_ai__request__model=s("claude-haiku-4-5"),
                gen_ai__usage__input_tokens=i("500"), gen_ai__usage__prompt_tokens=i("1"),
                gen_ai__usage__output_tokens=i("50"), gen_ai__usage__completion_tokens=i("2"))
    got = one_file(otlp(resource_spans(old)), otlp(resource_spans(both)))
    assert records(got, "source_line", "provider", "model", "usage_known", "input_tokens", "output_tokens") == [
        (1, "openai", "gpt-4o-mini", True, 300, 40),
        (2, "anthropic", "claude-haiku-4-5", True, 500, 50),
    ]
    assert got.rejects.num_rows == 0


def test_two_spans_in_one_line_are_two_records_of_that_line():
    first = chat("e1", TEN, request_id=s("req-a"), gen_ai__usage__input_tokens=i("120"))
    second = chat("e2", TEN + 2_000_000_000, request_id=s("req-b"), gen_ai__usage__input_tokens=i("240"))
    got = one_file(otlp(resource_spans(first, second)), otlp(resource_spans(chat("e3", request_id=s("req-c")))))
    assert records(got, "source_line", "request_id", "input_tokens", "ts") == [
        (1, "req-a", 120, datetime(2026, 11, 2, 10, 0, tzinfo=UTC)),
        (1, "req-b", 240, datetime(2026, 11, 2, 10, 0, 2, tzinfo=UTC)),
        (2, "req-c", 100, datetime(2026, 11, 2, 10, 0, tzinfo=UTC)),
    ]
    assert file_counts(got) == {KEY: (2, 2, 0, 0)}  # lines, not spans
    # line_md5 fingerprints the span, not the batch it came in: the same span batched otherwise
    # (alone, in another file) has the same one
    again = parse(SourceFile("app_logs/2026-11-02/other.jsonl", jsonl(otlp(resource_spans(second)))))
    md5s = got.records["line_md5"].to_pylist()
    assert len(set(md5s)) == 3
    assert again.records["line_md5"].to_pylist() == [md5s[1]]


def test_spans_of_several_scopes_and_resources_keep_the_line_order():
    group = resource_spans(chat("f1", request_id=s("1")))
    group["scopeSpans"].append({"scope": {"name": "manual"}, "spans": [http("f2"), chat("f3", request_id=s("2"))]})
    got = one_file(otlp(group, resource_spans(chat("f4", request_id=s("3")))))
    assert records(got, "source_line", "request_id") == [(1, "1"), (1, "2"), (1, "3")]


def test_status_comes_from_the_status_attribute_else_from_the_span_status():
    failed = chat("g1", request_id=s("failed"))
    failed["status"] = {"code": 2, "message": "429 Too Many Requests"}
    ok = chat("g2", request_id=s("ok"))
    ok["status"] = {"code": 1}
    named = chat("g3", request_id=s("named"), status=s("timeout"))
    named["status"] = {"code": 2}
    got = one_file(otlp(resource_spans(failed, ok, named, chat("g4", request_id=s("unset")))))
    assert records(got, "request_id", "status") == [("failed", "error"), ("ok", "ok"), ("named", "timeout"),
                                                    ("unset", None)]


def test_a_span_without_usage_is_usage_unknown_never_zero():
    got = one_file(otlp(resource_spans(chat("h1", gen_ai__usage__input_tokens=None,
                                            gen_ai__usage__output_tokens=None))))
    assert records(got, "usage_known", "input_tokens", "output_tokens") == [(False, None, None)]


def test_a_value_written_bare_instead_of_as_an_anyvalue_is_taken_as_written():
    got = one_file(
        otlp(resource_spans(span("h3", gen_ai__provider__name="openai", gen_ai__request__model=s("gpt-4o"),
                                 gen_ai__usage__input_tokens=40, gen_ai__usage__output_tokens=4,
                                 billing__account="proj_bare"))),
        otlp(resource_spans(span("h4", gen_ai__provider__name="openai", gen_ai__request__model=s("gpt-4o"),
                                 gen_ai__usage__input_tokens=40, gen_ai__usage__output_tokens="4"))),
    )
    assert records(got, "source_line", "input_tokens", "output_tokens", "billing_account") == [(1, 40, 4, "proj_bare")]
    assert rejected(got) == [(KEY, 2, "gen_ai.usage.output_tokens is not an integer")]  # a string, as in a flat line


def test_a_line_with_resource_spans_is_otlp_whatever_else_it_holds():
    line = otlp(resource_spans(chat("h5", request_id=s("from-span"))))
    line.update(flat(request_id="from-flat-keys"))
    got = one_file(line, {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "hi"}}]}]}]})
    assert records(got, "source_line", "request_id", "billing_account") == [(1, "from-span", None)]
    assert file_counts(got) == {KEY: (2, 1, 1, 0)}  # an OTLP logs line is not a model call


def test_a_timestamp_attribute_does_not_replace_the_start_time():
    got = one_file(otlp(resource_spans(chat("h2", timestamp=s("2026-10-01T00:00:00Z")))))
    assert records(got, "ts") == [(datetime(2026, 11, 2, 10, 0, tzinfo=UTC),)]


# ---------------------------------------------------------------------------------------------
# skipped spans and lines


def test_non_genai_spans_are_skipped_and_lines_without_calls_count_as_skipped():
    got = one_file(
        otlp(resource_spans(http("i1"), chat("i2", request_id=s("a")), span("i3", name="SELECT", db__system__name=s("postgresql")))),
        otlp(resource_spans(http("i4"), span("i5", name="agent tool", gen_ai__operation__name=s("execute_tool")))),
        otlp(),                                        # an empty envelope
        {"resourceSpans": [{"scopeSpans": []}]},
        {"resourceSpans": None},
    )
    assert records(got, "source_line", "request_id") == [(1, "a")]
    assert got.rejects.num_rows == 0
    assert file_counts(got) == {KEY: (5, 1, 4, 0)}


# ---------------------------------------------------------------------------------------------
# rejected spans and lines


def test_a_malformed_span_is_rejected_with_its_line_number():
    bad = chat("j2", gen_ai__usage__input_tokens=i("12x"))
    got = one_file(
        otlp(resource_spans(chat("j0"))),
        otlp(resource_spans(chat("j1", request_id=s("kept")), bad)),   # one good, one bad span
        otlp(resource_spans(chat("j3", gen_ai__provider__name=s("cohere")), http("j4"))),  # only a bad call
        otlp(resource_spans(chat("j5"), 42)),                           # a span that is not an object
    )
    assert records(got, "source_line", "request_id") == [(1, None), (2, "kept"), (4, None)]
    assert rejected(got) == [
        (KEY, 2, "gen_ai.usage.input_tokens is not an integer"),
        (KEY, 3, "unknown provider: cohere"),
        (KEY, 4, "malformed OTLP span: not a JSON object"),
    ]
    # a rejected span's raw names it and shows what was read from it
    resource = attrs(service__name=s("answers-api"))
    assert [json.loads(r) for r in got.rejects["raw"].to_pylist()] == [
        kept(bad, resource),
        kept(chat("j3", gen_ai__provider__name=s("cohere")), resource),
        {"traceId": None, "spanId": None, "name": None, "startTimeUnixNano": None, "status": None, "attributes": None,
         "resource": {"attributes": []}},
    ]
    # lines: a line with at least one record counts as a record, its bad span is still in the rejects
    assert file_counts(got) == {KEY: (4, 3, 0, 1)}


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"gen_ai__usage__input_tokens": s("12")}, "gen_ai.usage.input_tokens is not an integer"),
        ({"gen_ai__usage__input_tokens": {"doubleValue": 12.5}}, "gen_ai.usage.input_tokens is not an integer"),
        ({"gen_ai__usage__input_tokens": i("1e3")}, "gen_ai.usage.input_tokens is not an integer"),
        ({"gen_ai__usage__output_tokens": {"boolValue": True}}, "gen_ai.usage.output_tokens is not an integer"),
        ({"gen_ai__usage__cache_read__input_tokens": {"int_value": "5"}},
         "gen_ai.usage.cache_read.input_tokens is not an integer"),          # not an AnyValue type
        ({"gen_ai__usage__output_tokens": i("-1")}, "negative token count"),
        ({"gen_ai__usage__input_tokens": i("10000000000001")},
         "count above 10000000000000 in one record, more than any day could hold (DARKCOMPUTE_MAX_RECORD_TOKENS)"),
        ({"gen_ai__usage__input_tokens": i("100"), "gen_ai__usage__cache_read__input_tokens": i("101")},
         "input_tokens smaller than its cache read + cache creation tokens (they must be included)"),
        ({"attempt": i("0")}, "attempt is not a positive integer"),
        ({"gen_ai__provider__name": None}, "missing gen_ai.provider.name"),
        ({"gen_ai__request__model": None}, "missing gen_ai.request.model and gen_ai.response.model"),
    ],
)
def test_bad_spans_are_rejected_with_the_flat_reasons(values, reason):
    got = one_file(otlp(resource_spans(chat("k1", request_id=s("ok-1")))),
                   otlp(resource_spans(chat("k2", **values))),
                   otlp(resource_spans(chat("k3", request_id=s("ok-3")))))
    assert records(got, "source_line", "request_id") == [(1, "ok-1"), (3, "ok-3")]
    assert rejected(got) == [(KEY, 2, reason)]
    raw = json.loads(got.rejects["raw"][0].as_py())
    assert raw == kept(chat("k2", **values), [])  # service.name is not a contract attribute
    assert file_counts(got) == {KEY: (3, 2, 0, 1)}


def test_start_times_are_checked_like_timestamps():
    no_start = chat("l1")
    del no_start["startTimeUnixNano"]
    got = one_file(
        otlp(resource_spans(no_start)),
        otlp(resource_spans(chat("l2", "yesterday"))),
        otlp(resource_spans(chat("l3", "1793613600.5e9"))),
        otlp(resource_spans(chat("l4", TEN - 2 * 86_400 * 10**9))),   # 2026-10-31: outside the folder's window
        otlp(resource_spans(chat("l5", TEN - 86_400 * 10**9 + 1))),    # 2026-11-01: the day before is fine
    )
    assert records(got, "source_line", "usage_date") == [(5, date(2026, 11, 1))]
    assert rejected(got) == [
        (KEY, 1, "missing startTimeUnixNano"),
        (KEY, 2, "unparseable startTimeUnixNano: yesterday"),
        (KEY, 3, "unparseable startTimeUnixNano: 1793613600.5e9"),
        (KEY, 4, "timestamp 2026-10-31T10:00:00.000000Z is outside this folder's window"
                 " (the day before, the folder day or the day after)"),
    ]


def test_a_non_genai_span_without_a_start_time_is_just_skipped():
    quiet = http("m1")
    del quiet["startTimeUnixNano"]
    got = one_file(otlp(resource_spans(quiet)))
    assert (got.records.num_rows, got.rejects.num_rows) == (0, 0)
    assert file_counts(got) == {KEY: (1, 0, 1, 0)}


MALFORMED_ENVELOPES = [  # (line, problem, the line's shape kept as raw)
    ({"resourceSpans": {"scopeSpans": []}}, "resourceSpans is not an array",
     '{"resourceSpans":{"scopeSpans":["NULL"]}}'),
    ({"resourceSpans": [7]}, "a resourceSpans entry is not an object", '{"resourceSpans":["UBIGINT"]}'),
    ({"resourceSpans": [{"resource": [], "scopeSpans": []}]}, "resource is not an object",
     '{"resourceSpans":[{"resource":["NULL"],"scopeSpans":["NULL"]}]}'),
    ({"resourceSpans": [{"resource": {"attributes": {"service.name": "x"}}}]}, "resource attributes is not an array",
     '{"resourceSpans":[{"resource":{"attributes":{"service.name":"VARCHAR"}}}]}'),
    ({"resourceSpans": [{"scopeSpans": {"spans": []}}]}, "scopeSpans is not an array",
     '{"resourceSpans":[{"scopeSpans":{"spans":["NULL"]}}]}'),
    ({"resourceSpans": [{"scopeSpans": ["x"]}]}, "a scopeSpans entry is not an object",
     '{"resourceSpans":[{"scopeSpans":["VARCHAR"]}]}'),
    ({"resourceSpans": [{"scopeSpans": [{"spans": {"spanId": "x"}}]}]}, "spans is not an array",
     '{"resourceSpans":[{"scopeSpans":[{"spans":{"spanId":"VARCHAR"}}]}]}'),
]


@pytest.mark.parametrize(("line", "problem", "shape"), MALFORMED_ENVELOPES, ids=[e[1] for e in MALFORMED_ENVELOPES])
def test_a_malformed_envelope_rejects_the_whole_line(line, problem, shape):
    got = one_file(otlp(resource_spans(chat("n1"))), line)
    assert records(got, "source_line") == [(1,)]
    # raw is the line's shape: keys and types, never values
    assert rejected(got) == [(KEY, 2, "malformed OTLP line: " + problem)]
    assert got.rejects["raw"].to_pylist() == [shape]
    assert file_counts(got) == {KEY: (2, 1, 0, 1)}


def test_prompt_and_completion_text_never_reach_the_lake():
    secret = "my card number is 4111 1111 1111 1111"
    leaky = chat("n2", gen_ai__provider__name=s("cohere"), gen_ai__system_instructions=s(secret),
                 gen_ai__input__messages=s(json.dumps([{"role": "user", "parts": [{"type": "text", "content": secret}]}])))
    leaky["events"] = [{"timeUnixNano": str(TEN), "name": "gen_ai.content.prompt",
                        "attributes": attrs(gen_ai__prompt=s(secret))}]
    kept = chat("n3", gen_ai__output__messages=s(secret))
    got = one_file(otlp(resource_spans(leaky, kept, resource={"app__secret": s(secret)})),
                   {"resourceSpans": [{"scopeSpans": [{"spans": {"note": secret}}]}]})
    assert records(got, "source_line") == [(1,)]
    assert [(line, reason) for _, line, reason in rejected(got)] == [
        (1, "unknown provider: cohere"), (2, "malformed OTLP line: spans is not an array")]
    for table in (got.records, got.rejects):
        assert secret not in json.dumps(table.to_pylist(), default=str)


def test_span_attributes_that_are_not_an_array_reject_the_span():
    broken = chat("o1")
    broken["attributes"] = {"gen_ai.provider.name": "openai"}
    got = one_file(otlp(resource_spans(broken, chat("o2"))))
    assert rejected(got) == [(KEY, 1, "malformed OTLP span: attributes is not an array")]
    assert file_counts(got) == {KEY: (1, 1, 0, 0)}


def test_a_truncated_otlp_line_is_invalid_json():
    full = json.dumps(otlp(resource_spans(chat("p1"))))
    got = one_file(full[:80], otlp(resource_spans(chat("p2"))))
    assert rejected(got) == [(KEY, 1, "invalid JSON (truncated or malformed line)")]
    assert file_counts(got) == {KEY: (2, 1, 0, 1)}


# ---------------------------------------------------------------------------------------------
# flat and OTLP lines together, gzip


def flat(**fields) -> dict:
    record = {"timestamp": "2026-11-02T09:00:00Z", "gen_ai.provider.name": "openai",
              "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 50,
              "gen_ai.usage.output_tokens": 5, "billing.account": "proj_flat"}
    record.update(fields)
    return record


MIXED = (
    flat(request_id="flat-1"),                                                           # 1 record
    otlp(resource_spans(chat("q1", request_id=s("otlp-1")), chat("q2", request_id=s("otlp-2")),
                        resource={"billing__account": s("proj_otlp")})),                 # 2 record (2 spans)
    {"timestamp": "2026-11-02T09:00:01Z", "event": "job.started", "job_id": "j1"},         # 3 skipped
    otlp(resource_spans(http("q3"))),                                                     # 4 skipped
    "",                                                                                  # 5 skipped
    flat(request_id="flat-bad", attempt=0),                                              # 6 rejected
    otlp(resource_spans(chat("q4", request_id=s("otlp-bad"), gen_ai__usage__output_tokens=i("-3")))),  # 7 rejected
    flat(request_id="flat-2", **{"gen_ai.usage.input_tokens": 60}),                      # 8 record
    # a flat line may mention resourceSpans in a value: it is still a flat line
    flat(request_id="flat-3", feature='"resourceSpans"'),                                # 9 record
)


def test_a_mixed_file_of_flat_and_otlp_lines():
    got = one_file(*MIXED)
    assert records(got, "source_line", "request_id", "billing_account", "input_tokens") == [
        (1, "flat-1", "proj_flat", 50),
        (2, "otlp-1", "proj_otlp", 100),
        (2, "otlp-2", "proj_otlp", 100),
        (8, "flat-2", "proj_flat", 60),
        (9, "flat-3", "proj_flat", 50),
    ]
    assert rejected(got) == [(KEY, 6, "attempt is not a positive integer"), (KEY, 7, "negative token count")]
    assert file_counts(got) == {KEY: (9, 4, 3, 2)}


def test_gzipped_otlp_files_parse_identically_to_plain_ones():
    plain_key, gz_key = "app_logs/2026-11-02/otel.jsonl", "app_logs/2026-11-02/otel.jsonl.gz"
    data = jsonl(*MIXED)
    plain = parse(SourceFile(plain_key, data))
    zipped = parse(SourceFile(gz_key, gzip.compress(data)))

    def without(table, col):
        return [{k: v for k, v in r.items() if k != col} for r in table.to_pylist()]

    assert zipped.records.num_rows == 5
    assert without(zipped.records, "source_file") == without(plain.records, "source_file")
    assert set(zipped.records["source_file"].to_pylist()) == {gz_key}
    assert without(zipped.rejects, "file") == without(plain.rejects, "file")
    assert [(f, line) for f, line, _ in rejected(zipped)] == [(gz_key, 6), (gz_key, 7)]
    assert file_counts(zipped) == {gz_key: (9, 4, 3, 2)}


def test_several_files_each_keep_their_own_counts():
    a = SourceFile("app_logs/2026-11-02/a.jsonl", jsonl(*MIXED))
    b = SourceFile("app_logs/2026-11-02/b.jsonl.gz", gzip.compress(jsonl(
        otlp(resource_spans(chat("r1"), chat("r2"), chat("r3", gen_ai__request__model=None))), "{not json")))
    got = parse(a, b)
    assert file_counts(got) == {a.key: (9, 4, 3, 2), b.key: (2, 1, 0, 1)}
    assert got.counts == {"lines_read": 11, "records": 5, "skipped": 3, "rejected": 3, "files": 2}
    assert records(got, "source_file", "source_line") == [
        (a.key, 1), (a.key, 2), (a.key, 2), (a.key, 8), (a.key, 9), (b.key, 1), (b.key, 1)
    ]
    assert rejected(got) == [
        (a.key, 6, "attempt is not a positive integer"),
        (a.key, 7, "negative token count"),
        (b.key, 1, "missing gen_ai.request.model and gen_ai.response.model"),
        (b.key, 2, "invalid JSON (truncated or malformed line)"),
    ]
    # every (file, line) of a record or reject is a line the counts know about
    lines = {(r["source_file"], r["source_line"]) for r in got.records.to_pylist()}
    assert len(lines) == sum(r["records"] for r in got.files.to_pylist())


def test_the_connection_time_zone_does_not_change_the_result():
    lines = (otlp(resource_spans(chat("s1", TEN - 10 * 3_600 * 10**9 + 1_800 * 10**9))),  # 2026-11-02T00:30Z
             otlp(resource_spans(chat("s2", TEN + 13 * 3_600 * 10**9 + 1_800 * 10**9))))  # 2026-11-02T23:30Z
    con = sql.connect()
    con.execute("set timezone = 'Pacific/Auckland'")
    elsewhere = one_file(*lines, con=con)
    assert records(elsewhere, "ts", "usage_date") == [
        (datetime(2026, 11, 2, 0, 30, tzinfo=UTC), DAY),
        (datetime(2026, 11, 2, 23, 30, tzinfo=UTC), DAY),
    ]
    assert elsewhere.records.equals(one_file(*lines).records)
