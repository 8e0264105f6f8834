"""fct_retry_amplification: the requests the provider counted against the calls the logs recorded,
per (usage_date, provider, billing_account, model), and the invoice dollars of the requests no log
saw; the `retry_amplification_within_factor` check and the report's section.

By hand (the day of tests/test_sql_models.py): OpenAI counted 5 requests on proj_a, gpt-4o-mini,
invoiced $0.00252 ($0.00000012 an input token, $0.00000048 an output token). The logs hold 4 calls:
a chat call (4,000 in, 2,000 of them cached, 1,000 out), its retry (attempt 2: 1,000 in, 500 out),
a chat call logged without usage, and an ingest job's call (3,000 in, 1,000 out). Billed beyond
the logged usage: 2,000 uncached input and 500 output = $0.00048 unlogged, which covers the call
logged without usage and the 1 unseen request. The 3 calls with usage cost $0.00204, $0.00068
each: the call without usage is estimated at $0.00068, more than the unlogged $0.00048, so
nothing is left for the unseen request ($0, never negative). amplification 5 / 4 = 1.25, per
first attempt 5 / 3 = 1.666667. Without the usage export the provider counted nothing: NULL.

Two simulated worlds of one day (1,000 calls, seed 7, three providers), the same but for the plant:
`simulate(sdk_retry_account="proj_jobs")` sends 2 hidden, billed attempts before every attempt the
logs record on OpenAI's `proj_jobs` (the SDK's default max_retries, each a client timeout the
provider answered in full). The expected numbers are the simulator's own truth per cell
(`ground_truth.json`, `retry_cells`: billed calls counted and priced by the simulator, never read
back from the files it wrote).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from pipelines.defs.reconcile import checks
from pipelines.lib import report_sections
from pipelines.lib.lake import Lake
from pipelines.simulate import simulate

from .fixtures import DAY as HAND_DAY
from .fixtures import build_day, write_day
from .test_sql_models import APP, COSTS, MODEL, RECONCILED_AT, USAGE, WORKER

pytestmark = pytest.mark.slow  # simulated worlds reconciled by the CLI

D = Decimal
DAY = date(2026, 11, 1)
AS_OF = "2026-12-01T00:00:00+00:00"
ACCOUNT = "proj_jobs"
FACTOR = D("1.5")  # DARKCOMPUTE_RETRY_AMPLIFICATION_WARN's default
COUNTS = ("provider_requests", "logged_calls", "logged_retries", "unseen_requests")


def _reconciled(root, **plant):
    simulate(root / "world", DAY, 1, calls_per_day=1000, seed=7, **plant)
    assert main(["reconcile", "--date", DAY.isoformat(), "--quiet", "--as-of", AS_OF,
                 "--source", str(root / "world" / "sources"), "--lake", str(root / "lake"),
                 "--warehouse", str(root / "warehouse.duckdb")]) == 0
    truth = json.loads((root / "world" / "ground_truth.json").read_text())["days"][DAY.isoformat()]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    return root, truth, con


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root, truth, con = _reconciled(tmp_path_factory.mktemp("sdk_retries"), sdk_retry_account=ACCOUNT)
    yield root, truth, con
    con.close()


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root, truth, con = _reconciled(tmp_path_factory.mktemp("clean"))
    yield root, truth, con
    con.close()


def test_by_hand_the_estimate_of_a_call_logged_without_usage_comes_off_the_unlogged_dollars(tmp_path):
    lake = write_day(tmp_path / "lake", HAND_DAY, usage_pages=[USAGE], cost_pages=[COSTS], app_lines=APP,
                     worker_lines=WORKER)
    [row] = build_day(lake, HAND_DAY, RECONCILED_AT).marts["fct_retry_amplification"].to_pylist()
    assert {k: row[k] for k in ("provider", "billing_account", "model", "provider_requests", "logged_calls",
                                "logged_first_attempts", "logged_retries", "metadata_calls", "usage_unknown_calls",
                                "unseen_requests", "amplification_ratio", "requests_per_first_attempt_ratio",
                                "invoice_cost_usd", "retry_cost_usd", "unlogged_cost_usd", "unseen_cost_usd",
                                "unseen_cost_share", "status")} == {
        "provider": "openai", "billing_account": "proj_a", "model": MODEL, "provider_requests": 5,
        "logged_calls": 4, "logged_first_attempts": 3, "logged_retries": 1, "metadata_calls": 0,
        "usage_unknown_calls": 1, "unseen_requests": 1, "amplification_ratio": D("1.25"),
        "requests_per_first_attempt_ratio": D("1.666667"), "invoice_cost_usd": D("0.00252"),
        "retry_cost_usd": D("0.00036"), "unlogged_cost_usd": D("0.00048"), "unseen_cost_usd": D(0),
        "unseen_cost_share": D(0), "status": "final"}


def test_without_the_usage_export_the_requests_are_null_not_zero(tmp_path):
    lake = write_day(tmp_path / "lake", HAND_DAY, cost_pages=[COSTS], app_lines=APP, worker_lines=WORKER)
    [row] = build_day(lake, HAND_DAY, RECONCILED_AT).marts["fct_retry_amplification"].to_pylist()
    assert (row["logged_calls"], row["provider_requests"], row["unseen_requests"], row["amplification_ratio"],
            row["requests_per_first_attempt_ratio"]) == (4, None, None, None, None)


def _rows(con) -> dict[tuple[str, str, str], dict]:
    result = con.execute("select * from fct_retry_amplification order by all")
    names = [d[0] for d in result.description]
    return {(r["provider"], r["billing_account"], r["model"]): r
            for r in (dict(zip(names, row, strict=True)) for row in result.fetchall())}


def _path(root):
    return Lake(root / "lake").partition_file("marts", "fct_retry_amplification", DAY)


def test_the_planted_account_shows_the_planted_amplification_and_unseen_cost(planted):
    _, truth, con = planted
    rows = _rows(con)
    cells = [c for c in truth["openai"]["retry_cells"] if c["billing_account"] == ACCOUNT]
    assert len(cells) == 4  # gpt-4.1-mini, gpt-4o, gpt-4o-mini, text-embedding-3-small
    for cell in cells:
        row = rows[("openai", ACCOUNT, cell["model"])]
        # 2 hidden attempts before each logged one (and before each whose line is corrupted)
        assert cell["sdk_retry_requests"] >= 2 * cell["logged_calls"]
        assert cell["unseen_requests"] == cell["sdk_retry_requests"] + (
            cell["provider_requests"] - cell["logged_calls"] - cell["sdk_retry_requests"])
        assert tuple(row[c] for c in COUNTS) == tuple(cell[c] for c in COUNTS), cell["model"]
        assert row["amplification_ratio"] == round(D(cell["provider_requests"]) / cell["logged_calls"], 6)
        assert row["amplification_ratio"] >= 3
        assert row["requests_per_first_attempt_ratio"] == round(
            D(cell["provider_requests"]) / (cell["logged_calls"] - cell["logged_retries"]), 6)
        # no call of the account is logged without usage: what no log saw is its unlogged dollars, exactly
        assert row["usage_unknown_calls"] == 0
        assert row["unseen_cost_usd"] == row["unlogged_cost_usd"] == D(cell["unseen_usd"])
        assert row["unseen_cost_usd"] > 0
    totals = {c: sum(c_[c] for c_ in cells) for c in ("provider_requests", "logged_calls", "unseen_requests")}
    assert totals == {"provider_requests": 623, "logged_calls": 207, "unseen_requests": 416}
    assert sum(D(c["unseen_usd"]) for c in cells) == D("0.31426062")


def test_every_cell_of_the_counting_providers_matches_the_truth(planted):
    """OpenAI and Bedrock count requests: every cell's counts are the truth's; Anthropic's usage
    report counts none: NULL, never 0. The unseen dollars are exact wherever no call was logged
    without usage, and an estimate below the unlogged dollars where one was."""
    _, truth, con = planted
    rows = _rows(con)
    estimated = 0
    for provider in ("openai", "anthropic", "aws.bedrock"):
        cells = truth[provider]["retry_cells"]
        assert {k[2] for k in rows if k[0] == provider} == {c["model"] for c in cells}
        for cell in cells:
            row = rows[(provider, cell["billing_account"], cell["model"])]
            assert (row["logged_calls"], row["logged_retries"], row["usage_unknown_calls"]) == (
                cell["logged_calls"], cell["logged_retries"], cell["usage_unknown_calls"])
            if provider == "anthropic":
                assert (row["provider_requests"], row["unseen_requests"], row["amplification_ratio"]) == (
                    None, None, None)
            else:
                assert tuple(row[c] for c in COUNTS) == tuple(cell[c] for c in COUNTS)
            if cell["usage_unknown_calls"] == 0:
                assert row["unseen_cost_usd"] == D(cell["unseen_usd"]), (provider, cell)
            else:
                estimated += 1
                assert 0 <= row["unseen_cost_usd"] <= row["unlogged_cost_usd"]
    assert estimated == 4  # one call logged without usage per provider (two Anthropic app cells)
    # a service that logs nothing has no ratio: its requests are unseen, not amplified
    digest = rows[("openai", "proj_digest", "gpt-4o-mini-2024-07-18")]
    assert (digest["logged_calls"], digest["unseen_requests"], digest["amplification_ratio"]) == (0, 23, None)
    batch = next(r for k, r in rows.items() if "batch-role" in k[1])
    assert (batch["logged_calls"], batch["metadata_calls"], batch["amplification_ratio"]) == (1, 1, None)


def test_the_check_warns_naming_the_planted_account_and_its_numbers(planted):
    root, truth, con = planted
    cells = [c for c in truth["openai"]["retry_cells"] if c["billing_account"] == ACCOUNT]
    outcome = checks.retry_amplification(duckdb.connect(), _path(root), FACTOR)
    assert not outcome.passed
    meta = outcome.metadata
    assert (meta["accounts"], meta["cells_over_factor"]) == ("openai proj_jobs", len(cells))
    assert meta["unseen_requests"] == sum(c["unseen_requests"] for c in cells) == 416
    assert D(meta["unseen_cost_usd"]) == sum(D(c["unseen_usd"]) for c in cells)
    worst = max(D(c["provider_requests"]) / c["logged_calls"] for c in cells)
    assert meta["worst_amplification_ratio"] == float(round(worst, 6))
    for cell in cells:
        assert f"| openai | {ACCOUNT} | {cell['model']} | {cell['provider_requests']} | {cell['logged_calls']} |" in (
            meta["cells"])
    assert "proj_jobs" in meta["summary"]
    # the plant makes 3 requests per logged call: a factor above that is not exceeded
    assert checks.retry_amplification(duckdb.connect(), _path(root), D("3.5")).passed


def test_a_clean_world_passes_and_no_cell_exceeds_the_factor(clean):
    root, truth, con = clean
    outcome = checks.retry_amplification(duckdb.connect(), _path(root), FACTOR)
    assert outcome.passed and outcome.metadata["cells_over_factor"] == 0
    worst, = con.execute("select max(amplification_ratio) from fct_retry_amplification").fetchone()
    assert 1 < worst < FACTOR
    # the provider's requests and the logged calls add up to the truth's per provider (the
    # truth's logged calls are log lines: the Bedrock calls attributed by metadata alone are not)
    for provider in ("openai", "aws.bedrock"):
        got = con.execute("select sum(provider_requests), sum(logged_calls - metadata_calls) "
                          "from fct_retry_amplification where provider = $p", {"p": provider}).fetchone()
        assert got == (truth[provider]["provider_requests"], truth[provider]["logged_calls"]), provider


def test_the_plant_adds_no_log_line(planted, clean):
    """SDK-internal retries are invisible to the logs: both worlds wrote the same log files."""
    for folder in ("app_logs", "worker_logs"):
        files = sorted(p.relative_to(planted[0] / "world") for p in (planted[0] / "world" / "sources" / folder).rglob("*")
                       if p.is_file())
        assert files
        for f in files:
            assert (planted[0] / "world" / f).read_bytes() == (clean[0] / "world" / f).read_bytes(), f


def test_the_report_section_shows_the_planted_cells_first(planted):
    root, truth, con = planted
    cells = sorted((c for c in truth["openai"]["retry_cells"] if c["billing_account"] == ACCOUNT),
                   key=lambda c: (-round(D(c["provider_requests"]) / c["logged_calls"], 2), -D(c["unseen_usd"])))
    [section] = [s for s in report_sections.SECTIONS if s.key == "retry_amplification"]
    [shown] = report_sections.gather(con, DAY, DAY, [section])
    assert shown.columns == ["provider", "billing_account", "model", "provider_requests", "logged_calls",
                             "logged_retries", "unseen_requests", "amplification_ratio", "unseen_cost_usd",
                             "unseen_cost_share"]
    invoices = dict(con.execute("select model, sum(invoice_cost_usd) from fct_spend_reconciliation "
                                "where billing_account = $a group by all", {"a": ACCOUNT}).fetchall())
    assert [r[:9] for r in shown.rows[:4]] == [
        ("openai", ACCOUNT, c["model"], c["provider_requests"], c["logged_calls"], c["logged_retries"],
         c["unseen_requests"], round(D(c["provider_requests"]) / c["logged_calls"], 2), D(c["unseen_usd"]))
        for c in cells]
    assert [r[9] for r in shown.rows[:4]] == [round(D(c["unseen_usd"]) / invoices[c["model"]], 4) for c in cells]
    # every other cell is below 1.5 requests per logged call, or has no ratio
    assert all(r[7] is None or r[7] < FACTOR for r in shown.rows[4:])
    html = report_sections.render([shown])
    first = cells[0]
    assert (f"<tr><th scope=row>openai</th><td>{ACCOUNT}</td><td>{first['model']}</td>"
            f"<td>{first['provider_requests']}</td><td>{first['logged_calls']}</td>") in html
    assert "<td>3.01</td>" in html and "<td>66.8%</td>" in html
