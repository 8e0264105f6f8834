"""fct_cost_growth on simulated worlds of 8 weeks: the planted job type is found with the growth the
simulator planted, the cost_growth_within_users check names it, and a clean world stays quiet.

The planted world (`simulate(cost_growth=CostGrowth())`, from Monday 2026-10-05, ISO week 2026-W41
= week 0): users and traffic +10% a week, `proactive_suggestions`' calls +30% a week. Only the
days the 4-week comparison needs are reconciled (weeks 3 and 7: 14 days; a day costs ~8 s of a
quiet 2-core machine, far more on a loaded one). The expected numbers come from the planted calls:
active users from the app log lines the simulator wrote, a job type's dollars from its ground truth
(`dark_usd_by_job_type`, the calls at list price). The clean world (the plant off) compares its
weeks 0 and 4.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from contextlib import redirect_stderr, redirect_stdout
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from pipelines.defs.reconcile import checks
from pipelines.lib import report_sections
from pipelines.lib.lake import Lake
from pipelines.simulate import simulate
from pipelines.simulate.plants_cost_growth import CostGrowth, active_users

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

D = Decimal
START = date(2026, 10, 5)  # a Monday: week 0 is whole
CALLS = 1000
PLANT = CostGrowth()
JOB = "proactive_suggestions"


def monday(week: int) -> date:
    return START + timedelta(days=7 * week)


def reconcile(root, weeks: tuple[int, int]) -> str:
    """`darkcompute reconcile` of the two weeks; what it printed."""
    printed = []
    for week in weeks:
        out = io.StringIO()
        with redirect_stdout(out), redirect_stderr(out):
            code = main(["reconcile", "--date", monday(week).isoformat(), "--to",
                         (monday(week) + timedelta(days=6)).isoformat(), "--quiet", "--as-of", "2027-01-01T04:00:00Z",
                         "--source", str(root / "world" / "sources"), "--lake", str(root / "lake"),
                         "--warehouse", str(root / "warehouse.duckdb")])
        printed.append(out.getvalue())
        assert code == 0, printed[-1]
    return "\n".join(printed)


def planted_figures(root) -> tuple[dict[int, int], dict[tuple[str, int], Decimal]]:
    """Per week: the distinct users of the app log lines the simulator wrote, and each job type's
    dollars in its ground truth (background + its retries, every provider)."""
    con = duckdb.connect()
    users = dict(con.execute(
        f"select (timestamp::date - date '{START}') // 7, count(distinct user_id) "
        f"from read_json('{root}/world/sources/app_logs/*/*.jsonl', format = 'newline_delimited', "
        "union_by_name = true, ignore_errors = true, columns = {timestamp: 'timestamp', user_id: 'varchar'}) "
        "where timestamp is not null group by 1").fetchall())
    con.close()
    dollars: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for day, providers in json.loads((root / "world" / "ground_truth.json").read_text())["days"].items():
        week = (date.fromisoformat(day) - START).days // 7
        for truth in providers.values():
            for job_type, usd in truth["dark_usd_by_job_type"].items():
                dollars[(job_type.removeprefix("retry:"), week)] += D(usd)
    return users, dollars


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    simulate(root / "world", START, 56, calls_per_day=CALLS, seed=11, cost_growth=PLANT, otlp_share=0,
             deprecated_share=0)
    return root


@pytest.fixture(scope="module")
def planted_run(planted):
    printed = reconcile(planted, (3, 7))
    con = duckdb.connect(str(planted / "warehouse.duckdb"), read_only=True)
    yield planted, con, printed
    con.close()


def growth_row(con, kind: str, subject: str, week: int) -> dict:
    cursor = con.execute("select * from fct_cost_growth where subject_kind = ? and subject = ? and week_start = ?",
                         [kind, subject, monday(week)])
    names = [d[0] for d in cursor.description]
    (row,) = cursor.fetchall()
    return dict(zip(names, row, strict=True))


def test_the_planted_world_grows_as_planted(planted):
    users, dollars = planted_figures(planted)
    # every user of the week's pool is active: 40 x 1.1^w
    assert [users[w] for w in range(8)] == [active_users(PLANT, w) for w in range(8)] == [40, 44, 48, 53, 59, 64, 71, 78]
    # the job type's cost grows ~1.3^4 = 2.86 in 4 weeks (the draws of a small world: within 15%)
    nominal = D("1.3") ** 4
    assert abs(dollars[(JOB, 7)] / dollars[(JOB, 3)] / nominal - 1) < D("0.15")
    # the other job types grow with the users (1.1^4 = 1.46, within 20%)
    for job_type in ("ingest_summarization", "session_summarization", "llm_judge_evaluation"):
        assert abs(dollars[(job_type, 7)] / dollars[(job_type, 3)] / D("1.1") ** 4 - 1) < D("0.2"), job_type


def test_fct_cost_growth_finds_the_planted_growth(planted_run):
    root, con, _ = planted_run
    users, dollars = planted_figures(root)
    job = growth_row(con, "job_type", JOB, 7)
    expected = dollars[(JOB, 7)] / dollars[(JOB, 3)]
    assert abs(job["cost_growth_4w_ratio"] - expected) < D("0.001"), (job["cost_growth_4w_ratio"], expected)
    assert job["users_growth_4w_ratio"] == round(D(users[7]) / D(users[3]), 6) == D("1.471698")  # 78 / 53
    assert job["active_users"] == 78 and job["whole_week"] and job["days_reconciled"] == 7
    assert job["cost_growth_12w_ratio"] is None  # no week 12 weeks before week 7
    assert abs(job["cost_usd"] - dollars[(JOB, 7)]) < D("0.0001") * dollars[(JOB, 7)]
    total = growth_row(con, "total", "__all__", 7)
    assert total["active_users"] == 78 and growth_row(con, "total", "__all__", 3)["active_users"] == 53
    # two whole weeks, nothing else: weeks 4-6 were not reconciled
    assert con.execute("select distinct iso_week, days_reconciled from fct_cost_growth order by 1").fetchall() == [
        ("2026-W44", 7), ("2026-W48", 7)]


def test_feature_users_hold_the_user_dollars_of_every_day(planted_run):
    _, con, _ = planted_run
    gaps = con.execute("""
        select count(*) from (select usage_date, sum(user_cost_usd) as u from fct_spend_reconciliation group by 1) r
        full join (select usage_date, sum(user_cost_usd) as u from fct_feature_users group by 1) f using (usage_date)
        where r.u is distinct from f.u""").fetchone()[0]
    assert gaps == 0
    assert con.execute("select count(distinct usage_date) from fct_feature_users").fetchone()[0] == 14


def test_the_check_warns_naming_the_planted_job_type(planted_run):
    root, con, printed = planted_run
    outcome = checks.cost_growth(Lake(root / "lake"), monday(7) + timedelta(days=6), D("2.0"))
    assert not outcome.passed
    assert outcome.metadata["subjects"] == f"job_type {JOB}"
    job = growth_row(con, "job_type", JOB, 7)
    assert outcome.metadata["worst_cost_growth_4w"] == str(job["cost_growth_4w_ratio"])
    assert outcome.metadata["worst_users_growth_4w"] == "1.471698"
    assert (outcome.metadata["week"], outcome.metadata["compared_with"]) == ("2026-11-23", "2026-10-26")
    # the Dagster asset check of the run warned on the week's Sunday, and the summary says so
    assert "cost_growth_within_users" in printed and JOB in printed, printed[-3000:]


def test_the_report_section_shows_the_planted_job_type_first(planted_run):
    _, con, _ = planted_run
    section = next(s for s in report_sections.SECTIONS if s.key == "cost_growth")
    (shown,) = report_sections.gather(con, monday(7), monday(7) + timedelta(days=6), sections=[section])
    job = growth_row(con, "job_type", JOB, 7)
    first = dict(zip(shown.columns, shown.rows[0], strict=True))
    assert (first["subject"], first["kind"], first["iso_week"]) == (JOB, "job_type", "2026-W48")
    assert (first["cost_usd"], first["cost_growth_4w_ratio"], first["users_growth_4w_ratio"]) == (
        job["cost_usd"], job["cost_growth_4w_ratio"], D("1.471698"))
    # every subject of the week: 4 features, the job types, the total
    assert len(shown.rows) == con.execute("select count(*) from fct_cost_growth where week_start = ?",
                                          [monday(7)]).fetchone()[0]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    simulate(root / "world", START, 35, calls_per_day=CALLS, seed=11, otlp_share=0, deprecated_share=0)
    printed = reconcile(root, (0, 4))
    return root, printed


def test_a_clean_world_passes(clean):
    clean, printed = clean
    assert "cost_growth_within_users" not in printed
    outcome = checks.cost_growth(Lake(clean / "lake"), monday(4) + timedelta(days=6), D("2.0"))
    assert outcome.passed and outcome.metadata["subjects_over_factor"] == 0
    assert outcome.metadata["week"] == str(monday(4))
    con = duckdb.connect(str(clean / "warehouse.duckdb"), read_only=True)
    try:
        growths = con.execute("select subject, cost_growth_4w_ratio, users_growth_4w_ratio from fct_cost_growth "
                              "where week_start = ? and subject_kind <> 'feature' order by 1", [monday(4)]).fetchall()
    finally:
        con.close()
    assert len(growths) == 7  # 6 job types and the total, all compared
    assert all(D("0.7") < cost < D("1.4") and D("0.9") <= users <= D("1.1") for _, cost, users in growths), growths
