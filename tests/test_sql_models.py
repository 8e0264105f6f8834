"""The SQL layers on tiny hand-computed fixtures: exact rows of both marts.

The fixture: one OpenAI project and model on 2026-11-02. The provider billed 10,000 input
tokens (2,000 of them cached) and 3,000 output tokens over 5 requests, and invoiced them at a
20% discount on list: uncached $0.00096 (8,000 tokens), cached $0.00012, output $0.00144, plus
$0.06 of web search. The logs hold a user call, a retried user call (attempt 2), a call with
no usage, a background job call and a job lifecycle line.
"""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipelines.defs.reconcile.model import reconcile_day
from pipelines.lib import sql

from .fixtures import DAY, call, cost_page, usage, usage_page, write_day

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

RECONCILED_AT = datetime(2026, 11, 3, 4, 0, tzinfo=timezone.utc)
MODEL = "gpt-4o-mini-2024-07-18"
USAGE = usage_page(DAY, [{"input_tokens": 10_000, "input_cached_tokens": 2_000, "output_tokens": 3_000,
                          "num_model_requests": 5, "project_id": "proj_a", "model": MODEL}])
COSTS = cost_page(DAY, [(f"{MODEL}, input", "proj_a", "0.00096"), (f"{MODEL}, cached input", "proj_a", "0.00012"),
                        (f"{MODEL}, output", "proj_a", "0.00144"), ("web search tool calls", "proj_a", "0.06")])
APP = [
    call(**usage(4_000, 1_000, cache_read=2_000, feature="chat")),
    call(**usage(1_000, 500, feature="chat", attempt=2)),
    call(feature="chat"),  # the stream ended without usage
]
WORKER = [
    call(**usage(3_000, 1_000, job_type="ingest_summarization", job_id="j1")),
    '{"timestamp": "2026-11-02T10:00:00Z", "event": "job.finished", "job_id": "j1"}',
]
D = Decimal


def reconcile(tmp_path, **payloads):
    lake = write_day(tmp_path / "lake", DAY, **payloads)
    return reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)


def rows(table, columns):
    return [tuple(r[c] for c in columns) for r in table.to_pylist()]


RECON_COLS = ["model", "invoice_cost_usd", "catalog_cost_usd", "user_cost_usd", "background_cost_usd",
              "retry_cost_usd", "unlogged_cost_usd", "non_token_cost_usd", "provider_requests", "logged_calls",
              "usage_unknown_calls", "overlogged_tokens", "status"]
DARK_COLS = ["model", "dark_class", "job_type", "calls", "uncached_input_tokens", "cache_read_tokens",
             "cache_write_tokens", "output_tokens", "cost_usd", "share_of_invoice"]


def test_final_day_splits_the_invoice_exactly(tmp_path):
    out = reconcile(tmp_path, usage_pages=[USAGE], cost_pages=[COSTS], app_lines=APP, worker_lines=WORKER)
    recon = out["fct_spend_reconciliation"]
    assert rows(recon, RECON_COLS) == [
        ("__non_token__", D("0.06"), 0, 0, 0, 0, 0, D("0.06"), 0, 0, 0, 0, "final"),
        # user: 2,000 uncached x $0.00000012 + all 2,000 cached ($0.00012) + 1,000 output x $0.00000048
        (MODEL, D("0.00252"), D("0.00315"), D("0.00084"), D("0.00084"), D("0.00036"), D("0.00048"), 0,
         5, 4, 1, 0, "final"),
    ]
    assert {r["billing_account"] for r in recon.to_pylist()} == {"proj_a"}
    assert {r["reconciled_at"] for r in recon.to_pylist()} == {RECONCILED_AT}
    assert rows(out["fct_dark_compute"], DARK_COLS) == [
        (MODEL, "background", "ingest_summarization", 1, 3_000, 0, 0, 1_000, D("0.00084"), D("0.01343570")),
        (MODEL, "retry", "retry:chat", 1, 1_000, 0, 0, 500, D("0.00036"), D("0.00575816")),
        # 5 requests billed, 3 priced log lines: the usage-unknown call and one no log mentions
        (MODEL, "unlogged", "__unlogged__", 2, 2_000, 0, 0, 500, D("0.00048"), D("0.00767754")),
    ]


def test_missing_cost_export_makes_the_day_provisional_at_catalog_prices(tmp_path):
    out = reconcile(tmp_path, usage_pages=[USAGE], cost_pages=None, app_lines=APP, worker_lines=WORKER)
    # list prices for gpt-4o-mini: $0.15 input, $0.075 cached, $0.60 output per million
    assert rows(out["fct_spend_reconciliation"], RECON_COLS) == [
        (MODEL, D("0.00315"), D("0.00315"), D("0.00105"), D("0.00105"), D("0.00045"), D("0.0006"), 0,
         5, 4, 1, 0, "provisional"),
    ]


def test_logs_claiming_more_than_billed_are_scaled_down_and_reported(tmp_path):
    extra = call(**usage(3_000, 2_000, job_type="llm_judge_evaluation"))  # 1,000 and 1,500 tokens too many
    out = reconcile(tmp_path, usage_pages=[USAGE], cost_pages=[COSTS], app_lines=APP, worker_lines=WORKER + [extra])
    (row,) = [r for r in out["fct_spend_reconciliation"].to_pylist() if r["model"] == MODEL]
    assert row["overlogged_tokens"] == 2_500
    assert row["invoice_cost_usd"] == D("0.00252")
    parts = (row["user_cost_usd"] + row["background_cost_usd"] + row["retry_cost_usd"] + row["unlogged_cost_usd"])
    assert parts == row["invoice_cost_usd"]
    # uncached $0.00096 over 9,000 logged tokens, output $0.00144 over 4,500: floor to the picodollar
    dark = {r["job_type"]: r["cost_usd"] for r in out["fct_dark_compute"].to_pylist()}
    assert dark["llm_judge_evaluation"] == D("0.000320000000") + D("0.000640000000")
    assert dark["ingest_summarization"] == D("0.000320000000") + D("0.000320000000")
    assert dark["__unlogged__"] == D("0.000000000001")  # the leftover of flooring 0.00096 x 2000/9000


def test_late_log_line_in_next_days_folder_counts_on_its_own_day(tmp_path):
    write_day(tmp_path / "lake", DAY.replace(day=3), worker_lines=[call(**usage(3_000, 1_000, job_type="ingest_summarization"))])
    out = reconcile(tmp_path, usage_pages=[USAGE], cost_pages=[COSTS], app_lines=APP, worker_lines=WORKER[1:])
    dark = rows(out["fct_dark_compute"], ["job_type", "calls", "cost_usd"])
    assert ("ingest_summarization", 1, D("0.00084")) in dark


def test_log_line_in_the_previous_days_folder_counts_on_its_own_day(tmp_path):
    early = call(ts="2026-11-02T00:00:02Z", **usage(3_000, 1_000, job_type="ingest_summarization"))
    write_day(tmp_path / "lake", DAY.replace(day=1), worker_lines=[early])  # rotated just before midnight
    out = reconcile(tmp_path, usage_pages=[USAGE], cost_pages=[COSTS], app_lines=APP, worker_lines=WORKER[1:])
    assert ("ingest_summarization", 1, D("0.00084")) in rows(out["fct_dark_compute"], ["job_type", "calls", "cost_usd"])


def test_unsplit_cost_line_is_shared_by_catalog_weights_and_kept_whole(tmp_path):
    unsplit = cost_page(DAY, [(None, "proj_a", "0.00252")])
    out = reconcile(tmp_path, usage_pages=[USAGE], cost_pages=[unsplit], app_lines=APP, worker_lines=WORKER)
    (row,) = out["fct_spend_reconciliation"].to_pylist()
    assert row["invoice_cost_usd"] == D("0.00252")
    # catalog weights equal the invoice's own class ratios here, so the split is the same
    assert (row["user_cost_usd"], row["background_cost_usd"], row["retry_cost_usd"], row["unlogged_cost_usd"]) == (
        D("0.00084"), D("0.00084"), D("0.00036"), D("0.00048"))


@pytest.mark.parametrize("cost_pages", [[COSTS], None])
def test_identity_holds_on_every_row(tmp_path, cost_pages):
    out = reconcile(tmp_path, usage_pages=[USAGE], cost_pages=cost_pages, app_lines=APP, worker_lines=WORKER)
    for r in out["fct_spend_reconciliation"].to_pylist():
        assert r["invoice_cost_usd"] == (r["user_cost_usd"] + r["background_cost_usd"] + r["retry_cost_usd"]
                                         + r["unlogged_cost_usd"] + r["non_token_cost_usd"])


def test_an_invoiced_day_stays_provisional_until_the_settling_window_passes(tmp_path):
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[USAGE], cost_pages=[COSTS], app_lines=APP,
                     worker_lines=WORKER)
    early = reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT, {"openai": 1})["fct_spend_reconciliation"]
    settled = reconcile_day(sql.connect(), lake, DAY, datetime(2026, 11, 4, tzinfo=timezone.utc), {"openai": 1})[
        "fct_spend_reconciliation"]
    assert set(early["status"].to_pylist()) == {"provisional"}
    assert set(settled["status"].to_pylist()) == {"final"}
    # the numbers are the invoice's either way; only the trust in them changes
    assert early.drop_columns(["status", "reconciled_at"]).equals(settled.drop_columns(["status", "reconciled_at"]))


def test_a_call_logged_twice_counts_once(tmp_path):
    with_id = call(**usage(3_000, 1_000, job_type="ingest_summarization", gen_ai__response__id="chatcmpl-7"))
    # the shipper re-sent the worker line in the next day's folder; a no-id line was sent twice
    write_day(tmp_path / "lake", DAY.replace(day=3), worker_lines=[with_id])
    out = reconcile(tmp_path, usage_pages=[USAGE], cost_pages=[COSTS], app_lines=APP + [APP[1]],
                    worker_lines=[with_id, WORKER[1]])
    dark = rows(out["fct_dark_compute"], ["job_type", "calls", "cost_usd"])
    assert ("ingest_summarization", 1, D("0.00084")) in dark
    assert ("retry:chat", 1, D("0.00036")) in dark
    (row,) = [r for r in out["fct_spend_reconciliation"].to_pylist() if r["model"] == MODEL]
    assert (row["logged_calls"], row["overlogged_tokens"], row["unlogged_cost_usd"]) == (4, 0, D("0.00048"))
