"""The anomaly and budget checks on a 9-day world whose `ingest_summarization` jobs run 8 times
over on 2026-10-08 (`simulate(..., runaway=Runaway(...))`): the checks flag exactly that job type
on that day, with the numbers the simulator's truth gives; a budget below its cost warns, or
blocks the day's warehouse when its severity says so; the same world without the runaway is
quiet. Expectations are computed from the ground truth (the planted calls, priced by the
simulator), never from the checks' output."""

from __future__ import annotations

import json
import shutil
import statistics
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.cli.reconcile import run_days
from pipelines.cli.summary import print_summary
from pipelines.defs.reconcile import checks
from pipelines.simulate import Runaway, simulate

pytestmark = pytest.mark.slow  # nine days reconciled through Dagster

START, DAYS, CALLS, SEED = date(2026, 10, 1), 9, 1500, 5
PLANTED = date(2026, 10, 8)
JOB = "ingest_summarization"
FACTOR, SHARE_FACTOR, MIN_USD = Decimal(3), Decimal("1.5"), Decimal("0.5")
AS_OF = datetime(2026, 10, 12, 4, tzinfo=timezone.utc)
MINE = ("job_type_cost_within_factor", "dark_share_within_factor", "job_types_within_budget", "features_within_budget")
EPS = Decimal("0.0001")  # the marts' dark dollars by job type are within 0.01% of the truth (test_planted_truth)


def _days(n: int = DAYS) -> list[date]:
    return [START + timedelta(days=i) for i in range(n)]


def _truth(root: Path) -> dict:
    return json.loads((root / "ground_truth.json").read_text())["days"]


def _job_cost(truth: dict, day: date, provider: str | None, job: str) -> Decimal:
    """The truth's dollars of `job` (and its retries) on `day`, at `provider` or every provider."""
    out = Decimal(0)
    for p, values in truth[day.isoformat()].items():
        if provider in (None, p):
            dark = values["dark_usd_by_job_type"]
            out += Decimal(dark.get(job, "0")) + Decimal(dark.get(f"retry:{job}", "0"))
    return out


def _expected_job_types(truth: dict, days: list[date]) -> dict:
    """{(day, provider, job type): (day USD, median USD)} the rule flags, from the truth."""
    out = {}
    for i, day in enumerate(days):
        window = days[max(0, i - 7):i]
        if len(window) < checks.MIN_HISTORY_DAYS:
            continue
        for provider, values in truth[day.isoformat()].items():
            for job, amount in values["dark_usd_by_job_type"].items():
                today = Decimal(amount)
                median = statistics.median(
                    Decimal(truth[d.isoformat()].get(provider, {}).get("dark_usd_by_job_type", {}).get(job, "0"))
                    for d in window)
                if today >= MIN_USD and today > FACTOR * median:
                    out[(day, provider, job)] = (today, median)
    return out


def _expected_shares(truth: dict, days: list[date]) -> dict:
    def share(day, provider):
        values = truth[day.isoformat()][provider]
        dark = sum((Decimal(v) for v in values["dark_usd_by_job_type"].values()), Decimal(0))
        return dark, dark / Decimal(values["invoice_usd"])

    out = {}
    for i, day in enumerate(days):
        window = days[max(0, i - 7):i]
        if len(window) < checks.MIN_HISTORY_DAYS:
            continue
        for provider in truth[day.isoformat()]:
            dark, today = share(day, provider)
            median = statistics.median(share(d, provider)[1] for d in window)
            if dark >= MIN_USD and today > SHARE_FACTOR * median:
                out[(day, provider)] = (today, median)
    return out


def _budgets(path: Path, rows: list[str]) -> Path:
    path.write_text("# a test's budgets\nscope,name,provider,daily_usd,severity,note\n" + "".join(r + "\n" for r in rows))
    return path


def _reconcile(monkeypatch, sources: Path, lake: Path, warehouse: Path, budgets: Path, days: list[date], **env):
    for name, value in {"DARKCOMPUTE_SOURCE_URI": sources, "DARKCOMPUTE_LAKE_DIR": lake,
                        "DARKCOMPUTE_WAREHOUSE": warehouse, "DARKCOMPUTE_REPORT_DIR": warehouse.parent / "reports",
                        "DARKCOMPUTE_ANOMALY_MIN_USD": MIN_USD, "DARKCOMPUTE_BUDGETS": budgets,
                        "DAGSTER_HOME": "", **env}.items():
        monkeypatch.setenv(name, str(value))
    found: list = []
    failures, _ = run_days(days, quiet=True, as_of=AS_OF, checks=found)
    return failures, [(day, e) for day, e in found if e.check_name in MINE]


def _budget_usd(truth: dict) -> Decimal:
    """Halfway between the job type's most expensive ordinary day and the planted day."""
    ordinary = max(_job_cost(truth, d, None, JOB) for d in _days() if d != PLANTED)
    return ((ordinary + _job_cost(truth, PLANTED, None, JOB)) / 2).quantize(Decimal("0.01"))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("runaway")
    simulate(root / "world", START, DAYS, calls_per_day=CALLS, seed=SEED, runaway=Runaway(JOB, PLANTED, 8))
    truth = _truth(root / "world")
    budgets = _budgets(root / "budgets.csv", [f"job_type,{JOB},,{_budget_usd(truth)},warn,test"])
    with pytest.MonkeyPatch.context() as mp:
        failures, found = _reconcile(mp, root / "world" / "sources", root / "lake", root / "warehouse.duckdb",
                                     budgets, _days())
    return root, truth, failures, found


def test_the_plant_multiplies_the_job_type_on_its_day_only(planted):
    root, truth, failures, _ = planted
    assert failures == []
    for provider in ("anthropic", "aws.bedrock", "openai"):
        ordinary = [_job_cost(truth, d, provider, JOB) for d in _days() if d != PLANTED]
        # about 8 times its usual day at every provider (the copies are the same jobs, run 8 times)
        assert _job_cost(truth, PLANTED, provider, JOB) > 5 * max(ordinary), provider


def test_the_anomaly_check_flags_exactly_the_planted_job_type_and_day(planted):
    root, truth, _, found = planted
    expected = _expected_job_types(truth, _days())
    # the rule, applied to the truth, flags the runaway job type on its day and nothing else
    assert set(expected) == {(PLANTED, "anthropic", JOB), (PLANTED, "aws.bedrock", JOB)}
    warned = [(day, e) for day, e in found if e.check_name == "job_type_cost_within_factor"]
    assert [day for day, _ in warned] == [PLANTED]
    [(_, evaluation)] = warned
    assert evaluation.severity.value == "WARN"
    meta = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
    assert (meta["flagged"], meta["history_days"], meta["factor"], meta["min_usd"]) == (2, "7", "3", "0.5")
    assert meta["job_types"] == f"anthropic {JOB}, aws.bedrock {JOB}"  # largest first, as in the truth
    today, median = expected[(PLANTED, "anthropic", JOB)]
    assert expected[(PLANTED, "aws.bedrock", JOB)][0] < today
    assert (meta["provider"], meta["job_type"]) == ("anthropic", JOB)
    assert abs(Decimal(meta["day_usd"]) - today) <= today * EPS
    assert abs(Decimal(meta["median_usd"]) - median) <= median * EPS
    assert abs(Decimal(meta["ratio"]) - today / median) < Decimal("0.01")
    assert evaluation.description.startswith(
        f"{PLANTED} anthropic {JOB}: ${today:,.2f} against a 7-day median of ${median:,.2f} "
        f"({(today / median).quantize(Decimal('0.01'))}x, over 3x); largest cells: wrkspc_")
    # the metadata's table names the accounts and models of both flagged job types
    assert "| anthropic | ingest_summarization |" in meta["cells"] and "claude-haiku-4-5-20251001" in meta["cells"]
    assert "| aws.bedrock | ingest_summarization |" in meta["cells"] and "worker-role" in meta["cells"]


def test_the_dark_share_check_flags_the_providers_the_runaway_moved(planted):
    root, truth, _, found = planted
    expected = _expected_shares(truth, _days())
    assert set(expected) == {(PLANTED, "anthropic"), (PLANTED, "aws.bedrock")}
    warned = [(day, e) for day, e in found if e.check_name == "dark_share_within_factor"]
    assert [day for day, _ in warned] == [PLANTED]
    meta = {k: getattr(v, "value", v) for k, v in warned[0][1].metadata.items()}
    assert meta["providers"] == "anthropic, aws.bedrock" and meta["flagged"] == 2
    share, median = expected[(PLANTED, "anthropic")]
    assert abs(Decimal(meta["share"]) - share) < Decimal("0.0001")
    assert abs(Decimal(meta["median_share"]) - median) < Decimal("0.0001")


def test_a_budget_below_the_runaway_warns_on_its_day_and_the_summary_says_where(planted, capsys):
    root, truth, _, found = planted
    budget, spent = _budget_usd(truth), _job_cost(truth, PLANTED, None, JOB)
    expected_today = _expected_job_types(truth, _days())[(PLANTED, "anthropic", JOB)][0]
    warned = [(day, e) for day, e in found if e.check_name == "job_types_within_budget"]
    assert [day for day, _ in warned] == [PLANTED]
    evaluation = warned[0][1]
    assert evaluation.severity.value == "WARN"
    meta = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
    assert (meta["budgets"], meta["over_budget"], meta["blocking"], meta["name"]) == ("1", 1, False, JOB)
    assert Decimal(meta["budget_usd"]) == budget
    assert abs(Decimal(meta["day_usd"]) - spent) <= spent * EPS
    assert f"| {JOB} | every provider | {spent:,.2f} | {budget:,.2f} | over | warn | {root / 'budgets.csv'}:3 |" \
        in meta["by_budget"]
    # a warning publishes the day all the same
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(distinct usage_date) from fct_dark_compute").fetchone() == (DAYS,)
    con.close()
    print_summary(str(root / "warehouse.duckdb"), START, _days()[-1], checks=found)
    lines = capsys.readouterr().out.splitlines()
    head = lines.index("  job_type_cost_within_factor on fct_dark_compute warned on 1 day(s), flagged=2 in all:")
    assert lines[head + 1] == f"    {PLANTED} (2)"  # (on the line above, it would be 101 columns)
    alert = head + 2  # the day's alert, under its check
    assert lines[alert].startswith(f"    {PLANTED} anthropic {JOB}: ${expected_today:,.2f} against a 7-day median"), lines
    assert lines[alert + 1].startswith("      ")  # wrapped in the summary's 100 columns
    assert max(map(len, lines[alert:alert + 4])) <= 100
    assert any(line.startswith(f"    {PLANTED} {JOB}: ${spent:,.2f} over its ${budget:,.2f} daily budget")
               for line in lines)


def test_fewer_than_three_previous_days_pass_and_say_so(planted):
    root, *_ = planted
    lake = root / "lake" / "marts" / "fct_dark_compute"
    history = {START + timedelta(days=i): lake / f"date={START + timedelta(days=i)}" / "data.parquet" for i in (0, 1)}
    outcome = checks.job_type_anomalies(duckdb.connect(), START + timedelta(days=2), history[START], history,
                                        FACTOR, Decimal(0))
    assert outcome.passed and outcome.metadata["history_days"] == "2"
    assert outcome.metadata["note"].startswith("too little history: 2 of the previous 7 days")


def test_the_same_world_without_the_runaway_is_quiet(planted, tmp_path, monkeypatch):
    root, truth, *_ = planted
    simulate(tmp_path / "world", START, DAYS, calls_per_day=CALLS, seed=SEED)
    clean = _truth(tmp_path / "world")
    assert _expected_job_types(clean, _days()) == {} and _expected_shares(clean, _days()) == {}
    # the days before the plant are the same world, byte for byte: their marts are reused, the
    # planted day is reconciled from the clean sources
    for folder in (root / "world" / "sources").glob("*_logs/*"):
        if folder.name < PLANTED.isoformat():
            for f in folder.iterdir():
                assert f.read_bytes() == (tmp_path / "world" / "sources" / f.relative_to(root / "world" / "sources")).read_bytes()
    for table in (root / "lake" / "marts").iterdir():
        for part in table.glob("date=*"):
            if part.name < f"date={PLANTED}":
                shutil.copytree(part, tmp_path / "lake" / "marts" / table.name / part.name)
    budgets = _budgets(tmp_path / "budgets.csv", [f"job_type,{JOB},,{_budget_usd(truth)},warn,test"])
    failures, found = _reconcile(monkeypatch, tmp_path / "world" / "sources", tmp_path / "lake",
                                 tmp_path / "warehouse.duckdb", budgets, [PLANTED])
    assert failures == [] and found == []
    assert _job_cost(clean, PLANTED, None, JOB) < _budget_usd(truth)


def test_block_where_configured_keeps_the_day_from_publishing(planted, tmp_path, monkeypatch):
    root, truth, *_ = planted
    budgets = _budgets(tmp_path / "budgets.csv", [f"job_type,{JOB},,{_budget_usd(truth)},block,test",
                                                  "job_type,llm_judge_evaluation,openai,1000,block,never reached",
                                                  "feature,chat,,0.01,block,chat costs more than a cent a day"])
    warehouse = tmp_path / "warehouse.duckdb"  # a new warehouse: the planted day alone would be published to it
    failures, found = _reconcile(monkeypatch, root / "world" / "sources", root / "lake", warehouse, budgets,
                                 [PLANTED], DARKCOMPUTE_ANOMALY_SEVERITY="block")
    assert sorted(e.check_name for _, e in found) == sorted(MINE)
    assert {e.severity.value for _, e in found} == {"ERROR"}
    assert sorted(f.split(": ")[1] for f in failures) == sorted(f"blocking check {name} failed" for name in MINE)
    budget = {k: getattr(v, "value", v) for _, e in found if e.check_name == "job_types_within_budget"
              for k, v in e.metadata.items()}
    assert (budget["budgets"], budget["over_budget"], budget["blocking"]) == ("2", 1, True)
    # the feature budget: chat's users, and the retries and background work its actions triggered
    chat = duckdb.connect().execute(f"""select user_cost_usd + retry_cost_usd + background_cost_usd, user_cost_usd
        from '{root / "lake" / "marts" / "fct_user_action_cost" / f"date={PLANTED}" / "data.parquet"}'
        where feature = 'chat'""").fetchone()
    assert chat[1] > 1  # dollars, not cents: the budget is well over
    feature = {k: getattr(v, "value", v) for _, e in found if e.check_name == "features_within_budget"
               for k, v in e.metadata.items()}
    assert (feature["budgets"], feature["over_budget"], feature["blocking"], feature["name"]) == ("1", 1, True, "chat")
    assert Decimal(feature["day_usd"]) == chat[0] and Decimal(feature["budget_usd"]) == Decimal("0.01")
    # the warehouse and the report wait for the blocking checks: neither was written
    assert not warehouse.exists()
    assert not (tmp_path / "reports").exists()


def test_the_report_lists_the_jumps_largest_first(planted):
    from pipelines.lib import report_sections

    root, truth, *_ = planted
    [section] = [s for s in report_sections.SECTIONS if s.key == "job_type_jumps"]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    [shown] = report_sections.gather(con, START, _days()[-1], sections=[section])
    con.close()
    assert shown.columns == ["usage_date", "provider", "job_type", "day_usd", "median_7d_usd", "jump_ratio"]
    # the planted day's job type at its three providers, by dollars over the median
    top = shown.rows[:3]
    assert [(r[0], r[1], r[2]) for r in top] == [(str(PLANTED), p, JOB) for p in ("anthropic", "aws.bedrock", "openai")]
    for day, provider, job, usd, median, _ in top:
        dark = truth[day][provider]["dark_usd_by_job_type"]
        expected = Decimal(dark[job])
        expected_median = statistics.median(Decimal(truth[d.isoformat()][provider]["dark_usd_by_job_type"].get(job, "0"))
                                            for d in _days()[:7])
        assert abs(usd - expected) <= expected * EPS and abs(median - expected_median) <= expected_median * EPS
    assert len(shown.rows) == report_sections.TOP_ROWS
    html = report_sections.render([shown])
    assert f"<th scope=row>{PLANTED}</th><td>anthropic</td><td>{JOB}</td>" in html
