"""Application and worker model-call logs (flat JSONL, OpenTelemetry GenAI names) -> bronze rows.

Every line ends up as exactly one of: a record, a skipped line (not a model call, or blank), or a
rejected line with its file, 1-based line number and reason. Reasons are matched by substring
(the wording may evolve); files, line numbers and counts are matched exactly.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from datetime import date, datetime, timezone

import pytest

from pipelines.defs.logs.parse import parse_log_files
from pipelines.lib import bronze, sql
from pipelines.lib.store import SourceFile

UTC = timezone.utc
DAY = date(2026, 11, 2)
APP_KEY = "app_logs/2026-11-02/app-1.jsonl"


def call(**fields) -> dict:
    """A minimal valid OpenAI call on DAY; `None` removes a key."""
    record = {
        "timestamp": "2026-11-02T10:00:00Z",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 10,
        "billing.account": "proj_a",
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


def jsonl(*lines: dict | str) -> bytes:
    return "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines).encode()


def parse(*files: SourceFile, log_source: str = "app", folder_date: date = DAY, con=None):
    return parse_log_files(list(files), log_source=log_source, folder_date=folder_date, con=con)


def one_file(*lines: dict | str, key: str = APP_KEY, **kw):
    return parse(SourceFile(key, jsonl(*lines)), **kw)


def file_counts(ingested) -> dict[str, tuple[int, int, int, int]]:
    """file -> (lines_read, records, skipped, rejected), checking conservation on the way."""
    out = {}
    for row in ingested.files.to_pylist():
        assert row["lines_read"] == row["records"] + row["skipped"] + row["rejected"], row
        out[row["file"]] = (row["lines_read"], row["records"], row["skipped"], row["rejected"])
    return out


def rejected(ingested) -> list[tuple[str, int, str]]:
    return [(r["file"], r["line"], r["reason"]) for r in ingested.rejects.to_pylist()]


def records(ingested, *cols: str) -> list[tuple]:
    return [tuple(r[c] for c in cols) for r in ingested.records.to_pylist()]


# ---------------------------------------------------------------------------------------------
# accepted calls


def test_a_user_call_becomes_one_exact_row():
    line = {
        "timestamp": "2026-11-02T10:15:30.250Z",
        "gen_ai.provider.name": "openai",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": "chatcmpl-123",
        # input INCLUDES the cache read and cache creation tokens (OpenTelemetry)
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.cache_creation.input_tokens": 100,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.reasoning.output_tokens": 64,
        "billing.account": "proj_a",
        "service_tier": "default",
        "batch": False,
        "attempt": 1,
        "status": "ok",
        "request_id": "req-1",
        "user_id": "u-9",
        "tenant_id": "t-3",
        "feature": "chat",
        "some.future.attribute": {"nested": [1, 2]},  # unknown keys are tolerated
    }
    data = jsonl(line)

    got = parse(SourceFile(APP_KEY, data))

    assert got.records.schema == bronze.MODEL_CALLS
    rows = got.records.to_pylist()
    md5 = rows[0].pop("line_md5")
    assert rows == [
        {
            "log_source": "app",
            "folder_date": DAY,
            "usage_date": DAY,
            "ts": datetime(2026, 11, 2, 10, 15, 30, 250000, tzinfo=UTC),
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
            "source_file": APP_KEY,
            "source_line": 1,
        }
    ]
    text = data.decode()
    assert md5 in {hashlib.md5(text.encode()).hexdigest(), hashlib.md5(text.rstrip("\n").encode()).hexdigest()}
    assert got.rejects.num_rows == 0
    assert got.files.to_pylist() == [
        {"source": "app_logs", "file": APP_KEY, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
         "lines_read": 1, "records": 1, "skipped": 0, "rejected": 0, "unrecognized": 0, "sample_keys": None}
    ]


def test_a_worker_call_keeps_its_job_fields():
    key = "worker_logs/2026-11-02/w-1.jsonl"
    line = call(**{"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
                   "billing.account": "default", "attempt": 2, "batch": True, "job_id": "j-77",
                   "job_type": "ingest_summarization", "queue": "summaries", "trigger": "event",
                   "parent_request_id": "req-1"})
    got = parse(SourceFile(key, jsonl(line)), log_source="worker")
    assert records(got, "log_source", "provider", "model", "billing_account", "attempt", "batch", "job_id",
                   "job_type", "queue", "trigger", "parent_request_id", "request_id", "source_file", "source_line") == [
        ("worker", "anthropic", "claude-sonnet-4-5", "default", 2, True, "j-77", "ingest_summarization", "summaries",
         "event", "req-1", None, key, 1)
    ]
    assert got.files.to_pylist()[0]["source"] == "worker_logs"


def test_model_is_the_response_model_else_the_request_model():
    got = one_file(
        call(**{"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06"}),
        call(**{"gen_ai.request.model": "gpt-4o"}),
        call(**{"gen_ai.request.model": None, "gen_ai.response.model": "gpt-4o-2024-08-06"}),
        call(**{"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": None}),
        call(**{"gen_ai.request.model": None}),  # neither: rejected
    )
    assert records(got, "source_line", "model", "request_model", "response_model") == [
        (1, "gpt-4o-2024-08-06", "gpt-4o", "gpt-4o-2024-08-06"),
        (2, "gpt-4o", "gpt-4o", None),
        (3, "gpt-4o-2024-08-06", None, "gpt-4o-2024-08-06"),
        (4, "gpt-4o", "gpt-4o", None),
    ]
    [(file, line, reason)] = rejected(got)
    assert (file, line) == (APP_KEY, 5)
    assert "model" in reason


def test_an_empty_response_model_falls_back_to_the_request_model():
    got = one_file(call(**{"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": ""}))
    assert records(got, "model") == [("gpt-4o",)]


def test_deprecated_attribute_names_are_accepted():
    old = {"timestamp": "2026-11-02T10:00:00Z", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
           "gen_ai.usage.prompt_tokens": 300, "gen_ai.usage.completion_tokens": 40}
    # where both spellings appear, the current names win
    both = call(**{"gen_ai.provider.name": "anthropic", "gen_ai.system": "openai",
                   "gen_ai.request.model": "claude-haiku-4-5",
                   "gen_ai.usage.input_tokens": 500, "gen_ai.usage.prompt_tokens": 1,
                   "gen_ai.usage.output_tokens": 50, "gen_ai.usage.completion_tokens": 2})
    got = one_file(old, both)
    assert records(got, "source_line", "provider", "model", "usage_known", "input_tokens", "output_tokens") == [
        (1, "openai", "gpt-4o-mini", True, 300, 40),
        (2, "anthropic", "claude-haiku-4-5", True, 500, 50),
    ]
    assert got.rejects.num_rows == 0


def test_a_call_without_usage_is_kept_as_usage_unknown_never_zero():
    got = one_file(
        call(**{"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None}),
        call(**{"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None, "status": "error"}),
    )
    assert records(got, "source_line", "usage_known", "input_tokens", "output_tokens", "reasoning_tokens", "status") == [
        (1, False, None, None, None, None),
        (2, False, None, None, None, "error"),
    ]
    assert file_counts(got) == {APP_KEY: (2, 2, 0, 0)}


def test_attempt_defaults_to_one_and_must_be_a_positive_integer():
    got = one_file(
        call(),                     # 1 absent -> 1
        call(attempt=3),            # 2
        call(attempt=0),            # 3 rejected
        call(attempt="2"),          # 4 rejected: a string
        call(attempt=1.5),          # 5 rejected
    )
    assert records(got, "source_line", "attempt") == [(1, 1), (2, 3)]
    assert [(line, "attempt" in reason) for _, line, reason in rejected(got)] == [(3, True), (4, True), (5, True)]
    assert file_counts(got) == {APP_KEY: (5, 2, 0, 3)}


# ---------------------------------------------------------------------------------------------
# skipped lines


def test_job_lifecycle_lines_and_blank_lines_are_skipped_and_counted():
    got = one_file(
        {"timestamp": "2026-11-02T09:59:59Z", "event": "job.started", "job_id": "j1", "job_type": "nightly_digest"},
        call(request_id="a"),
        "",
        "   \t",
        call(request_id="b"),
        {"timestamp": "2026-11-02T10:00:05Z", "event": "job.finished", "job_id": "j1", "status": "ok"},
    )
    assert records(got, "source_line", "request_id") == [(2, "a"), (5, "b")]
    assert got.rejects.num_rows == 0
    assert file_counts(got) == {APP_KEY: (6, 2, 4, 0)}


def test_a_final_line_without_newline_is_still_read():
    data = jsonl(call(request_id="a")) + json.dumps(call(request_id="b")).encode()
    got = parse(SourceFile(APP_KEY, data))
    assert records(got, "source_line", "request_id") == [(1, "a"), (2, "b")]
    assert file_counts(got) == {APP_KEY: (2, 2, 0, 0)}


def test_windows_line_endings_parse_like_unix_ones():
    data = jsonl(call(request_id="a")).replace(b"\n", b"\r\n") + b"\r\n" + jsonl(call(request_id="b")).replace(b"\n", b"\r\n")
    got = parse(SourceFile(APP_KEY, data))
    assert records(got, "source_line", "request_id") == [(1, "a"), (3, "b")]
    assert file_counts(got) == {APP_KEY: (3, 2, 1, 0)}


# ---------------------------------------------------------------------------------------------
# rejected lines


def test_a_truncated_json_line_is_rejected_with_its_file_and_line():
    full = json.dumps(call(request_id="c"))
    cut = full[:37]
    other = "app_logs/2026-11-02/app-0.jsonl"
    got = parse(SourceFile(other, jsonl(call(request_id="x"))),
                SourceFile(APP_KEY, jsonl(call(request_id="a"), call(request_id="b"), cut, call(request_id="d"))))
    assert records(got, "source_file", "source_line", "request_id") == [
        (other, 1, "x"), (APP_KEY, 1, "a"), (APP_KEY, 2, "b"), (APP_KEY, 4, "d")
    ]
    [row] = got.rejects.to_pylist()
    assert (row["source"], row["file"], row["line"]) == ("app_logs", APP_KEY, 3)
    assert "JSON" in row["reason"]
    assert json.loads(row["raw"]) == {"bytes": len(cut) + 1}  # its length only: the text may be a prompt
    assert file_counts(got) == {other: (1, 1, 0, 0), APP_KEY: (4, 3, 0, 1)}


def test_invalid_utf8_is_rejected_with_its_line():
    bad = b'{"timestamp": "2026-11-02T10:00:00Z", "gen_ai.provider.name": "openai", "feature": "\xff\xfe"}\n'
    data = jsonl(call(request_id="a")) + bad + jsonl(call(request_id="c"))
    got = parse(SourceFile(APP_KEY, data))
    assert records(got, "source_line", "request_id") == [(1, "a"), (3, "c")]
    [(file, line, reason)] = rejected(got)
    assert (file, line) == (APP_KEY, 2)
    assert "UTF-8" in reason
    assert file_counts(got) == {APP_KEY: (3, 2, 0, 1)}


def test_json_values_that_are_not_objects_are_rejected():
    got = one_file("[1, 2]", "42", "null", call())
    assert [(line, "object" in reason) for _, line, reason in rejected(got)] == [(1, True), (2, True), (3, True)]
    assert file_counts(got) == {APP_KEY: (4, 1, 0, 3)}


@pytest.mark.parametrize(
    ("fields", "in_reason"),
    [
        ({"gen_ai.usage.input_tokens": "12"}, "input_tokens"),
        ({"gen_ai.usage.input_tokens": 12.5}, "input_tokens"),
        ({"gen_ai.usage.input_tokens": True}, "input_tokens"),
        ({"gen_ai.usage.output_tokens": "3"}, "output_tokens"),
        ({"gen_ai.usage.cache_read.input_tokens": 1.5}, "cache_read"),
        ({"gen_ai.usage.cache_creation.input_tokens": "5"}, "cache_creation"),
        ({"gen_ai.usage.reasoning.output_tokens": [1]}, "reasoning"),
        ({"gen_ai.usage.output_tokens": -1}, "negative"),
        ({"gen_ai.usage.input_tokens": -100}, "negative"),
        ({"gen_ai.usage.cache_read.input_tokens": -5}, "negative"),
        ({"gen_ai.usage.reasoning.output_tokens": -1}, "negative"),
        ({"gen_ai.usage.input_tokens": 10**13 + 1}, "count above 10000000000000 in one record"),
        ({"gen_ai.provider.name": "cohere"}, "cohere"),
        ({"gen_ai.provider.name": None}, "provider"),
        ({"timestamp": None}, "timestamp"),
        ({"timestamp": "2026-11-02T10:00:00"}, "zone"),
        ({"timestamp": "yesterday at noon Z"}, "timestamp"),
        # cache tokens are included in input, so they cannot exceed it
        ({"gen_ai.usage.input_tokens": 100, "gen_ai.usage.cache_read.input_tokens": 101}, "cache"),
        ({"gen_ai.usage.input_tokens": 100, "gen_ai.usage.cache_read.input_tokens": 80,
          "gen_ai.usage.cache_creation.input_tokens": 30}, "cache"),
    ],
)
def test_bad_calls_are_rejected_with_a_reason(fields, in_reason):
    got = one_file(call(request_id="ok-1"), call(**fields), call(request_id="ok-3"))
    assert records(got, "source_line", "request_id") == [(1, "ok-1"), (3, "ok-3")]
    [row] = got.rejects.to_pylist()
    assert (row["source"], row["file"], row["line"]) == ("app_logs", APP_KEY, 2)
    assert in_reason in row["reason"]
    # the contract's fields keep their values, but a list or object among them only its shape
    assert json.loads(row["raw"]) == {k: ["UBIGINT"] if v == [1] else v for k, v in call(**fields).items()}
    assert file_counts(got) == {APP_KEY: (3, 2, 0, 1)}


def test_cache_tokens_equal_to_input_are_fine():
    got = one_file(call(**{"gen_ai.usage.input_tokens": 110, "gen_ai.usage.cache_read.input_tokens": 80,
                           "gen_ai.usage.cache_creation.input_tokens": 30}))
    assert records(got, "input_tokens", "cache_read_tokens", "cache_creation_tokens") == [(110, 80, 30)]


# ---------------------------------------------------------------------------------------------
# timestamps and the folder window


def test_timestamps_need_a_zone_and_offsets_are_converted_to_utc():
    got = one_file(
        call(timestamp="2026-11-02T12:00:00+02:00", request_id="plus2"),
        call(timestamp="2026-11-02T10:00:00", request_id="naive"),
        call(timestamp="2026-11-01T21:30:00-05:00", request_id="minus5"),  # 2026-11-02T02:30Z
        call(timestamp="2026-11-02T00:30:00+02:00", request_id="back"),    # 2026-11-01T22:30Z
        call(timestamp="2026-11-02T08:00:00+0530", request_id="compact"),  # 2026-11-02T02:30Z
    )
    assert records(got, "source_line", "request_id", "ts", "usage_date") == [
        (1, "plus2", datetime(2026, 11, 2, 10, 0, tzinfo=UTC), date(2026, 11, 2)),
        (3, "minus5", datetime(2026, 11, 2, 2, 30, tzinfo=UTC), date(2026, 11, 2)),
        (4, "back", datetime(2026, 11, 1, 22, 30, tzinfo=UTC), date(2026, 11, 1)),
        (5, "compact", datetime(2026, 11, 2, 2, 30, tzinfo=UTC), date(2026, 11, 2)),
    ]
    [(file, line, reason)] = rejected(got)
    assert (file, line) == (APP_KEY, 2)
    assert "zone" in reason and "2026-11-02T10:00:00" in reason


def test_the_folder_holds_its_day_and_the_days_either_side_only():
    got = one_file(
        call(timestamp="2026-11-02T23:59:59Z", request_id="end-of-day"),
        call(timestamp="2026-11-03T00:00:01Z", request_id="day-after"),
        call(timestamp="2026-11-04T00:00:00Z", request_id="two-days-after"),
        call(timestamp="2026-11-01T23:59:59Z", request_id="day-before"),
        call(timestamp="2026-11-01T00:00:00Z", request_id="day-before-start"),
        call(timestamp="2026-10-31T23:59:59Z", request_id="two-days-before"),
        call(timestamp="2026-10-31T12:00:00Z", request_id="two-days-before-noon"),
    )
    assert records(got, "source_line", "request_id", "usage_date", "folder_date") == [
        (1, "end-of-day", date(2026, 11, 2), DAY),
        (2, "day-after", date(2026, 11, 3), DAY),
        (4, "day-before", date(2026, 11, 1), DAY),
        (5, "day-before-start", date(2026, 11, 1), DAY),
    ]
    assert [(line, "window" in reason) for _, line, reason in rejected(got)] == [(3, True), (6, True), (7, True)]
    assert file_counts(got) == {APP_KEY: (7, 4, 0, 3)}


def test_the_connection_time_zone_does_not_change_the_result():
    lines = (call(timestamp="2026-11-02T00:30:00+02:00", request_id="a"),
             call(timestamp="2026-11-02T23:30:00Z", request_id="b"))
    con = sql.connect()
    con.execute("set timezone = 'Pacific/Auckland'")
    elsewhere = one_file(*lines, con=con)
    assert records(elsewhere, "request_id", "ts", "usage_date") == [
        ("a", datetime(2026, 11, 1, 22, 30, tzinfo=UTC), date(2026, 11, 1)),
        ("b", datetime(2026, 11, 2, 23, 30, tzinfo=UTC), date(2026, 11, 2)),
    ]
    assert elsewhere.records.equals(one_file(*lines).records)


# ---------------------------------------------------------------------------------------------
# gzip, empty files, several files


MIXED = (
    call(request_id="a", **{"gen_ai.usage.cache_read.input_tokens": 40}),
    {"timestamp": "2026-11-02T10:00:01Z", "event": "job.started", "job_id": "j1"},
    '{"timestamp": "2026-11-02T10:00:02Z", "gen_ai.provider.name": "open',
    "",
    call(request_id="e", **{"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None}),
    call(request_id="f", timestamp="2026-11-02T10:00:00"),
)


def test_gzipped_files_parse_identically_to_plain_ones():
    plain_key, gz_key = "app_logs/2026-11-02/a.jsonl", "app_logs/2026-11-02/b.jsonl.gz"
    data = jsonl(*MIXED)
    plain = parse(SourceFile(plain_key, data))
    zipped = parse(SourceFile(gz_key, gzip.compress(data)))

    def without(table, *cols):
        return [{k: v for k, v in r.items() if k not in cols} for r in table.to_pylist()]

    assert records(plain, "source_line", "request_id") == [(1, "a"), (5, "e")]
    assert without(zipped.records, "source_file") == without(plain.records, "source_file")
    assert set(zipped.records["source_file"].to_pylist()) == {gz_key}
    assert without(zipped.rejects, "file") == without(plain.rejects, "file")
    assert [(f, line) for f, line, _ in rejected(zipped)] == [(gz_key, 3), (gz_key, 6)]
    assert file_counts(plain) == {plain_key: (6, 2, 2, 2)}
    assert file_counts(zipped) == {gz_key: (6, 2, 2, 2)}


def _gzip_cut_after(head: bytes, tail: bytes) -> tuple[bytes, bytes]:
    """A gzip stream of head + tail, and the same stream cut right after `head` (fully flushed)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    return first + c.compress(tail) + c.flush(), first


def test_a_truncated_gzip_keeps_the_lines_before_the_damage():
    head = jsonl(call(request_id="a"), call(request_id="b"), call(request_id="c"))
    whole, cut = _gzip_cut_after(head, jsonl(call(request_id="d")))
    key = "app_logs/2026-11-02/app.jsonl.gz"
    assert gzip.decompress(whole) == head + jsonl(call(request_id="d"))  # the fixture is sound

    got = parse(SourceFile(key, cut))

    assert records(got, "source_line", "request_id") == [(1, "a"), (2, "b"), (3, "c")]
    [row] = got.rejects.to_pylist()
    assert (row["source"], row["file"], row["line"]) == ("app_logs", key, 4)
    assert "gzip" in row["reason"]
    assert file_counts(got) == {key: (4, 3, 0, 1)}
    assert got.files.to_pylist()[0]["bytes"] == len(cut)


def test_a_gzip_cut_inside_a_line_rejects_that_line_and_the_rest():
    partial = json.dumps(call(request_id="c"))[:30].encode()
    head = jsonl(call(request_id="a"), call(request_id="b")) + partial
    _, cut = _gzip_cut_after(head, b"rest of the line\n")
    key = "app_logs/2026-11-02/app.jsonl.gz"

    got = parse(SourceFile(key, cut))

    assert records(got, "source_line", "request_id") == [(1, "a"), (2, "b")]
    rows = got.rejects.to_pylist()
    assert [(r["file"], r["line"]) for r in rows] == [(key, 3), (key, 4)]
    assert "JSON" in rows[0]["reason"] and json.loads(rows[0]["raw"]) == {"bytes": len(partial)}
    assert "gzip" in rows[1]["reason"]
    assert file_counts(got) == {key: (4, 2, 0, 2)}


def test_a_file_named_gz_that_is_not_gzip_is_one_rejected_row():
    key = "app_logs/2026-11-02/app.jsonl.gz"
    got = parse(SourceFile(key, jsonl(call())))
    assert got.records.num_rows == 0
    assert [(f, line, "gzip" in reason) for f, line, reason in rejected(got)] == [(key, 1, True)]
    assert file_counts(got) == {key: (1, 0, 0, 1)}


def test_a_corrupted_gzip_keeps_the_lines_before_the_damage():
    head = jsonl(call(request_id="a"), call(request_id="b"), call(request_id="c"))
    whole, cut = _gzip_cut_after(head, jsonl(call(request_id="d")))
    corrupted = cut + b"\xff" * 16 + whole[len(cut) + 16:]  # 0xff: a deflate block of reserved type 3
    key = "app_logs/2026-11-02/app.jsonl.gz"
    with pytest.raises(zlib.error):
        zlib.decompress(corrupted, 16 + zlib.MAX_WBITS)  # the fixture is damaged, as intended

    got = parse(SourceFile(key, corrupted))

    assert records(got, "source_line", "request_id") == [(1, "a"), (2, "b"), (3, "c")]
    assert [(f, line) for f, line, _ in rejected(got)] == [(key, 4)]
    assert file_counts(got) == {key: (4, 3, 0, 1)}


def test_an_empty_file_has_a_files_row_of_zeros():
    empty_plain = SourceFile("app_logs/2026-11-02/empty.jsonl", b"")
    empty_gz = SourceFile("app_logs/2026-11-02/empty.jsonl.gz", gzip.compress(b""))
    got = parse(empty_plain, empty_gz)
    assert got.records.num_rows == 0 and got.records.schema == bronze.MODEL_CALLS
    assert got.rejects.num_rows == 0 and got.rejects.schema == bronze.REJECTS
    assert got.files.to_pylist() == [
        {"source": "app_logs", "file": empty_plain.key, "sha256": hashlib.sha256(b"").hexdigest(), "bytes": 0,
         "lines_read": 0, "records": 0, "skipped": 0, "rejected": 0, "unrecognized": 0, "sample_keys": None},
        {"source": "app_logs", "file": empty_gz.key, "sha256": empty_gz.sha256, "bytes": len(empty_gz.data),
         "lines_read": 0, "records": 0, "skipped": 0, "rejected": 0, "unrecognized": 0, "sample_keys": None},
    ]


def test_no_files_at_all():
    got = parse()
    assert (got.records.num_rows, got.rejects.num_rows, got.files.num_rows) == (0, 0, 0)
    assert got.counts == {"lines_read": 0, "records": 0, "skipped": 0, "rejected": 0, "files": 0}


def test_every_line_of_every_file_is_accounted_for():
    a = SourceFile("app_logs/2026-11-02/a.jsonl", jsonl(*MIXED))
    b = SourceFile("app_logs/2026-11-02/b.jsonl.gz", gzip.compress(jsonl(call(request_id="z"), "", "{not json")))
    c = SourceFile("app_logs/2026-11-02/c.jsonl", b"")
    whole, cut = _gzip_cut_after(jsonl(call(request_id="y")), jsonl(call(request_id="lost")))
    d = SourceFile("app_logs/2026-11-02/d.jsonl.gz", cut)

    got = parse(a, b, c, d)

    assert file_counts(got) == {a.key: (6, 2, 2, 2), b.key: (3, 1, 1, 1), c.key: (0, 0, 0, 0), d.key: (2, 1, 0, 1)}
    assert got.counts == {"lines_read": 11, "records": 4, "skipped": 3, "rejected": 4, "files": 4}
    assert records(got, "source_file", "source_line", "request_id") == [
        (a.key, 1, "a"), (a.key, 5, "e"), (b.key, 1, "z"), (d.key, 1, "y")
    ]
    assert [(f, line) for f, line, _ in rejected(got)] == [(a.key, 3), (a.key, 6), (b.key, 3), (d.key, 2)]
    # the tables agree with the per-file counts
    for row in got.files.to_pylist():
        assert got.records["source_file"].to_pylist().count(row["file"]) == row["records"]
        assert got.rejects["file"].to_pylist().count(row["file"]) == row["rejected"]
