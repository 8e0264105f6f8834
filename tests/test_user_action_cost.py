"""fct_user_action_cost: what a visible user action costs per feature, its fan-out, and the features'
user dollars reconciled to the invoice.

Two simulated worlds, the same but for the plant: `simulate(fan_out="doc_qa")` makes every doc_qa
action 15 to 40 calls (pipelines/simulate/plants_fanout.py), and its ground truth has the logged
calls per action as a histogram. The mart finds exactly that: the actions, the p50, p95 and max
calls per action (nearest rank, computed here from the truth's histogram). The clean world has
no feature with a median action above 4 calls. In both, per day, the features' user dollars +
dark compute + non-token charges = the invoice, exactly; the report's section shows the mart.
"""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from pipelines.lib import report_sections
from pipelines.simulate import simulate
from pipelines.simulate.plants_fanout import FAN_OUT_HIGH, FAN_OUT_LOW

pytestmark = pytest.mark.slow  # simulated worlds reconciled by the CLI

D = Decimal
START = date(2026, 11, 1)
DAYS = ("2026-11-01", "2026-11-02")
FEATURE = "doc_qa"


def _world(root, **plant) -> tuple[duckdb.DuckDBPyConnection, dict]:
    simulate(root / "world", START, 2, calls_per_day=3000, seed=20261205, **plant)
    code = main(["reconcile", "--date", DAYS[0], "--to", DAYS[1], "--quiet", "--as-of", "2026-11-20T04:00:00Z",
                 "--source", str(root / "world" / "sources"), "--lake", str(root / "lake"),
                 "--warehouse", str(root / "warehouse.duckdb")])
    assert code == 0
    truth = json.loads((root / "world" / "ground_truth.json").read_text())
    return duckdb.connect(str(root / "warehouse.duckdb"), read_only=True), truth


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    con, truth = _world(tmp_path_factory.mktemp("fanout"), fan_out=FEATURE)
    yield con, truth
    con.close()


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    con, truth = _world(tmp_path_factory.mktemp("clean"))
    yield con, truth
    con.close()


def _nearest_rank(histogram: dict[str, int], q: float) -> int:
    """DuckDB's quantile_disc over the actions' call counts: the value at index floor((n - 1) x q)
    of the sorted counts (for these q and n; checked against DuckDB itself below)."""
    values = [int(c) for c, n in sorted(histogram.items(), key=lambda kv: int(kv[0])) for _ in range(n)]
    return values[math.floor((len(values) - 1) * q)]


def test_nearest_rank_is_duckdbs_quantile_disc():
    histogram = {"3": 2, "15": 7, "16": 1, "40": 3}
    values = [int(c) for c, n in histogram.items() for _ in range(n)]
    for q in (0.5, 0.95, 0.99):
        ((expected,),) = duckdb.execute("select quantile_disc(v, $q) from unnest($v) as t(v)",
                                        {"q": q, "v": values}).fetchall()
        assert _nearest_rank(histogram, q) == expected


def test_the_mart_finds_exactly_the_planted_fan_out(planted):
    con, truth = planted
    for day in DAYS:
        planted_day = truth["fan_out"][day]
        histogram = planted_day["calls_per_action"]
        assert planted_day["feature"] == FEATURE and planted_day["actions"] > 50
        assert min(int(c) for c in histogram) >= FAN_OUT_LOW
        row = con.execute("""
            select actions, calls_per_action_p50, calls_per_action_p95, calls_per_action_max
            from fct_user_action_cost where usage_date = $d and feature = $f""", {"d": day, "f": FEATURE}).fetchall()
        assert row == [(planted_day["actions"], _nearest_rank(histogram, 0.5), _nearest_rank(histogram, 0.95),
                        max(int(c) for c in histogram))]
        # the planted feature alone fans out: every other feature's median action stays small
        others = con.execute("""
            select feature, calls_per_action_p50 from fct_user_action_cost
            where usage_date = $d and feature <> $f and calls_per_action_p50 >= $low""",
                             {"d": day, "f": FEATURE, "low": FAN_OUT_LOW}).fetchall()
        assert others == []
    # the planted draws: between 15 and 40 first-attempt calls, plus retries and background work
    assert max(int(c) for d in DAYS for c in truth["fan_out"][d]["calls_per_action"]) <= FAN_OUT_HIGH + 10


def test_a_clean_world_has_no_fan_out(clean):
    con, truth = clean
    assert "fan_out" not in truth
    rows = con.execute("select feature, max(calls_per_action_p50), max(calls_per_action_p95) "
                       "from fct_user_action_cost group by all order by all").fetchall()
    assert [r[0] for r in rows] == ["autocomplete", "chat", "doc_qa", "search_answer"]
    # an action of the clean world makes 1 to 4 calls, a retry or a background job more at the tail
    assert all(p50 <= 4 for _, p50, _ in rows), rows
    assert all(p95 < FAN_OUT_LOW for _, _, p95 in rows), rows


@pytest.mark.parametrize("world", ["planted", "clean"])
def test_features_plus_dark_compute_plus_non_token_is_the_invoice(world, request):
    con, _ = request.getfixturevalue(world)
    rows = con.execute("""
        with features as (select usage_date, sum(user_cost_usd) as usd from fct_user_action_cost group by all),
        dark as (select usage_date, sum(cost_usd) as usd from fct_dark_compute group by all),
        bill as (select usage_date, sum(invoice_cost_usd) as invoice, sum(non_token_cost_usd) as non_token,
                 sum(user_cost_usd) as user_usd from fct_spend_reconciliation group by all)
        select usage_date, features.usd, dark.usd, bill.non_token, bill.invoice, bill.user_usd
        from bill join features using (usage_date) join dark using (usage_date) order by usage_date""").fetchall()
    assert [str(r[0]) for r in rows] == list(DAYS)
    for _, features, dark, non_token, invoice, user in rows:
        assert features + dark + non_token == invoice  # exactly, to the picodollar
        assert features == user
        assert invoice > D(1)


def test_an_actions_cost_includes_its_retries_and_background(planted):
    con, _ = planted
    rows = con.execute("""
        select feature, actions, user_cost_usd, retry_cost_usd, background_cost_usd, action_cost_usd,
            background_calls, cost_per_action_p50, cost_per_action_p95, cost_per_action_p99
        from fct_user_action_cost where usage_date = $d order by feature""", {"d": DAYS[0]}).fetchall()
    for feature, _actions, user, retry, background, action, _calls, p50, p95, p99 in rows:
        # every user call of the features here has a request id: the actions' dollars are the
        # features' user dollars plus the dark compute linked to them
        assert action == user + retry + background, feature
        assert D(0) < p50 <= p95 <= p99 <= action, feature
    by_feature = {r[0]: r for r in rows}
    # doc_qa triggers background jobs (ingest, summarization) linked by parent_request_id
    assert by_feature[FEATURE][6] > 0 and by_feature[FEATURE][4] > 0
    # the fan-out costs: a doc_qa action costs more than 10x an autocomplete one at the median
    assert by_feature[FEATURE][7] > 10 * by_feature["autocomplete"][7]


def test_the_report_section_shows_the_mart(planted):
    con, _ = planted
    section = next(s for s in report_sections.SECTIONS if s.key == "user_action_cost")
    shown = report_sections.gather(con, date(2026, 11, 1), date(2026, 11, 2), [section])
    assert len(shown) == 1
    got = {row[0]: dict(zip(shown[0].columns, row, strict=True)) for row in shown[0].rows}
    expected = con.execute("""
        select feature, sum(actions), max(calls_per_action_p50), max(calls_per_action_max), sum(user_cost_usd),
            sum(retry_cost_usd + background_cost_usd), max(cost_per_action_p50), max(cost_per_action_p99)
        from fct_user_action_cost group by all""").fetchall()
    assert set(got) == {r[0] for r in expected}
    for feature, actions, p50, most, user, dark, cost_p50, cost_p99 in expected:
        row = got[feature]
        assert (row["actions"], row["calls_per_action_p50"], row["calls_per_action_max"]) == (actions, p50, most)
        assert (row["user_cost_usd"], row["linked_dark_usd"]) == (user, dark)
        assert (row["cost_per_action_p50_usd"], row["cost_per_action_p99_usd"]) == (cost_p50, cost_p99)
    # ordered by user dollars, the planted feature's fan-out on top of its column
    assert got[FEATURE]["calls_per_action_p50"] == max(r["calls_per_action_p50"] for r in got.values())
    html = report_sections.render(shown)
    assert "section-user_action_cost" in html and FEATURE in html
