"""Anthropic Admin API report pages -> bronze rows -> staging, on hand-written payloads.

The payloads follow provider-formats.md section 2: `usage_report/messages` and `cost_report`
pages `{data: [buckets], has_more, next_page}`, buckets `{starting_at, ending_at, results}` with
RFC 3339 times; usage results carry `uncached_input_tokens` (EXCLUDING cache tokens),
`cache_read_input_tokens`, `cache_creation.{ephemeral_5m,ephemeral_1h}_input_tokens`,
`output_tokens`, `server_tool_use.web_search_requests`; cost results carry `amount`, a decimal
string in CENTS, and `currency` `"USD"`. `workspace_id: null` is the default workspace.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipelines.defs.anthropic.assets import anthropic_costs, anthropic_usage
from pipelines.defs.anthropic.parse import parse_cost_pages, parse_usage_pages
from pipelines.defs.resources import LakeStore, SourceStore
from pipelines.lib import bronze, sql
from pipelines.lib.bronze.anthropic import ANTHROPIC_COSTS, ANTHROPIC_USAGE
from pipelines.lib.lake import Lake
from pipelines.lib.store import SourceFile

from .fixtures import build_models

UTC = timezone.utc
D = Decimal
NOV_01, NOV_02, NOV_03 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
SONNET, HAIKU = "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"
WS = "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hour(day: date, h: int) -> str:
    return f"{day.isoformat()}T{h:02d}:00:00Z"


def day_bucket(day: date, results: list) -> tuple[str, str, list]:
    return (hour(day, 0), f"{date.fromordinal(day.toordinal() + 1).isoformat()}T00:00:00Z", results)


def page(buckets: list[tuple[str, str, list]], *, has_more: bool = False, next_page: str | None = None) -> bytes:
    return json.dumps(
        {"data": [{"starting_at": s, "ending_at": e, "results": r} for s, e, r in buckets],
         "has_more": has_more, "next_page": next_page}
    ).encode()


def used(uncached: int = 100, read: int = 0, write_5m: int = 0, write_1h: int = 0, output: int = 10,
         searches: int | None = 0, **fields) -> dict:
    """A usage result grouped by workspace_id, model, service_tier and context_window."""
    result = {
        "uncached_input_tokens": uncached, "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h},
        "output_tokens": output, "server_tool_use": {"web_search_requests": searches},
        "workspace_id": "wrkspc_app", "api_key_id": None, "account_id": None, "service_account_id": None,
        "model": SONNET, "service_tier": "standard", "context_window": "0-200k", "inference_geo": None,
    }
    return result | fields


def charged(amount: str, description: str = "Claude Sonnet 4.5 Usage - Input Tokens", *,
            token_type: str | None = "uncached_input_tokens", cost_type: str | None = "tokens",
            model: str | None = SONNET, workspace: str | None = "wrkspc_app", **fields) -> dict:
    """A cost result grouped by workspace_id and description; `amount` is cents, as a string."""
    result = {
        "amount": amount, "currency": "USD", "workspace_id": workspace, "description": description,
        "cost_type": cost_type, "model": model, "token_type": token_type,
        "service_tier": "standard" if cost_type == "tokens" else None,
        "context_window": "0-200k" if cost_type == "tokens" else None, "inference_geo": None,
    }
    return result | fields


def search_line(amount: str, workspace: str | None = "wrkspc_app") -> dict:
    return charged(amount, "Web Search Usage", token_type=None, cost_type="web_search", model=None,
                   workspace=workspace)


def usage(files: list[SourceFile], folder: date = NOV_03):
    return parse_usage_pages(files, folder_date=folder)


def costs(files: list[SourceFile], folder: date = NOV_03):
    return parse_cost_pages(files, folder_date=folder)


def file_counts(ingested) -> dict[str, tuple[int, int, int, int]]:
    """file -> (lines_read, records, skipped, rejected), asserting conservation on the way."""
    out = {}
    for row in ingested.files.to_pylist():
        assert row["lines_read"] == row["records"] + row["skipped"] + row["rejected"], row
        out[row["file"]] = (row["lines_read"], row["records"], row["skipped"], row["rejected"])
    return out


def reject_lines(ingested) -> list[tuple[str, str, int | None]]:
    return [(r["source"], r["file"], r["line"]) for r in ingested.rejects.to_pylist()]


# ---------------------------------------------------------------------------------------------
# usage_report/messages


def test_documented_usage_example_becomes_one_exact_row():
    # provider-formats.md 2.7, verbatim values, plus a field the API may add next year
    result = {
        "uncached_input_tokens": 120034, "cache_read_input_tokens": 880120,
        "cache_creation": {"ephemeral_5m_input_tokens": 40210, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 30551, "server_tool_use": {"web_search_requests": 3},
        "workspace_id": WS, "api_key_id": None, "account_id": None,
        "service_account_id": None, "model": SONNET, "service_tier": "batch",
        "context_window": "0-200k", "inference_geo": None, "a_field_added_next_year": {"x": 1},
    }
    data = page([("2026-08-01T00:00:00Z", "2026-08-01T01:00:00Z", [result])])  # the listing's last page
    key = "anthropic/usage_report/2026-08-01/page-001.json"

    got = usage([SourceFile(key, data)], folder=date(2026, 8, 1))

    assert got.records.schema == ANTHROPIC_USAGE
    assert got.records.to_pylist() == [
        {
            "folder_date": date(2026, 8, 1), "usage_date": date(2026, 8, 1),
            "bucket_start": datetime(2026, 8, 1, 0, tzinfo=UTC), "bucket_end": datetime(2026, 8, 1, 1, tzinfo=UTC),
            "workspace_id": WS, "api_key_id": None, "account_id": None, "service_account_id": None,
            "model": SONNET, "service_tier": "batch", "context_window": "0-200k", "inference_geo": None,
            "speed": None,
            "uncached_input_tokens": 120034, "cache_read_input_tokens": 880120,
            "cache_creation_5m_input_tokens": 40210, "cache_creation_1h_input_tokens": 0,
            "output_tokens": 30551, "web_search_requests": 3,
            "source_file": key, "source_line": 1, "file_sha256": sha(data),
        }
    ]
    assert got.rejects.num_rows == 0
    assert got.files.to_pylist() == [
        {"source": "anthropic/usage_report", "file": key, "sha256": sha(data), "bytes": len(data),
         "lines_read": 1, "records": 1, "skipped": 0, "rejected": 0, "unrecognized": None, "sample_keys": None}
    ]


def test_default_workspace_stays_null_and_absent_groupings_are_null():
    default_ws = used(uncached=7, workspace_id=None, api_key_id="apikey_01", inference_geo="us", speed="fast")
    ungrouped = {"uncached_input_tokens": 5, "cache_read_input_tokens": 4,
                 "cache_creation": {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 2},
                 "output_tokens": 1}  # no grouping keys, no server_tool_use at all
    got = usage([SourceFile("p.json", page([day_bucket(NOV_02, [default_ws, ungrouped])]))])
    cols = ["workspace_id", "api_key_id", "model", "service_tier", "context_window", "inference_geo", "speed",
            "uncached_input_tokens", "cache_read_input_tokens", "cache_creation_5m_input_tokens",
            "cache_creation_1h_input_tokens", "output_tokens", "web_search_requests"]
    assert [tuple(r[c] for c in cols) for r in got.records.to_pylist()] == [
        (None, "apikey_01", SONNET, "standard", "0-200k", "us", "fast", 7, 0, 0, 0, 10, 0),
        (None, None, None, None, None, None, None, 5, 4, 3, 2, 1, None),
    ]
    assert got.rejects.num_rows == 0


def test_five_minute_and_one_hour_cache_writes_are_separate_columns():
    results = [used(uncached=1000, read=9000, write_5m=400, write_1h=0),
               used(uncached=2000, read=0, write_5m=0, write_1h=700, model=HAIKU)]
    got = usage([SourceFile("p.json", page([day_bucket(NOV_02, results)]))])
    assert [(r["model"], r["uncached_input_tokens"], r["cache_read_input_tokens"],
             r["cache_creation_5m_input_tokens"], r["cache_creation_1h_input_tokens"])
            for r in got.records.to_pylist()] == [(SONNET, 1000, 9000, 400, 0), (HAIKU, 2000, 0, 0, 700)]


def test_hourly_buckets_are_read_in_utc_whatever_the_offset():
    buckets = [
        ("2026-11-01T23:00:00Z", "2026-11-02T00:00:00Z", [used(uncached=11)]),
        # 01:00+01:00 is midnight UTC: the bucket belongs to 2026-11-02
        ("2026-11-02T01:00:00+01:00", "2026-11-02T02:00:00+01:00", [used(uncached=22)]),
        ("2026-11-02T23:00:00.000Z", "2026-11-03T00:00:00.000Z", [used(uncached=33)]),
    ]
    got = usage([SourceFile("h.json", page(buckets))])
    assert [(r["usage_date"], r["bucket_start"], r["bucket_end"], r["uncached_input_tokens"], r["source_line"])
            for r in got.records.to_pylist()] == [
        (NOV_01, datetime(2026, 11, 1, 23, tzinfo=UTC), datetime(2026, 11, 2, 0, tzinfo=UTC), 11, 1),
        (NOV_02, datetime(2026, 11, 2, 0, tzinfo=UTC), datetime(2026, 11, 2, 1, tzinfo=UTC), 22, 2),
        (NOV_02, datetime(2026, 11, 2, 23, tzinfo=UTC), datetime(2026, 11, 3, 0, tzinfo=UTC), 33, 3),
    ]


def test_paginated_pages_in_two_files_both_land():
    first = page([(hour(NOV_02, 0), hour(NOV_02, 1), [used(uncached=1000)])],
                 has_more=True, next_page="page_MjAyNi0xMS0wMlQwMTowMDowMFo=")
    second = page([(hour(NOV_02, 1), hour(NOV_02, 2), [used(uncached=2000), used(uncached=3000, model=HAIKU)])])
    files = [SourceFile("anthropic/usage_report/2026-11-02/page-001.json", first),
             SourceFile("anthropic/usage_report/2026-11-02/page-002.json", second)]

    got = usage(files, folder=NOV_02)

    assert [(r["source_file"].rsplit("/", 1)[1], r["source_line"], r["bucket_start"].hour, r["model"],
             r["uncached_input_tokens"]) for r in got.records.to_pylist()] == [
        ("page-001.json", 1, 0, SONNET, 1000),
        ("page-002.json", 1, 1, SONNET, 2000),
        ("page-002.json", 2, 1, HAIKU, 3000),
    ]
    assert pc.sum(got.records["uncached_input_tokens"]).as_py() == 6000
    assert file_counts(got) == {files[0].key: (1, 1, 0, 0), files[1].key: (2, 2, 0, 0)}
    assert got.counts == {"lines_read": 3, "records": 3, "skipped": 0, "rejected": 0, "files": 2}


def test_empty_buckets_produce_no_rows_and_no_rejects():
    empty_only = page([(hour(NOV_02, 0), hour(NOV_02, 1), []), (hour(NOV_02, 1), hour(NOV_02, 2), [])])
    mixed = page([(hour(NOV_02, 2), hour(NOV_02, 3), []), (hour(NOV_02, 3), hour(NOV_02, 4), [used(uncached=5)])])
    got = usage([SourceFile("empty.json", empty_only), SourceFile("mixed.json", mixed),
                 SourceFile("none.json", page([]))])
    assert [(r["source_file"], r["source_line"], r["uncached_input_tokens"]) for r in got.records.to_pylist()] == [
        ("mixed.json", 1, 5)
    ]
    assert got.rejects.num_rows == 0
    assert file_counts(got) == {"empty.json": (0, 0, 0, 0), "mixed.json": (1, 1, 0, 0), "none.json": (0, 0, 0, 0)}


def test_bad_usage_results_are_rejected_with_their_line_and_reason():
    no_cache_creation = used(uncached=3)
    del no_cache_creation["cache_creation"]
    results = [
        used(uncached=1, model="ok-1"),                            # 1 ok
        no_cache_creation,                                         # 2 missing cache_creation.*
        used(cache_creation=[40, 0]),                              # 3 cache_creation not an object
        used(output=-1),                                           # 4 negative
        used(uncached=True),                                       # 5 a boolean is not a count
        used(read="880120"),                                       # 6 a string is not a count
        used(uncached=2**63),                                      # 7 beyond int64
        used(output=None),                                         # 8 null output_tokens
        used(workspace_id=12345),                                  # 9 grouping value not a string
        "not an object",                                           # 10
        used(server_tool_use={"web_search_requests": 1.5}),        # 11 fractional count
        used(uncached=2, model="ok-2"),                            # 12 ok
    ]
    key = "anthropic/usage_report/2026-11-03/page-001.json"
    got = usage([SourceFile(key, page([day_bucket(NOV_02, results)]))])

    assert [(r["source_line"], r["model"]) for r in got.records.to_pylist()] == [(1, "ok-1"), (12, "ok-2")]
    assert reject_lines(got) == [("anthropic/usage_report", key, n) for n in range(2, 12)]
    reasons = [r["reason"] for r in got.rejects.to_pylist()]
    assert reasons == [
        "missing cache_creation.ephemeral_5m_input_tokens",
        "cache_creation is not a JSON object",
        "output_tokens is not a non-negative 64-bit integer: -1",
        "uncached_input_tokens is not a non-negative 64-bit integer: True",
        "cache_read_input_tokens is not a non-negative 64-bit integer: '880120'",
        f"uncached_input_tokens is not a non-negative 64-bit integer: {2**63}",
        "missing output_tokens",
        "workspace_id is not a string or null: 12345",
        "result is not a JSON object",
        "server_tool_use.web_search_requests is not a non-negative 64-bit integer: Decimal('1.5')",
    ]
    assert json.loads(got.rejects.to_pylist()[2]["raw"])["output_tokens"] == -1  # the raw result is kept
    assert file_counts(got) == {key: (12, 2, 0, 10)}


def test_pages_and_buckets_that_cannot_be_read_are_rejected_and_counted():
    good = page([day_bucket(NOV_02, [used(uncached=9)])])
    bad_buckets = page([
        ("2026-11-02T00:00:00", "2026-11-03T00:00:00Z", [used()]),     # no UTC offset
        (hour(NOV_02, 5), hour(NOV_02, 4), [used()]),                  # ends before it starts
        (hour(NOV_02, 12), hour(NOV_03, 12), [used()]),                # spans two days
        ("yesterday", hour(NOV_02, 1), [used()]),                      # not a timestamp
        (hour(NOV_02, 6), hour(NOV_02, 7), [used(uncached=8)]),        # fine: line 5
    ])
    no_results = b'{"data": [{"starting_at": "2026-11-02T00:00:00Z", "ending_at": "2026-11-03T00:00:00Z"}]}'
    files = [
        SourceFile("a_good.json", good),
        SourceFile("b_no_data.json", b'{"has_more": false, "next_page": null}'),
        SourceFile("c_truncated.json", good[:40]),
        SourceFile("d_array.json", b"[]"),
        SourceFile("e_empty.json", b""),
        SourceFile("f_bad_buckets.json", bad_buckets),
        SourceFile("g_no_results.json", no_results),
        SourceFile("h_not_utf8.json", b'{"data": "\xff"}'),
    ]
    got = usage(files)

    assert [(r["source_file"], r["source_line"], r["uncached_input_tokens"]) for r in got.records.to_pylist()] == [
        ("a_good.json", 1, 9), ("f_bad_buckets.json", 5, 8)
    ]
    assert [(f, line) for _, f, line in reject_lines(got)] == [
        ("b_no_data.json", None), ("c_truncated.json", None), ("d_array.json", None), ("e_empty.json", None),
        ("f_bad_buckets.json", None), ("f_bad_buckets.json", None), ("f_bad_buckets.json", None),
        ("f_bad_buckets.json", None), ("g_no_results.json", None), ("h_not_utf8.json", None),
    ]
    reasons = [r["reason"] for r in got.rejects.to_pylist()]
    assert reasons[0] == "page has no 'data' key"
    assert reasons[1].startswith("page is not valid JSON")
    assert reasons[2] == "page is not a JSON object"
    assert reasons[3].startswith("page is not valid JSON")
    assert reasons[4:9] == [
        "bucket starting_at has no UTC offset: '2026-11-02T00:00:00'",
        "bucket ending_at is not after starting_at",
        "bucket spans more than one UTC day",
        "bucket starting_at is not an RFC 3339 timestamp: 'yesterday'",
        "bucket has no 'results' list",
    ]
    assert json.loads(got.rejects.to_pylist()[1]["raw"]) == {"bytes": 40}  # its length, never its text
    assert file_counts(got) == {
        "a_good.json": (1, 1, 0, 0), "b_no_data.json": (1, 0, 0, 1), "c_truncated.json": (1, 0, 0, 1),
        "d_array.json": (1, 0, 0, 1), "e_empty.json": (1, 0, 0, 1), "f_bad_buckets.json": (5, 1, 0, 4),
        "g_no_results.json": (1, 0, 0, 1), "h_not_utf8.json": (1, 0, 0, 1),
    }
    assert got.counts == {"lines_read": 12, "records": 2, "skipped": 0, "rejected": 10, "files": 8}


def test_no_files_gives_empty_tables_with_the_bronze_schemas():
    for got, schema in ((usage([]), ANTHROPIC_USAGE), (costs([]), ANTHROPIC_COSTS)):
        assert got.records.num_rows == 0 and got.records.schema == schema
        assert got.rejects.num_rows == 0 and got.rejects.schema == bronze.REJECTS
        assert got.files.num_rows == 0 and got.files.schema == bronze.FILES


# ---------------------------------------------------------------------------------------------
# cost_report


def test_documented_cost_example_cents_become_exact_dollars():
    # provider-formats.md 2.7: "41280.000000" cents is $412.80, "50" cents is $0.50
    results = [
        {"amount": "41280.000000", "currency": "USD", "workspace_id": None,
         "description": "Claude Sonnet 4 Usage - Input Tokens", "cost_type": "tokens",
         "model": "claude-sonnet-4-20250514", "token_type": "uncached_input_tokens", "service_tier": "standard",
         "context_window": "0-200k", "inference_geo": None},
        {"amount": "50", "currency": "USD", "workspace_id": "wrkspc_...", "description": "Web Search Usage",
         "cost_type": "web_search", "model": None, "token_type": None, "service_tier": None,
         "context_window": None, "inference_geo": None},
    ]
    data = page([("2026-08-01T00:00:00Z", "2026-08-02T00:00:00Z", results)])
    key = "anthropic/cost_report/2026-08-01/page-001.json"

    got = costs([SourceFile(key, data)], folder=date(2026, 8, 1))

    assert got.records.schema == ANTHROPIC_COSTS
    common = {"folder_date": date(2026, 8, 1), "usage_date": date(2026, 8, 1),
              "bucket_start": datetime(2026, 8, 1, tzinfo=UTC), "bucket_end": datetime(2026, 8, 2, tzinfo=UTC),
              "inference_geo": None, "speed": None, "currency": "USD", "source_file": key, "file_sha256": sha(data)}
    assert got.records.to_pylist() == [
        common | {"workspace_id": None, "description": "Claude Sonnet 4 Usage - Input Tokens", "cost_type": "tokens",
                  "model": "claude-sonnet-4-20250514", "token_type": "uncached_input_tokens",
                  "service_tier": "standard", "context_window": "0-200k", "amount_usd": D("412.80"),
                  "source_line": 1},
        common | {"workspace_id": "wrkspc_...", "description": "Web Search Usage", "cost_type": "web_search",
                  "model": None, "token_type": None, "service_tier": None, "context_window": None,
                  "amount_usd": D("0.50"), "source_line": 2},
    ]
    assert all(type(a) is Decimal for a in got.records["amount_usd"].to_pylist())
    assert pc.sum(got.records["amount_usd"]).as_py() == D("413.30")
    assert got.files.to_pylist() == [
        {"source": "anthropic/cost_report", "file": key, "sha256": sha(data), "bytes": len(data),
         "lines_read": 2, "records": 2, "skipped": 0, "rejected": 0, "unrecognized": None, "sample_keys": None}
    ]


def test_fractional_cents_stay_exact():
    amounts = ["123.78912", "0.1", "0.2", "1", "0.0000000001", "-1500", " 99.5 ", "123456789012345.678912345"]
    got = costs([SourceFile("c.json", page([day_bucket(NOV_02, [charged(a) for a in amounts])]))])
    assert got.records["amount_usd"].to_pylist() == [
        D("1.2378912"), D("0.001"), D("0.002"), D("0.01"), D("0.000000000001"), D("-15"), D("0.995"),
        D("1234567890123.45678912345"),
    ]
    # a float would make 0.1 + 0.2 cents 0.0030000000000000005 dollars
    assert pc.sum(got.records["amount_usd"].slice(1, 2)).as_py() == D("0.003")
    assert got.rejects.num_rows == 0


def test_cost_results_are_accepted_or_rejected_by_currency_and_amount():
    results = [
        charged("100"),                                   # 1 ok: $1
        charged("150", currency="EUR"),                   # 2 rejected: not USD
        charged("200", currency=None),                    # 3 rejected: no currency
        charged("250", currency="usd"),                   # 4 ok: USD in lower case
        charged(None),                                    # 5 rejected: no amount
        charged("abc"),                                   # 6 rejected: not a decimal
        charged(True),                                    # 7 rejected: a boolean
        charged("NaN"),                                   # 8 rejected: not finite
        charged("1e40"),                                  # 9 rejected: does not fit DECIMAL(38, 12)
        charged({"value": "1"}),                          # 10 rejected: an object
        charged(12345),                                   # 11 ok: a JSON integer, still cents
        charged("300", description=7),                    # 12 rejected: description not a string
    ]
    key = "anthropic/cost_report/2026-11-03/page-001.json"
    got = costs([SourceFile(key, page([day_bucket(NOV_02, results)]))])

    assert [(r["source_line"], r["amount_usd"], r["currency"]) for r in got.records.to_pylist()] == [
        (1, D("1"), "USD"), (4, D("2.5"), "USD"), (11, D("123.45"), "USD"),
    ]
    assert reject_lines(got) == [("anthropic/cost_report", key, n) for n in (2, 3, 5, 6, 7, 8, 9, 10, 12)]
    reasons = [r["reason"] for r in got.rejects.to_pylist()]
    assert reasons[:7] == [
        "currency 'EUR' is not USD",
        "currency None is not USD",
        "missing amount",
        "amount is not a decimal string: 'abc'",
        "amount must be a decimal string of cents, got bool",
        "amount is not a finite number: 'NaN'",
        "amount Decimal('1E+38') does not fit DECIMAL(38, 12)",
    ]
    assert reasons[7:] == ["amount must be a decimal string of cents, got dict",
                           "description is not a string or null: 7"]
    assert json.loads(got.rejects.to_pylist()[0]["raw"])["amount"] == "150"
    assert file_counts(got) == {key: (12, 3, 0, 9)}


def test_cost_pages_paginated_empty_and_broken():
    first = page([day_bucket(NOV_01, [charged("100", workspace=None)])], has_more=True, next_page="page_xyz")
    second = page([day_bucket(NOV_02, [])])
    files = [SourceFile("p1.json", first), SourceFile("p2.json", second),
             SourceFile("p3.json", b'{"has_more": false}')]
    got = costs(files)
    assert [(r["source_file"], r["usage_date"], r["workspace_id"], r["amount_usd"])
            for r in got.records.to_pylist()] == [("p1.json", NOV_01, None, D("1"))]
    assert reject_lines(got) == [("anthropic/cost_report", "p3.json", None)]
    assert file_counts(got) == {"p1.json": (1, 1, 0, 0), "p2.json": (0, 0, 0, 0), "p3.json": (1, 0, 0, 1)}


# ---------------------------------------------------------------------------------------------
# staging SQL


def delivered(folder: date, usage_pages: list[bytes] = (), cost_pages: list[bytes] | None = ()):
    """Parse one delivery folder's pages (`cost_pages=None`: the cost report has not arrived)."""
    tag = folder.isoformat()
    return (
        folder,
        usage([SourceFile(f"anthropic/usage_report/{tag}/page-{i:03d}.json", p) for i, p in enumerate(usage_pages)],
              folder=folder),
        costs([SourceFile(f"anthropic/cost_report/{tag}/page-{i:03d}.json", p) for i, p in enumerate(cost_pages or [])],
              folder=folder),
    )


def stage(deliveries: list[tuple], day: date = NOV_02):
    """Write the delivery folders to a lake's bronze partitions, dbt-build the three staging
    models for `day` (reading the folders D-1..D+1) and return a connection holding their tables."""
    bronze = []
    for folder, u, c in deliveries:
        bronze += [("anthropic_usage", folder, u.records), ("anthropic_costs", folder, c.records),
                   ("anthropic_costs_files", folder, c.files), ("anthropic_costs_rejects", folder, c.rejects)]
    kept = build_models(day, bronze, ("stg_anthropic_usage", "stg_anthropic_costs", "stg_anthropic_source_status"))
    con = sql.connect()
    for name, table in kept.items():
        con.from_arrow(table).create_view(name)
    return con


def fetch(con, query: str) -> list[tuple]:
    return con.execute(query).fetchall()


USAGE_DAY = page([
    (hour(NOV_01, 23), hour(NOV_02, 0), [used(uncached=999_999)]),  # the day before: not in 2026-11-02
    (hour(NOV_02, 0), hour(NOV_02, 1), [
        used(uncached=1_000, read=8_000, write_5m=500, write_1h=0, output=300),
        used(uncached=40, read=0, write_5m=0, write_1h=0, output=20, workspace_id=None, model=HAIKU,
             service_tier="batch"),
        used(uncached=7_000, read=1_000, write_5m=0, write_1h=0, output=900, workspace_id="wrkspc_rt",
             service_tier="priority"),
    ]),
    (hour(NOV_02, 1), hour(NOV_02, 2), [
        used(uncached=2_000, read=4_000, write_5m=100, write_1h=600, output=700),
        used(uncached=3, read=0, write_5m=0, write_1h=0, output=1, service_tier="priority_on_demand"),
    ]),
    (hour(NOV_02, 2), hour(NOV_02, 3), []),
])
COST_DAY = page([day_bucket(NOV_02, [
    charged("41280.000000", "Claude Haiku 4.5 Usage - Input Tokens", model=HAIKU, workspace=None),
    charged("123.78912", "Claude Sonnet 4.5 Usage - Output Tokens", token_type="output_tokens"),
    charged("0.6", "Claude Sonnet 4.5 Usage - Input Tokens"),
    charged("0.36", "Claude Sonnet 4.5 Usage - Cache Read", token_type="cache_read_input_tokens"),
    charged("0.225", "Claude Sonnet 4.5 Usage - 5m Cache Write", token_type="cache_creation.ephemeral_5m_input_tokens"),
    charged("0.36", "Claude Sonnet 4.5 Usage - 1h Cache Write", token_type="cache_creation.ephemeral_1h_input_tokens"),
    search_line("50"),
    charged("12", "Code Execution Usage", token_type=None, cost_type="code_execution", model=None),
    charged("700", "Claude Sonnet 4.5 Usage", token_type=None, workspace="wrkspc_jobs"),
])])

USAGE_COLS = ("usage_date, provider, billing_account, model, price_tier, uncached_input, cache_read, cache_write_5m, "
              "cache_write_1h, output, requests, priced_by")
COST_COLS = "usage_date, provider, billing_account, model, token_class, cost_usd, line_item, line_kind"


@pytest.mark.slow
def test_staged_usage_sums_hours_per_cell_and_keeps_priority_tier_for_the_catalog():
    con = stage([delivered(NOV_01), delivered(NOV_02, [USAGE_DAY], [COST_DAY])])
    assert fetch(con, f"select {USAGE_COLS} from stg_anthropic_usage order by all") == [
        (NOV_02, "anthropic", "default", HAIKU, "batch", 40, 0, 0, 0, 20, None, "invoice"),
        (NOV_02, "anthropic", "wrkspc_app", SONNET, "priority", 3, 0, 0, 0, 1, None, "catalog"),
        (NOV_02, "anthropic", "wrkspc_app", SONNET, "standard", 3_000, 12_000, 600, 600, 1_000, None, "invoice"),
        (NOV_02, "anthropic", "wrkspc_rt", SONNET, "priority", 7_000, 1_000, 0, 0, 900, None, "catalog"),
    ]
    assert fetch(con, "select column_name, column_type from (describe stg_anthropic_usage)") == [
        ("usage_date", "DATE"), ("provider", "VARCHAR"), ("billing_account", "VARCHAR"), ("model", "VARCHAR"),
        ("price_tier", "VARCHAR"), ("uncached_input", "BIGINT"), ("cache_read", "BIGINT"), ("cache_write_5m", "BIGINT"),
        ("cache_write_1h", "BIGINT"), ("output", "BIGINT"), ("requests", "BIGINT"), ("web_search_requests", "BIGINT"),
        ("priced_by", "VARCHAR"),
    ]


@pytest.mark.slow
def test_staged_costs_are_dollars_with_token_classes_and_kinds():
    con = stage([delivered(NOV_02, [USAGE_DAY], [COST_DAY])])
    order = "line_kind, billing_account, cost_usd, token_class"
    assert fetch(con, f"select {COST_COLS} from stg_anthropic_costs order by {order}") == [
        (NOV_02, "anthropic", "wrkspc_app", None, None, D("0.12"), "Code Execution Usage", "non_token"),
        (NOV_02, "anthropic", "wrkspc_app", None, None, D("0.50"), "Web Search Usage", "non_token"),
        (NOV_02, "anthropic", "default", HAIKU, "uncached_input", D("412.80"),
         "Claude Haiku 4.5 Usage - Input Tokens", "token"),
        (NOV_02, "anthropic", "wrkspc_app", SONNET, "cache_write_5m", D("0.00225"),
         "Claude Sonnet 4.5 Usage - 5m Cache Write", "token"),
        (NOV_02, "anthropic", "wrkspc_app", SONNET, "cache_read", D("0.0036"),
         "Claude Sonnet 4.5 Usage - Cache Read", "token"),
        (NOV_02, "anthropic", "wrkspc_app", SONNET, "cache_write_1h", D("0.0036"),
         "Claude Sonnet 4.5 Usage - 1h Cache Write", "token"),
        (NOV_02, "anthropic", "wrkspc_app", SONNET, "uncached_input", D("0.006"),
         "Claude Sonnet 4.5 Usage - Input Tokens", "token"),
        (NOV_02, "anthropic", "wrkspc_app", SONNET, "output", D("1.2378912"),
         "Claude Sonnet 4.5 Usage - Output Tokens", "token"),
        (NOV_02, "anthropic", "wrkspc_jobs", SONNET, None, D("7"), "Claude Sonnet 4.5 Usage", "unsplit"),
    ]
    assert fetch(con, "select sum(cost_usd) from stg_anthropic_costs") == [(D("421.6733412"),)]
    assert dict(fetch(con, "select column_name, column_type from (describe stg_anthropic_costs)"))["cost_usd"] == (
        "DECIMAL(38,12)")
    assert fetch(con, "select * from stg_anthropic_source_status") == [(NOV_02, "anthropic", "ok")]


@pytest.mark.slow
def test_a_report_not_grouped_by_description_is_one_unsplit_line():
    total = {"amount": "1234.5", "currency": "USD", "workspace_id": None, "description": None, "cost_type": None,
             "model": None, "token_type": None, "service_tier": None, "context_window": None}
    con = stage([delivered(NOV_02, [], [page([day_bucket(NOV_02, [total])])])])
    assert fetch(con, f"select {COST_COLS} from stg_anthropic_costs") == [
        (NOV_02, "anthropic", "default", None, None, D("12.345"), None, "unsplit"),
    ]


@pytest.mark.slow
def test_a_redelivery_in_the_next_days_folder_supersedes_the_first():
    usage_again = page([(hour(NOV_02, 0), hour(NOV_02, 1), [used(uncached=1_111, read=0, write_5m=0, output=11)])])
    cost_again = page([day_bucket(NOV_02, [charged("200", "Claude Sonnet 4.5 Usage - Input Tokens")])])
    con = stage([
        delivered(NOV_02, [USAGE_DAY], [COST_DAY]),
        delivered(NOV_03, [usage_again, page([day_bucket(NOV_03, [used(uncached=5)])])], [cost_again]),
    ])
    assert fetch(con, f"select {USAGE_COLS} from stg_anthropic_usage") == [
        (NOV_02, "anthropic", "wrkspc_app", SONNET, "standard", 1_111, 0, 0, 0, 11, None, "invoice"),
    ]
    assert fetch(con, f"select {COST_COLS} from stg_anthropic_costs") == [
        (NOV_02, "anthropic", "wrkspc_app", SONNET, "uncached_input", D("2"),
         "Claude Sonnet 4.5 Usage - Input Tokens", "token"),
    ]
    # the next day's own usage does not supersede anything of 2026-11-02
    con3 = stage([delivered(NOV_02, [USAGE_DAY], [COST_DAY]),
                  delivered(NOV_03, [page([day_bucket(NOV_03, [used(uncached=5)])])])])
    assert fetch(con3, "select sum(uncached_input) from stg_anthropic_usage") == [(10_043,)]


@pytest.mark.parametrize(
    "deliveries, status",
    [
        ([delivered(NOV_02, [USAGE_DAY], [COST_DAY])], "ok"),
        ([delivered(NOV_02, [USAGE_DAY], [page([day_bucket(NOV_02, [])])])], "empty"),
        ([delivered(NOV_02, [USAGE_DAY], None)], "missing"),
        # only the next day's export arrived (and holds no line of 2026-11-02): still missing
        ([delivered(NOV_02, [USAGE_DAY], None), delivered(NOV_03, [], [page([day_bucket(NOV_03, [])])])], "missing"),
    ],
    ids=["ok", "empty", "missing", "next-day-only"],
)
@pytest.mark.slow
def test_source_status(deliveries, status):
    con = stage(deliveries)
    assert fetch(con, "select * from stg_anthropic_source_status") == [(NOV_02, "anthropic", status)]


# ---------------------------------------------------------------------------------------------
# Dagster assets


@pytest.mark.slow
def test_assets_write_bronze_partitions_with_totals(tmp_path):
    folder = NOV_02.isoformat()
    pages = {
        f"anthropic/usage_report/{folder}/page-001.json": USAGE_DAY,
        f"anthropic/cost_report/{folder}/page-001.json": COST_DAY,
        f"anthropic/cost_report/{folder}/page-002.json": b'{"has_more": false}',
    }
    for key, data in pages.items():
        (tmp_path / "sources" / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "sources" / key).write_bytes(data)

    result = dg.materialize(
        [anthropic_usage, anthropic_costs], partition_key=folder,
        resources={"sources": SourceStore(uri=str(tmp_path / "sources")),
                   "lake": LakeStore(root=str(tmp_path / "lake"))},
    )

    assert result.success
    materializations = (e.event_specific_data.materialization for e in result.get_asset_materialization_events())
    meta = {m.asset_key.to_user_string(): m.metadata for m in materializations}
    assert {k: meta["anthropic_usage"][k].value for k in
            ("records", "rejected_lines", "uncached_input_tokens", "cache_read_input_tokens",
             "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens", "output_tokens")} == {
        "records": 6, "rejected_lines": 0, "uncached_input_tokens": 1_010_042, "cache_read_input_tokens": 13_000,
        "cache_creation_5m_input_tokens": 600, "cache_creation_1h_input_tokens": 600, "output_tokens": 1_931,
    }
    assert {k: meta["anthropic_costs"][k].value for k in ("records", "rejected_lines", "amount_usd")} == {
        "records": 9, "rejected_lines": 1, "amount_usd": "421.673341200000",
    }
    lake = Lake(tmp_path / "lake")
    assert pq.read_table(lake.partition_file("bronze", "anthropic_usage", NOV_02)).schema == ANTHROPIC_USAGE
    costs_table = pq.read_table(lake.partition_file("bronze", "anthropic_costs", NOV_02))
    assert pc.sum(costs_table["amount_usd"]).as_py() == D("421.6733412")
    assert pq.read_table(lake.partition_file("bronze", "anthropic_costs_rejects", NOV_02))["file"].to_pylist() == [
        f"anthropic/cost_report/{folder}/page-002.json"]
