"""The providers' own API reference examples, reconciled next to a few hand-written log lines.

The pages below are the response examples of OpenAI's API reference (`GET
/v1/organization/usage/completions` and `GET /v1/organization/costs`, both without `group_by`,
the API's default), moved to the test day: the same fields, nulls and values. Dollars are
computed by hand from gpt-4o-mini's list price ($0.15 input, $0.075 cached input, $0.60 output
per million tokens):

    usage (ungrouped): input 1000 of which 800 cached, output 500, 5 requests
      -> uncached 200, cached 800, output 500: list cost 30 + 60 + 300 = 390 micro-dollars
    logs: chat call      400 in (300 cached), 200 out -> uncached 100, cached 300, output 200
          nightly_digest 200 in (200 cached), 100 out -> uncached   0, cached 200, output 100

With the reference's $0.06 ungrouped cost line, each token class gets its list-price share of
the invoice (0.06 x 30/390, 0.06 x 60/390, 0.06 x 300/390) and each call its tokens' share of
the class. With an empty cost export (pages that parse, no result) the day is priced from the
catalog and stays provisional.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipelines.defs.reconcile.model import reconcile_day
from pipelines.lib import sql

from .fixtures import DAY, build_day, unix, write_day

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

D = Decimal
AS_OF = datetime(2026, 11, 10, tzinfo=timezone.utc)  # long settled


def reference_usage_page() -> str:
    """OpenAI's Usage API reference example (completions, no group_by), on DAY."""
    return json.dumps({
        "object": "page",
        "data": [{
            "object": "bucket", "start_time": unix(DAY), "end_time": unix(DAY) + 86400,
            "results": [{
                "object": "organization.usage.completions.result",
                "input_tokens": 1000, "output_tokens": 500, "input_cached_tokens": 800, "num_model_requests": 5,
                "project_id": None, "user_id": None, "api_key_id": None, "model": None, "batch": None,
            }],
        }],
        "has_more": False, "next_page": None,
    })


def reference_cost_page(results: str) -> str:
    """OpenAI's Costs API reference example (no group_by), on DAY, with `results` as JSON text
    (the amount a JSON number literal, as the API writes it)."""
    return ('{"object": "page", "data": [{"object": "bucket", "start_time": %d, "end_time": %d, '
            '"results": %s}], "has_more": false, "next_page": null}' % (unix(DAY), unix(DAY) + 86400, results))


REFERENCE_COST = ('[{"object": "organization.costs.result", "amount": {"value": 0.06, "currency": "usd"}, '
                  '"line_item": null, "project_id": null}]')

LOGS = [
    json.dumps({"timestamp": "2026-11-02T10:00:00Z", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.response.id": "chatcmpl-1", "gen_ai.usage.input_tokens": 400,
                "gen_ai.usage.output_tokens": 200, "gen_ai.usage.cache_read.input_tokens": 300,
                "billing.account": "proj_abc", "attempt": 1, "status": "ok", "feature": "chat"}),
    json.dumps({"timestamp": "2026-11-02T11:00:00Z", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.response.id": "chatcmpl-2", "gen_ai.usage.input_tokens": 200,
                "gen_ai.usage.output_tokens": 100, "gen_ai.usage.cache_read.input_tokens": 200,
                "billing.account": "proj_abc", "attempt": 1, "status": "ok", "job_type": "nightly_digest"}),
]


def reconcile(tmp_path, cost_pages):
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[reference_usage_page()], cost_pages=cost_pages,
                     app_lines=LOGS[:1], worker_lines=LOGS[1:])
    return reconcile_day(sql.connect(), lake, DAY, AS_OF)


def row(out) -> dict:
    (only,) = out["fct_spend_reconciliation"].to_pylist()
    assert only["invoice_cost_usd"] == (only["user_cost_usd"] + only["background_cost_usd"] + only["retry_cost_usd"]
                                        + only["unlogged_cost_usd"] + only["non_token_cost_usd"])
    return {k: only[k] for k in ("billing_account", "model", "price_tier", "allocation_basis", "invoice_cost_usd",
                                 "user_cost_usd", "background_cost_usd", "unlogged_cost_usd", "non_token_cost_usd",
                                 "provider_requests", "logged_calls", "status")}


def test_the_reference_usage_and_cost_examples_reconcile_to_the_hand_computed_split(tmp_path):
    out = reconcile(tmp_path, [reference_cost_page(REFERENCE_COST)])
    # uncached 0.06*30/390 = 0.004615384615..., cached 0.06*60/390 = 0.009230769230...,
    # output 0.06*300/390 = 0.046153846153...
    # chat:    uncached 1/2, cached 3/8, output 2/5 -> 0.002307692307 + 0.003461538461 + 0.018461538461
    # nightly: cached 2/8, output 1/5               -> 0.002307692307 + 0.009230769230
    assert row(out) == {
        "billing_account": "__all__", "model": "__all__", "price_tier": "__all__",
        "allocation_basis": "catalog_weights", "invoice_cost_usd": D("0.060000000000"),
        "user_cost_usd": D("0.024230769230"), "background_cost_usd": D("0.011538461538"),
        "unlogged_cost_usd": D("0.024230769232"), "non_token_cost_usd": D("0E-12"),
        "provider_requests": 5, "logged_calls": 2, "status": "final",
    }
    assert [(r["job_type"], r["cost_usd"]) for r in out["fct_dark_compute"].to_pylist()
            if r["cost_usd"]] == [("nightly_digest", D("0.011538461538")), ("__unlogged__", D("0.024230769232"))]


def test_an_empty_cost_export_against_usage_rows_is_provisional_at_catalog_price_not_zero_final(tmp_path):
    # the reference cost envelope with no result: the export "arrived", but holds nothing yet
    out = reconcile(tmp_path, [reference_cost_page("[]")])
    # catalog: chat 100*0.15 + 300*0.075 + 200*0.60 = 157.5 micro-dollars; nightly 200*0.075 +
    # 100*0.60 = 75; unlogged 390 - 157.5 - 75 = 157.5
    assert row(out) == {
        "billing_account": "__all__", "model": "__all__", "price_tier": "__all__",
        "allocation_basis": "catalog_price", "invoice_cost_usd": D("0.000390000000"),
        "user_cost_usd": D("0.000157500000"), "background_cost_usd": D("0.000075000000"),
        "unlogged_cost_usd": D("0.000157500000"), "non_token_cost_usd": D("0E-12"),
        "provider_requests": 5, "logged_calls": 2, "status": "provisional",
    }


def test_an_empty_cost_export_is_the_invoice_only_when_the_usage_export_is_empty_too(tmp_path):
    def status(usage_pages):
        lake = write_day(tmp_path / f"lake{len(usage_pages)}", DAY, usage_pages=usage_pages,
                         cost_pages=[reference_cost_page("[]")])
        con = sql.connect()
        con.from_arrow(build_day(lake, DAY, AS_OF, keep=("int_source_status",)).kept["int_source_status"]
                       ).create_view("source_status")
        return con.sql("select cost_status, invoice_arrived, settled from source_status "
                       "where provider = 'openai'").fetchall()

    assert status([]) == [("empty", True, True)]  # a $0 day, final
    assert status([reference_usage_page()]) == [("empty", False, False)]


def test_a_cost_listing_cut_short_is_a_rejected_row_and_keeps_the_day_provisional(tmp_path):
    # OpenAI's reference examples say has_more: true with a next_page; saved alone, the page after
    # it is missing, and its dollars with it
    cut = reference_cost_page(REFERENCE_COST).replace('"has_more": false, "next_page": null',
                                                      '"has_more": true, "next_page": "AAAAAGdGxdEiJdKOAAAAAGcqsYA="')
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[reference_usage_page()], cost_pages=[cut],
                     app_lines=LOGS[:1], worker_lines=LOGS[1:])
    result = build_day(lake, DAY, AS_OF, keep=("int_source_status",))
    out = result.marts
    con = sql.connect()
    con.from_arrow(result.kept["int_source_status"]).create_view("source_status")
    con.read_parquet(lake.glob("bronze", "openai_costs_rejects")).create_view("bronze_openai_costs_rejects")
    assert con.sql("select file, line, starts_with(reason, 'listing incomplete') from bronze_openai_costs_rejects"
                   ).fetchall() == [("openai/costs/2026-11-02/p0.json", None, True)]
    assert con.sql("select cost_status, invoice_arrived from source_status where provider = 'openai'"
                   ).fetchall() == [("incomplete", False)]
    # priced from the catalog like a missing export, the $0.06 of the cut listing not taken as the whole
    assert row(out)["status"] == "provisional"
    assert row(out)["invoice_cost_usd"] == D("0.000390000000")
    assert row(out)["allocation_basis"] == "catalog_price"


def test_a_listing_is_complete_when_its_last_page_says_no_more(tmp_path):
    first = reference_cost_page("[]").replace('"has_more": false, "next_page": null',
                                              '"has_more": true, "next_page": "p2"')
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[reference_usage_page()],
                     cost_pages=[first, reference_cost_page(REFERENCE_COST)], app_lines=LOGS[:1],
                     worker_lines=LOGS[1:])
    out = reconcile_day(sql.connect(), lake, DAY, AS_OF)
    assert (row(out)["status"], row(out)["invoice_cost_usd"]) == ("final", D("0.060000000000"))


def test_an_openai_bucket_without_its_results_list_is_rejected_not_read_as_empty():
    from pipelines.defs.openai.parse import parse_usage_pages
    from pipelines.lib.store import SourceFile

    page = reference_usage_page().replace('"results"', '"result"')  # the spelling of a generated reference
    got = parse_usage_pages([SourceFile("openai/usage/completions/2026-11-02/p.json", page.encode())],
                            endpoint="completions", folder_date=DAY)
    assert got.records.num_rows == 0
    assert [(r["line"], r["reason"]) for r in got.rejects.to_pylist()] == [(None, "bucket has no 'results' list")]


def test_a_lake_of_partitions_written_before_columns_were_added_still_reconciles(tmp_path):
    """Bronze schema evolution: partitions from before request_count, gateway_cost_usd (logs),
    service_tier and input_cache_write_tokens (OpenAI usage) read as nulls, alone or next to a
    partition of today's shape, and the day's dollars are the same."""
    import pyarrow.parquet as pq

    old_columns = {"app_calls": ("request_count", "gateway_cost_usd"),
                   "worker_calls": ("request_count", "gateway_cost_usd"),
                   "openai_usage": ("service_tier", "input_cache_write_tokens")}
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[reference_usage_page()],
                     cost_pages=[reference_cost_page(REFERENCE_COST)], app_lines=LOGS[:1], worker_lines=LOGS[1:])
    for table, dropped in old_columns.items():
        (path,) = lake.existing("bronze", table, [DAY])
        old = pq.read_table(path)
        assert all(name in old.column_names for name in dropped)
        pq.write_table(old.drop_columns(list(dropped)), path)

    expected = {"allocation_basis": "catalog_weights", "invoice_cost_usd": D("0.060000000000"),
                "user_cost_usd": D("0.024230769230"), "background_cost_usd": D("0.011538461538"),
                "unlogged_cost_usd": D("0.024230769232"), "logged_calls": 2, "status": "final"}
    got = row(reconcile_day(sql.connect(), lake, DAY, AS_OF))
    assert {k: got[k] for k in expected} == expected

    # next to a partition of today's shape (a late line in the next day's folder)
    late = json.loads(LOGS[1])
    late.update({"gen_ai.response.id": "chatcmpl-3", "timestamp": "2026-11-02T23:59:00Z"})
    write_day(tmp_path / "lake", DAY.replace(day=3), worker_lines=[json.dumps(late)])
    got = row(reconcile_day(sql.connect(), lake, DAY, AS_OF))
    # the late nightly_digest call doubles that job's tokens: cached 4/8, output 2/5 of the class
    assert (got["logged_calls"], got["background_cost_usd"]) == (3, D("0.023076923077"))
