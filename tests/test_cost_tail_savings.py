"""fct_cost_tail and fct_savings_opportunities find what the simulator planted, with the numbers,
and stay quiet on a clean world.

Two OpenAI worlds of one day (3,000 calls, seed 20261005), both with `tiers=True` (OpenAI's
`llm_judge_evaluation` jobs go through the Batch API, `proactive_suggestions` on flex: the clean
comparison, background work already on a discounted tier):
- clean: nothing planted. No job type is both only ever scheduled and billed at real-time rates
  (proactive_suggestions is scheduled but on flex; the others are started by events or users), so
  no savings; autocomplete's costliest 1% of calls hold a few percent of its spend.
- planted: `realtime_bulk` (a nightly `nightly_enrichment` job type re-running the day's
  ingest_summarization work on real-time rates, trigger `schedule`, no parent request) and
  `expensive_tail` (about 3% of autocomplete's calls 50x costlier).
The planted dollars are computed here from the planted calls' log lines and the catalog's list
prices (the simulated invoice bills at list), never read from the marts.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.lib import dbt as dbt_run
from pipelines.lib.lake import Lake
from pipelines.lib.report import write_report
from pipelines.simulate import pricing, simulate
from pipelines.simulate.plants_tail import BULK_JOB_TYPE, TAIL_FACTOR, TAIL_FEATURE, TAIL_HEX

pytestmark = pytest.mark.slow  # simulated worlds, dbt builds

D = Decimal
DAY = date(2026, 11, 1)
AS_OF = "2026-11-20T04:00:00Z"
WORLD = {"calls_per_day": 3000, "seed": 20261005, "providers": ("openai",), "tiers": True}


def _reconciled(root: Path, **plants) -> Path:
    simulate(root / "world", DAY, 1, **WORLD, **plants)
    assert main(["reconcile", "--date", DAY.isoformat(), "--quiet", "--as-of", AS_OF,
                 "--source", str(root / "world" / "sources"), "--lake", str(root / "lake"),
                 "--warehouse", str(root / "warehouse.duckdb")]) == 0
    return root


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return _reconciled(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    return _reconciled(tmp_path_factory.mktemp("planted"), realtime_bulk=True, expensive_tail=True)


@pytest.fixture(scope="module")
def planted_calls(planted) -> list[dict]:
    """int_call_costs of the planted world's day: every logged call with its invoice dollars."""
    built = dbt_run.build(Lake(planted / "lake"), DAY, datetime.fromisoformat(AS_OF), keep=("int_call_costs",))
    assert built.success, built.failures
    return built.kept["int_call_costs"].to_pylist()


def rows(root: Path, text: str) -> list[tuple]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(text).fetchall()
    finally:
        con.close()


def _log_records(root: Path) -> list[dict]:
    records = []
    for path in sorted((root / "world" / "sources" / "worker_logs").rglob("*.jsonl.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                pass  # the day's truncated line
    return records


# ---------------------------------------------------------------------------------- savings

def test_the_savings_mart_finds_the_planted_job_type_with_its_dollars(planted):
    # the planted calls, as the worker logs wrote them, at the catalog's list prices
    bulk = [r for r in _log_records(planted) if r.get("job_type") == BULK_JOB_TYPE and "gen_ai.usage.input_tokens" in r]
    assert len(bulk) == 302 and {r["trigger"] for r in bulk} == {"schedule"}
    assert {r.get("parent_request_id") for r in bulk} == {None} and {r["batch"] for r in bulk} == {False}
    list_cost = D(0)
    for r in bulk:
        model, cached = r.get("gen_ai.response.model", r["gen_ai.request.model"]), r.get("gen_ai.usage.cache_read.input_tokens", 0)
        list_cost += (pricing.cost("openai", model, DAY, pricing.UNCACHED_INPUT, r["gen_ai.usage.input_tokens"] - cached)
                      + pricing.cost("openai", model, DAY, pricing.CACHE_READ, cached)
                      + pricing.cost("openai", model, DAY, pricing.OUTPUT, r["gen_ai.usage.output_tokens"]))
    assert list_cost == D("0.21033840")
    # exactly one row has savings: the planted job type, its real-time cost = its list cost (the
    # simulated invoice bills at list), at the batch tier half of it
    assert rows(planted, """
        select provider, spender_kind, spender, calls, realtime_cost_usd, batch_cost_usd, savings_usd
        from fct_savings_opportunities where savings_usd <> 0 or realtime_cost_usd <> 0""") == [
        ("openai", "job_type", BULK_JOB_TYPE, 302, list_cost, list_cost / 2, list_cost / 2)]
    # the same dollars fct_dark_compute gives the job type
    assert rows(planted, f"select sum(cost_usd) from fct_dark_compute where job_type = '{BULK_JOB_TYPE}'") == [
        (list_cost,)]


def test_the_savings_mart_is_quiet_on_a_clean_world(clean):
    assert rows(clean, "select count(*), sum(savings_usd), sum(realtime_cost_usd) from fct_savings_opportunities"
                ) == [(18, D(0), D(0))]
    # the one job type only ever scheduled is already on flex; the Batch API's job type is
    # started by events too; nothing user-facing is ever eligible
    assert rows(clean, "select spender from fct_savings_opportunities where batch_eligible") == [
        ("proactive_suggestions",)]
    # the simulated logs carry no reasoning counts and no prompt prefix identity: unknown, not zero
    assert rows(clean, """
        select count(reasoning_tokens), count(reasoning_cost_usd), count(uncached_prefix_tokens),
               count(uncached_prefix_cost_usd)
        from fct_savings_opportunities""") == [(0, 0, 0, 0)]


def test_anthropic_and_bedrock_batch_tiers_price_at_half(tmp_path):
    # the three providers, the plant on each: `tiers` moved OpenAI's proactive_suggestions to flex
    # only, so on Anthropic and Bedrock that scheduled job type is an opportunity too. Every
    # real-time cost is the job type's dollars of the simulator's truth (tokens at list prices)
    root = tmp_path
    simulate(root / "world", DAY, 1, **{**WORLD, "providers": ("openai", "anthropic", "aws.bedrock")},
             realtime_bulk=True)
    assert main(["reconcile", "--date", DAY.isoformat(), "--quiet", "--as-of", AS_OF,
                 "--source", str(root / "world" / "sources"), "--lake", str(root / "lake"),
                 "--warehouse", str(root / "warehouse.duckdb")]) == 0
    truth = json.loads((root / "world" / "ground_truth.json").read_text())["days"][DAY.isoformat()]
    expected = [(provider, job_type, D(truth[provider]["dark_usd_by_job_type"][job_type]))
                for provider, job_type in (("anthropic", BULK_JOB_TYPE), ("anthropic", "proactive_suggestions"),
                                           ("aws.bedrock", BULK_JOB_TYPE), ("aws.bedrock", "proactive_suggestions"),
                                           ("openai", BULK_JOB_TYPE))]
    assert [r[2] for r in expected] == [D("0.36184550"), D("0.40119675"), D("0.484316800"), D("0.618107325"),
                                        D("0.10367880")]
    assert rows(root, """
        select provider, spender, realtime_cost_usd, batch_cost_usd, savings_usd from fct_savings_opportunities
        where realtime_cost_usd <> 0 order by all""") == [(p, j, cost, cost / 2, cost / 2) for p, j, cost in expected]
    # Bedrock's nightly_digest (only its invocation logs' requestMetadata name it) is not eligible:
    # no log says how it was started
    assert rows(root, "select batch_eligible from fct_savings_opportunities where spender = 'nightly_digest'") == [
        (False,)]


def test_a_hand_computed_day_reasoning_and_a_scheduled_job(tmp_path):
    """gpt-4o-mini on proj_a, invoiced at list ($0.15 input, $0.60 output per million tokens):
    a chat call of 4,000 input and 1,000 output tokens, 600 of them reasoning: $0.0006 + $0.0006 =
    $0.0012, its reasoning 600 x $0.0000006 = $0.00036 (60% of its output); a scheduled job's call
    (trigger schedule, no parent) of 3,000 input and 1,000 output: $0.00045 + $0.0006 = $0.00105, at
    the batch tier $0.000525; an event-started job's call of the same size: not eligible."""
    from pipelines.defs.reconcile.model import ensure_catalog

    from .fixtures import call, cost_page, usage, usage_page, write_day

    day, model = date(2026, 11, 2), "gpt-4o-mini-2024-07-18"
    lake = write_day(
        tmp_path / "lake", day,
        usage_pages=[usage_page(day, [{"input_tokens": 10_000, "output_tokens": 3_000, "num_model_requests": 3,
                                       "project_id": "proj_a", "model": model}])],
        cost_pages=[cost_page(day, [(f"{model}, input", "proj_a", "0.0015"), (f"{model}, output", "proj_a", "0.0018")])],
        app_lines=[call(**usage(4_000, 1_000, feature="chat", gen_ai__usage__reasoning__output_tokens=600))],
        worker_lines=[call(**usage(3_000, 1_000, job_type="nightly_x", job_id="j1", trigger="schedule")),
                      call(**usage(3_000, 1_000, job_type="ingest_x", job_id="j2", trigger="event"))],
    )
    ensure_catalog(lake, day)
    built = dbt_run.build(lake, day, datetime.fromisoformat(AS_OF))
    assert built.success, built.failures
    savings = built.marts["fct_savings_opportunities"].to_pylist()
    assert [(r["spender_kind"], r["spender"], r["cost_usd"], r["batch_eligible"], r["realtime_cost_usd"],
             r["batch_cost_usd"], r["savings_usd"], r["output_tokens"], r["reasoning_tokens"],
             r["reasoning_output_share"], r["reasoning_cost_usd"]) for r in savings] == [
        ("feature", "chat", D("0.0012"), False, 0, 0, 0, 1_000, 600, D("0.6"), D("0.00036")),
        ("job_type", "ingest_x", D("0.00105"), False, 0, 0, 0, 1_000, None, None, None),
        ("job_type", "nightly_x", D("0.00105"), True, D("0.00105"), D("0.000525"), D("0.000525"), 1_000, None, None,
         None),
    ]
    tail = built.marts["fct_cost_tail"].to_pylist()
    assert [(r["spender"], r["calls"], r["p50_cost_usd"], r["max_cost_usd"], r["top_calls"], r["top_share"])
            for r in tail] == [("chat", 1, D("0.0012"), D("0.0012"), 1, D(1)), ("ingest_x", 1, D("0.00105"),
                                                                              D("0.00105"), 1, D(1)),
                               ("nightly_x", 1, D("0.00105"), D("0.00105"), 1, D(1))]


# ---------------------------------------------------------------------------------- tail

def _nearest_rank(costs: list[Decimal], q: str) -> Decimal:
    return costs[math.ceil(D(q) * len(costs)) - 1]


def _expected_tail(calls: list[dict]) -> dict[tuple, tuple]:
    """fct_cost_tail recomputed in Python from the calls' invoice dollars."""
    groups: dict[tuple, list[Decimal]] = defaultdict(list)
    kinds = {"user": "feature", "background": "job_type", "retry": "retry"}
    for c in calls:
        if c["usage_known"] and c["request_count"] == 1:
            spender = c["feature"] if c["spend_class"] == "user" else c["job_type"]
            groups[(c["provider"], kinds[c["spend_class"]], spender)].append(c["cost_usd"])
    expected = {}
    for key, costs in groups.items():
        costs.sort()
        k = math.ceil(len(costs) / 100)
        total, top = sum(costs), sum(costs[-k:])
        share = (top / total).quantize(D("0.00000001"), rounding=ROUND_FLOOR) if total else None
        expected[key] = (len(costs), total, _nearest_rank(costs, "0.5"), _nearest_rank(costs, "0.9"),
                         _nearest_rank(costs, "0.99"), costs[-1], k, top, share)
    return expected


TAIL_COLUMNS = ("select provider, spender_kind, spender, calls, cost_usd, p50_cost_usd, p90_cost_usd, p99_cost_usd, "
                "max_cost_usd, top_calls, top_cost_usd, top_share from fct_cost_tail")


def test_the_tail_mart_is_the_distribution_of_the_calls_costs(planted, planted_calls):
    got = {r[:3]: r[3:] for r in rows(planted, TAIL_COLUMNS)}
    assert got == _expected_tail(planted_calls)
    assert len(got) == 19


def test_the_tail_mart_shows_the_planted_tail(planted, planted_calls):
    autocomplete = [c for c in planted_calls if c["spend_class"] == "user" and c["feature"] == TAIL_FEATURE
                    and c["usage_known"] and c["request_count"] == 1]
    tail = [c for c in autocomplete if int(c["request_id"][-2:], 16) < TAIL_HEX]
    assert (len(autocomplete), len(tail)) == (217, 9)
    ((calls, p50, p99, top_calls, top_cost, top_share),) = rows(planted, f"""
        select calls, p50_cost_usd, p99_cost_usd, top_calls, top_cost_usd, top_share from fct_cost_tail
        where spender_kind = 'feature' and spender = '{TAIL_FEATURE}'""")
    # the costliest 1% (3 calls) are planted calls, and so is the 99th percentile
    tail_costs = sorted((c["cost_usd"] for c in tail), reverse=True)
    assert (calls, top_calls) == (217, 3) and top_cost == sum(tail_costs[:3])
    assert p99 in tail_costs and p99 >= TAIL_FACTOR * p50 / 2
    assert top_share == D("0.34984883")  # 3.8% in the clean world
    # it is the one spender of 100 calls or more whose costliest 1% hold over 10% of its spend
    assert rows(planted, "select spender from fct_cost_tail where calls >= 100 and top_share > 0.10") == [
        (TAIL_FEATURE,)]


def test_the_tail_mart_is_quiet_on_a_clean_world(clean):
    # no spender of 100 calls or more keeps over 10% of its spend in its costliest 1% of calls (chat
    # comes closest: its calls are gpt-4o for some tenants, gpt-4o-mini for the others)
    assert rows(clean, "select count(*), max(top_share) from fct_cost_tail where calls >= 100") == [
        (9, D("0.08672394"))]
    ((p50, p99, share),) = rows(clean, f"""
        select p50_cost_usd, p99_cost_usd, top_share from fct_cost_tail
        where spender_kind = 'feature' and spender = '{TAIL_FEATURE}'""")
    assert p99 < 3 * p50 and share == D("0.03835872")


# ---------------------------------------------------------------------------------- report

def _section_rows(page: str, key: str) -> list[list[str]]:
    table = re.search(rf"<table id=table-{key}>(.*?)</table>", page, re.S).group(1)
    body = table.split("<tbody>")[1]
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_report_shows_the_tail_and_the_savings(planted, tmp_path):
    write_report(planted / "warehouse.duckdb", DAY, tmp_path / "report.html", png_copy=False)
    page = (tmp_path / "report.html").read_text()
    savings = _section_rows(page, "savings")
    assert savings == [["job_type nightly_enrichment", "openai", "1", "$0.21", "$0.11", "$0.11", "–", "–"]]
    tail = _section_rows(page, "cost_tail")
    # the 10 spenders of 100 calls or more, the planted tail first (p99 50x the median, 35.0% of its
    # spend in its 3 costliest calls), then chat (8.7%: gpt-4o for some tenants, mini for the rest)
    assert len(tail) == 10
    assert tail[0] == ["feature autocomplete", "2026-11-01", "openai", "217", "$0.000072", "$0.0036", "$0.0089", "$0.05",
                       "$0.02", "35.0%"]
    assert [row[0] for row in tail[1:3]] == ["feature chat", "job_type nightly_enrichment"]
