"""OpenAI Usage API and Costs API pages -> bronze rows, on hand-written payloads.

The payloads follow provider-formats.md section 1: a `page` of `bucket`s whose `results` are
`organization.usage.completions.result` / `organization.usage.embeddings.result` or
`organization.costs.result` objects; bucket times are unix seconds (UTC); cost amounts are JSON
numbers in dollars with a lowercase `usd` currency. Cost pages are written as raw JSON text so
that the number literals are exactly the ones a float would distort.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import date, datetime, timezone
from decimal import Decimal

import pyarrow.compute as pc
import pytest

from pipelines.defs.openai.parse import parse_cost_pages, parse_usage_pages
from pipelines.lib import bronze
from pipelines.lib.store import SourceFile

UTC = timezone.utc
NOV_01 = 1793491200  # 2026-11-01T00:00:00Z
NOV_02 = 1793577600  # 2026-11-02T00:00:00Z
NOV_03 = 1793664000  # 2026-11-03T00:00:00Z
FOLDER = date(2026, 11, 3)  # the delivery folder; usage days come from the buckets
MODEL = "gpt-4o-mini-2024-07-18"
COMPLETIONS = "organization.usage.completions.result"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def usage_page(buckets: list[tuple[int, int, list[dict]]], *, has_more: bool = False, next_page: str | None = None) -> bytes:
    return json.dumps(
        {
            "object": "page",
            "data": [{"object": "bucket", "start_time": s, "end_time": e, "results": r} for s, e, r in buckets],
            "has_more": has_more,
            "next_page": next_page,
        }
    ).encode()


def completion(**fields) -> dict:
    base = {"object": COMPLETIONS, "input_tokens": 100, "output_tokens": 10, "num_model_requests": 1,
            "project_id": "proj_abc", "user_id": None, "api_key_id": None, "model": MODEL,
            "batch": False, "service_tier": "default"}
    return base | fields


def cost_page(results: list[str], start: int = NOV_02, end: int = NOV_03) -> bytes:
    """A Costs API page from raw result JSON texts (so number literals stay as written)."""
    return (
        '{"object": "page", "data": [{"object": "bucket", "start_time": %d, "end_time": %d, "results": [%s]}], '
        '"has_more": false, "next_page": null}' % (start, end, ", ".join(results))
    ).encode()


def cost(value: str, line_item: str = f"{MODEL}, input", *, currency: str = '"usd"', project: str = "proj_abc",
         quantity: str = "null", unit: str = "null") -> str:
    return (
        '{"object": "organization.costs.result", "amount": {"value": %s, "currency": %s}, "line_item": %s, '
        '"project_id": "%s", "api_key_id": null, "quantity": %s, "quantity_unit": %s}'
        % (value, currency, json.dumps(line_item), project, quantity, unit)
    )


def usage(files: list[SourceFile], endpoint: str = "completions"):
    return parse_usage_pages(files, endpoint=endpoint, folder_date=FOLDER)


def costs(files: list[SourceFile]):
    return parse_cost_pages(files, folder_date=FOLDER)


def file_counts(ingested) -> dict[str, tuple[int, int, int, int]]:
    """file -> (lines_read, records, skipped, rejected), asserting conservation on the way."""
    out = {}
    for row in ingested.files.to_pylist():
        assert row["lines_read"] == row["records"] + row["skipped"] + row["rejected"], row
        out[row["file"]] = (row["lines_read"], row["records"], row["skipped"], row["rejected"])
    return out


def reject_summary(ingested) -> list[tuple[str, str, int | None]]:
    return [(r["source"], r["file"], r["line"]) for r in ingested.rejects.to_pylist()]


# ---------------------------------------------------------------------------------------------
# Usage API: completions


def test_completions_result_becomes_one_exact_row_with_inclusive_input_tokens():
    # The documented example (provider-formats.md 1.8): 5000 input tokens INCLUDE the 1800 cached
    # and 200 cache-write tokens; the parser keeps OpenAI's inclusive meaning untouched.
    result = {
        "object": COMPLETIONS,
        "input_tokens": 5000, "input_cached_tokens": 1800, "input_cache_write_tokens": 200, "input_uncached_tokens": 3000,
        "output_tokens": 1000,
        "input_text_tokens": 2500, "output_text_tokens": 800, "input_cached_text_tokens": 1500,
        "input_audio_tokens": 300, "input_cached_audio_tokens": 100, "output_audio_tokens": 100,
        "input_image_tokens": 200, "input_cached_image_tokens": 200, "output_image_tokens": 100,
        "num_model_requests": 5,
        "project_id": "proj_abc", "user_id": None, "api_key_id": "key_1",
        "model": MODEL, "batch": False, "service_tier": "default",
        "some_field_added_next_year": 7,  # unknown fields are tolerated
    }
    data = usage_page([(NOV_02, NOV_03, [result])])  # the listing's last page
    key = "openai/usage/completions/2026-11-03/p0.json"

    got = usage([SourceFile(key, data)])

    assert got.records.schema == bronze.OPENAI_USAGE
    assert got.records.to_pylist() == [
        {
            "folder_date": date(2026, 11, 3),
            "usage_date": date(2026, 11, 2),
            "bucket_start": datetime(2026, 11, 2, tzinfo=UTC),
            "bucket_end": datetime(2026, 11, 3, tzinfo=UTC),
            "endpoint": "completions",
            "project_id": "proj_abc",
            "api_key_id": "key_1",
            "user_id": None,
            "model": MODEL,
            "batch": False,
            "service_tier": "default",
            "input_tokens": 5000,
            "input_cached_tokens": 1800,
            "input_cache_write_tokens": 200,
            "input_uncached_tokens": 3000,
            "output_tokens": 1000,
            "num_model_requests": 5,
            # the audio and image parts of the totals (priced apart downstream)
            "input_audio_tokens": 300,
            "input_cached_audio_tokens": 100,
            "output_audio_tokens": 100,
            "input_image_tokens": 200,
            "input_cached_image_tokens": 200,
            "output_image_tokens": 100,
            "source_file": key,
            "source_line": 1,
            "file_sha256": sha(data),
        }
    ]
    assert got.rejects.num_rows == 0
    assert got.files.to_pylist() == [
        {"source": "openai/usage/completions", "file": key, "sha256": sha(data), "bytes": len(data),
         "lines_read": 1, "records": 1, "skipped": 0, "rejected": 0, "unrecognized": None, "sample_keys": None}
    ]


def test_optional_fields_absent_stay_null():
    result = {"object": COMPLETIONS, "input_tokens": 42, "output_tokens": 7, "num_model_requests": 2}
    got = usage([SourceFile("p.json", usage_page([(NOV_02, NOV_03, [result])]))])
    row = got.records.to_pylist()[0]
    assert {k: row[k] for k in ("project_id", "api_key_id", "user_id", "model", "batch", "service_tier",
                                "input_tokens", "input_cached_tokens", "input_cache_write_tokens",
                                "input_uncached_tokens", "output_tokens", "num_model_requests",
                                "input_audio_tokens", "input_cached_audio_tokens", "output_image_tokens")} == {
        "project_id": None, "api_key_id": None, "user_id": None, "model": None, "batch": None, "service_tier": None,
        "input_tokens": 42, "input_cached_tokens": None, "input_cache_write_tokens": None,
        "input_uncached_tokens": None, "output_tokens": 7, "num_model_requests": 2,
        "input_audio_tokens": None, "input_cached_audio_tokens": None, "output_image_tokens": None,
    }


@pytest.fixture
def tokyo_local_time(monkeypatch):
    """Run with a local time zone 9 hours east of UTC, so local-time conversions would show."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_hourly_buckets_are_read_as_utc_unix_seconds(tokyo_local_time):
    # 2026-11-01T23:00Z is 2026-11-02 08:00 in Tokyo: the usage date must still be 2026-11-01.
    late = (NOV_02 - 3600, NOV_02, [completion(input_tokens=11)])
    early = (NOV_02, NOV_02 + 3600, [completion(input_tokens=22)])
    got = usage([SourceFile("h.json", usage_page([late, early]))])
    rows = [(r["usage_date"], r["bucket_start"], r["bucket_end"], r["input_tokens"], r["source_line"])
            for r in got.records.to_pylist()]
    assert rows == [
        (date(2026, 11, 1), datetime(2026, 11, 1, 23, tzinfo=UTC), datetime(2026, 11, 2, 0, tzinfo=UTC), 11, 1),
        (date(2026, 11, 2), datetime(2026, 11, 2, 0, tzinfo=UTC), datetime(2026, 11, 2, 1, tzinfo=UTC), 22, 2),
    ]


def test_paginated_pages_in_two_files_both_land():
    first = usage_page([(NOV_01, NOV_02, [completion(input_tokens=1000, project_id="proj_a")])],
                       has_more=True, next_page="page_AAAAAGdGxdEiJdKOAAAAAGcqsYA=")
    second = usage_page([(NOV_02, NOV_03, [completion(input_tokens=2000, project_id="proj_a"),
                                           completion(input_tokens=3000, project_id="proj_b")])])
    files = [SourceFile("openai/usage/completions/2026-11-03/page-1.json", first),
             SourceFile("openai/usage/completions/2026-11-03/page-2.json", second)]

    got = usage(files)

    assert [(r["source_file"].rsplit("/", 1)[1], r["source_line"], r["usage_date"], r["project_id"], r["input_tokens"])
            for r in got.records.to_pylist()] == [
        ("page-1.json", 1, date(2026, 11, 1), "proj_a", 1000),
        ("page-2.json", 1, date(2026, 11, 2), "proj_a", 2000),
        ("page-2.json", 2, date(2026, 11, 2), "proj_b", 3000),
    ]
    assert pc.sum(got.records["input_tokens"]).as_py() == 6000
    assert file_counts(got) == {files[0].key: (1, 1, 0, 0), files[1].key: (2, 2, 0, 0)}
    assert got.counts == {"lines_read": 3, "records": 3, "skipped": 0, "rejected": 0, "files": 2}


def test_empty_buckets_produce_no_rows_and_no_rejects():
    empty_only = usage_page([(NOV_01, NOV_02, []), (NOV_02, NOV_03, [])])
    mixed = usage_page([(NOV_01, NOV_02, []), (NOV_02, NOV_03, [completion(input_tokens=5)])])
    got = usage([SourceFile("empty.json", empty_only), SourceFile("mixed.json", mixed)])
    assert [(r["source_file"], r["usage_date"], r["input_tokens"]) for r in got.records.to_pylist()] == [
        ("mixed.json", date(2026, 11, 2), 5)
    ]
    assert got.rejects.num_rows == 0
    assert file_counts(got) == {"empty.json": (0, 0, 0, 0), "mixed.json": (1, 1, 0, 0)}


def test_page_with_no_buckets_at_all_is_fine():
    got = usage([SourceFile("none.json", usage_page([]))])
    assert got.records.num_rows == 0
    assert got.rejects.num_rows == 0
    assert file_counts(got) == {"none.json": (0, 0, 0, 0)}


def test_embeddings_results_have_zero_output_tokens():
    result = {"object": "organization.usage.embeddings.result", "input_tokens": 16000, "num_model_requests": 3,
              "project_id": "proj_abc", "user_id": None, "api_key_id": None, "model": "text-embedding-3-small"}
    key = "openai/usage/embeddings/2026-11-03/p0.json"
    got = usage([SourceFile(key, usage_page([(NOV_02, NOV_03, [result])]))], endpoint="embeddings")
    row = got.records.to_pylist()[0]
    assert {k: row[k] for k in ("endpoint", "usage_date", "model", "input_tokens", "input_cached_tokens",
                                "output_tokens", "num_model_requests")} == {
        "endpoint": "embeddings", "usage_date": date(2026, 11, 2), "model": "text-embedding-3-small",
        "input_tokens": 16000, "input_cached_tokens": None, "output_tokens": 0, "num_model_requests": 3,
    }
    assert got.files.to_pylist()[0]["source"] == "openai/usage/embeddings"


def test_bad_usage_results_are_rejected_one_by_one_with_their_position():
    results = [
        completion(input_tokens=100, model="ok-1"),                          # 1 kept
        {k: v for k, v in completion().items() if k != "input_tokens"},      # 2 missing input_tokens
        completion(output_tokens=-5),                                        # 3 negative
        completion(input_tokens=100, input_cached_tokens=150),               # 4 input < cached
        completion(input_tokens=100, input_cached_tokens=80, input_cache_write_tokens=30),  # 5 input < cached + write
        completion(input_tokens="12"),                                       # 6 a string
        completion(input_tokens=12.5),                                       # 7 not an integer
        completion(input_tokens=True),                                       # 8 a boolean is not a count
        {k: v for k, v in completion().items() if k != "num_model_requests"},  # 9 missing a required field
        completion(input_tokens=100, input_cached_tokens=100, model="ok-2"),  # 10 kept: equality is fine
    ]
    key = "openai/usage/completions/2026-11-03/p0.json"
    got = usage([SourceFile(key, usage_page([(NOV_02, NOV_03, results)]))])

    assert [(r["source_line"], r["model"]) for r in got.records.to_pylist()] == [(1, "ok-1"), (10, "ok-2")]
    rejects = got.rejects.to_pylist()
    assert [(r["source"], r["file"], r["line"]) for r in rejects] == [
        ("openai/usage/completions", key, n) for n in (2, 3, 4, 5, 6, 7, 8, 9)
    ]
    reasons = [r["reason"] for r in rejects]
    assert "missing input_tokens" in reasons[0]
    assert "output_tokens" in reasons[1]
    assert "input_tokens" in reasons[2] and "input_cached_tokens" in reasons[2]
    assert "input_cache_write_tokens" in reasons[3]
    assert all("input_tokens" in r for r in reasons[4:7])
    assert "num_model_requests" in reasons[7]
    # the raw result is kept, as JSON text
    assert json.loads(rejects[1]["raw"])["output_tokens"] == -5
    assert file_counts(got) == {key: (10, 2, 0, 8)}


def test_unusable_pages_are_rejected_whole_and_other_files_still_land():
    good = usage_page([(NOV_02, NOV_03, [completion(input_tokens=7)])])
    no_data = json.dumps({"object": "page", "has_more": False, "next_page": None}).encode()
    truncated = good[: len(good) // 2]
    not_object = b"[1, 2, 3]"
    bad_bucket = usage_page([(NOV_03, NOV_02, [completion()])])  # end before start
    files = [SourceFile("a_good.json", good), SourceFile("b_no_data.json", no_data),
             SourceFile("c_truncated.json", truncated), SourceFile("d_array.json", not_object),
             SourceFile("e_bad_bucket.json", bad_bucket)]

    got = usage(files)

    assert [(r["source_file"], r["input_tokens"]) for r in got.records.to_pylist()] == [("a_good.json", 7)]
    rejects = got.rejects.to_pylist()
    assert [(r["file"], r["line"]) for r in rejects] == [
        ("b_no_data.json", None), ("c_truncated.json", None), ("d_array.json", None), ("e_bad_bucket.json", None)
    ]
    assert "'data'" in rejects[0]["reason"]
    assert "not valid JSON" in rejects[1]["reason"]
    assert json.loads(rejects[1]["raw"]) == {"bytes": len(truncated)}  # never the text
    assert "not a JSON object" in rejects[2]["reason"]
    assert "start_time" in rejects[3]["reason"]
    assert file_counts(got) == {
        "a_good.json": (1, 1, 0, 0), "b_no_data.json": (1, 0, 0, 1), "c_truncated.json": (1, 0, 0, 1),
        "d_array.json": (1, 0, 0, 1), "e_bad_bucket.json": (1, 0, 0, 1),
    }


def test_no_files_gives_empty_tables_with_the_bronze_schemas():
    got = usage([])
    assert got.records.num_rows == 0 and got.records.schema == bronze.OPENAI_USAGE
    assert got.rejects.num_rows == 0 and got.rejects.schema == bronze.REJECTS
    assert got.files.num_rows == 0 and got.files.schema == bronze.FILES


def test_token_count_beyond_int64_is_rejected_not_a_crash():
    results = [completion(input_tokens=10, model="ok"), completion(input_tokens=2**63)]
    got = usage([SourceFile("p.json", usage_page([(NOV_02, NOV_03, results)]))])
    assert [r["model"] for r in got.records.to_pylist()] == ["ok"]
    assert [(r["file"], r["line"]) for r in got.rejects.to_pylist()] == [("p.json", 2)]


# ---------------------------------------------------------------------------------------------
# Costs API


def test_cost_rows_are_exact_decimal_dollars():
    # The documented example (provider-formats.md 1.8).
    data = cost_page([
        cost("12.3456", f"{MODEL}, cached input", quantity="1800000", unit='"tokens"'),
        cost("0.06", "web search tool calls"),
    ])
    key = "openai/costs/2026-11-03/p0.json"

    got = costs([SourceFile(key, data)])

    assert got.records.schema == bronze.OPENAI_COSTS
    common = {"folder_date": date(2026, 11, 3), "usage_date": date(2026, 11, 2),
              "bucket_start": datetime(2026, 11, 2, tzinfo=UTC), "bucket_end": datetime(2026, 11, 3, tzinfo=UTC),
              "project_id": "proj_abc", "api_key_id": None, "currency": "usd",
              "source_file": key, "file_sha256": sha(data)}
    assert got.records.to_pylist() == [
        common | {"line_item": f"{MODEL}, cached input", "amount": Decimal("12.3456"),
                  "quantity": Decimal("1800000"), "quantity_unit": "tokens", "source_line": 1},
        common | {"line_item": "web search tool calls", "amount": Decimal("0.06"),
                  "quantity": None, "quantity_unit": None, "source_line": 2},
    ]
    amounts = got.records["amount"].to_pylist()
    assert all(type(a) is Decimal for a in amounts)
    assert pc.sum(got.records["amount"]).as_py() == Decimal("12.4056")
    assert got.files.to_pylist() == [
        {"source": "openai/costs", "file": key, "sha256": sha(data), "bytes": len(data),
         "lines_read": 2, "records": 2, "skipped": 0, "rejected": 0, "unrecognized": None, "sample_keys": None}
    ]


def test_amounts_that_floats_would_distort_stay_exact():
    data = cost_page([
        cost("0.1", f"{MODEL}, input"),
        cost("0.2", f"{MODEL}, output"),
        cost("12.345678901234", f"{MODEL}, cached input"),
        cost("0.000000000001", f"{MODEL}, cache writes"),
        cost("123456789.123456789012", "priority | gpt-5.6-sol, output, long context"),
        cost("-5.00", "credit"),  # credits and refunds pass through negative
        cost("0.5", "Vector storage", quantity="0.75", unit='"gibibyte_hours"'),
    ])
    got = costs([SourceFile("c.json", data)])
    assert got.records["amount"].to_pylist() == [
        Decimal("0.1"), Decimal("0.2"), Decimal("12.345678901234"), Decimal("0.000000000001"),
        Decimal("123456789.123456789012"), Decimal("-5.00"), Decimal("0.5"),
    ]
    assert got.records["quantity"].to_pylist() == [None, None, None, None, None, None, Decimal("0.75")]
    # 0.1 + 0.2 is 0.3 here, not 0.30000000000000004; and 21 significant digits survive, where a
    # float would have given 123456789.123456791043
    assert pc.sum(got.records["amount"].slice(0, 2)).as_py() == Decimal("0.3")
    assert pc.sum(got.records["amount"]).as_py() == Decimal("123456797.269135690247")
    assert got.rejects.num_rows == 0


def test_cost_values_are_accepted_or_rejected_by_type_and_currency():
    results = [
        cost('"0.1"', "string amount"),                     # 1 a decimal string: accepted exactly
        cost("true", "boolean amount"),                     # 2 rejected
        cost("1.50", "euro line", currency='"eur"'),        # 3 rejected: not USD
        cost("2.25", "upper-case currency", currency='"USD"'),  # 4 accepted
        cost("null", "null amount"),                        # 5 rejected
        cost('"abc"', "text amount"),                       # 6 rejected
        cost('"0.1"', "no currency", currency="null"),      # 7 rejected
        '{"object": "organization.costs.result", "line_item": "no amount", "project_id": "p"}',  # 8 rejected
        cost("7", "integer amount", quantity="3", unit='"images"'),  # 9 accepted
    ]
    key = "openai/costs/2026-11-03/p0.json"
    got = costs([SourceFile(key, cost_page(results))])

    assert [(r["source_line"], r["line_item"], r["amount"], r["currency"], r["quantity"])
            for r in got.records.to_pylist()] == [
        (1, "string amount", Decimal("0.1"), "usd", None),
        (4, "upper-case currency", Decimal("2.25"), "usd", None),
        (9, "integer amount", Decimal("7"), "usd", Decimal("3")),
    ]
    rejects = got.rejects.to_pylist()
    assert [(r["source"], r["file"], r["line"]) for r in rejects] == [
        ("openai/costs", key, n) for n in (2, 3, 5, 6, 7, 8)
    ]
    reasons = [r["reason"] for r in rejects]
    assert "bool" in reasons[0]
    assert "eur" in reasons[1] and "USD" in reasons[1]
    assert "abc" in reasons[3]
    assert "USD" in reasons[4]
    assert "amount" in reasons[5]
    assert json.loads(rejects[1]["raw"])["amount"] == {"value": "1.50", "currency": "eur"}  # raw kept, Decimal as text
    assert file_counts(got) == {key: (9, 3, 0, 6)}


def test_cost_pages_that_are_not_pages_are_rejected_and_counted():
    good = cost_page([cost("1.25")])
    files = [SourceFile("a.json", good), SourceFile("b.json", b'{"object": "page", "has_more": false}'),
             SourceFile("c.json", b'{"object": "page", "data": [{"object": "bucket", "start_'), SourceFile("d.json", b"")]
    got = costs(files)
    assert got.records["amount"].to_pylist() == [Decimal("1.25")]
    assert [(r["file"], r["line"]) for r in got.rejects.to_pylist()] == [("b.json", None), ("c.json", None), ("d.json", None)]
    assert file_counts(got) == {"a.json": (1, 1, 0, 0), "b.json": (1, 0, 0, 1), "c.json": (1, 0, 0, 1),
                                "d.json": (1, 0, 0, 1)}
    assert got.counts == {"lines_read": 4, "records": 1, "skipped": 0, "rejected": 3, "files": 4}


def test_cost_pagination_and_empty_buckets():
    first = cost_page([cost("1.00", project="proj_a")], start=NOV_01, end=NOV_02).replace(
        b'"has_more": false, "next_page": null', b'"has_more": true, "next_page": "page_xyz"')
    second = cost_page([], start=NOV_02, end=NOV_03)
    got = costs([SourceFile("p1.json", first), SourceFile("p2.json", second)])
    assert [(r["source_file"], r["usage_date"], r["amount"]) for r in got.records.to_pylist()] == [
        ("p1.json", date(2026, 11, 1), Decimal("1.00"))
    ]
    assert file_counts(got) == {"p1.json": (1, 1, 0, 0), "p2.json": (0, 0, 0, 0)}


def test_amount_too_large_for_decimal_38_12_is_rejected_not_a_crash():
    # 31 integer digits cannot be stored as DECIMAL(38, 12) at all: the row must be rejected.
    got = costs([SourceFile("c.json", cost_page([cost("1.25", "ok"), cost("1e30", "absurd")]))])
    assert got.records["line_item"].to_pylist() == ["ok"]
    assert [(r["file"], r["line"]) for r in got.rejects.to_pylist()] == [("c.json", 2)]
