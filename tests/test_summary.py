"""The summary `darkcompute reconcile` prints answers the question: per provider and day, the
invoice, user, dark compute (total, share of the invoice, and by class and job type with
subtotals) and non-token, with each day's status; then the rejected lines and the checks that
warned or failed, with their counts. Amounts below a cent are never shown as zero, and every line
fits 100 columns."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.cli.summary import amount, print_summary, share

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data_samples"
AS_OF = "2026-12-01T00:00:00Z"
D = Decimal


def test_amounts_below_a_cent_show_enough_digits_to_be_non_zero():
    assert [amount(D(v)) for v in ("0.00029415", "0.0000010", "0.004999", "0.005", "-0.0001", "0.0149")] == [
        "0.00029", "0.0000010", "0.0050", "0.0050", "-0.00010", "0.01"]
    assert [amount(v) for v in (D(0), D("0E-12"), None, D("1234.5"), D("2.345"))] == ["0", "0", "0", "1,234.50", "2.34"]
    assert [share(D(1), D(4)), share(D("0.0001"), D(100)), share(D(0), D(5)), share(D(1), D(0))] == [
        "25.0%", "0.00010%", "0.0%", "n/a"]


def _warehouse(path: Path) -> str:
    """Two days of one provider, the second provisional, with sub-cent retries; a second
    provider with one estimated row; four rejected lines."""
    con = duckdb.connect(str(path))
    con.execute("""
        create table fct_spend_reconciliation as select * from (values
            (date '2026-11-01', 'openai', 'final', 'cost_line', 10.00, 6.00, 2.50, 0.004, 1.00, 0.496),
            (date '2026-11-02', 'openai', 'provisional', 'catalog_price', 3.00, 2.00, 0.50, 0.0003, 0.4997, 0),
            (date '2026-11-01', 'anthropic', 'final', 'cost_line', 1.00, 1.00, 0, 0, 0, 0),
            (date '2026-11-01', 'anthropic', 'estimated', 'cost_line', 0.50, 0.25, 0.25, 0, 0, 0)
        ) v(usage_date, provider, status, allocation_basis, invoice_cost_usd, user_cost_usd, background_cost_usd,
            retry_cost_usd, unlogged_cost_usd, non_token_cost_usd);
        create table fct_dark_compute as select * from (values
            (date '2026-11-01', 'openai', 'background', 'nightly', 2.50),
            (date '2026-11-02', 'openai', 'background', 'nightly', 0.50),
            (date '2026-11-01', 'openai', 'retry', 'retry:chat', 0.004),
            (date '2026-11-02', 'openai', 'retry', 'retry:chat', 0.0003),
            (date '2026-11-01', 'openai', 'unlogged', '__unlogged__', 1.00),
            (date '2026-11-01', 'anthropic', 'background', 'evals', 0.25)
        ) v(usage_date, provider, dark_class, job_type, cost_usd);
        create table rejected_records as select * from (values
            (date '2026-11-01', 'app_logs', 'invalid JSON'), (date '2026-11-01', 'app_logs', 'invalid JSON'),
            (date '2026-11-02', 'app_logs', 'invalid JSON'), (date '2026-11-02', 'openai/costs', 'missing amount'),
            (date '2026-11-03', 'app_logs', 'invalid JSON')
        ) v(delivery_date, source, reason)""")
    con.close()
    return str(path)


def _evaluation(check: str, asset: str, passed: bool, severity=dg.AssetCheckSeverity.WARN, **metadata):
    return dg.AssetCheckEvaluation(asset_key=dg.AssetKey(asset), check_name=check, passed=passed, severity=severity,
                                   metadata=metadata)


def test_summary_of_a_hand_made_warehouse(tmp_path, capsys):
    checks = [
        (date(2026, 11, 1), _evaluation("no_rejected_lines", "rejected_records", False, rejected_lines=2,
                                        by_reason=dg.MetadataValue.md("| app_logs | invalid JSON | 2 |"))),
        (date(2026, 11, 2), _evaluation("no_rejected_lines", "rejected_records", False, rejected_lines=2)),
        (date(2026, 11, 2), _evaluation("identity_holds", "fct_spend_reconciliation", False,
                                        dg.AssetCheckSeverity.ERROR, violating_rows=3, worst_gap_usd="0.01")),
    ]
    warehouse = _warehouse(tmp_path / "w.duckdb")
    assert print_summary(warehouse, date(2026, 11, 1), date(2026, 11, 2), checks=checks) is None
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 100
    rows = {cells[0]: cells[1:] for cells in map(_cells, lines) if cells}
    assert lines[0] == "Dark compute 2026-11-01 to 2026-11-02: 4.75 USD of 14.50 invoiced (32.8%) by 2 provider(s)"
    assert "openai: dark compute 4.50 of the 13.00 invoice (34.6%), USD" in lines
    assert "anthropic: dark compute 0.25 of the 1.50 invoice (16.7%), USD" in lines
    # day, status, invoice, user, background, retry, unlogged, dark, dark %, non-token
    assert rows["2026-11-02"] == ["provisional", "3.00", "2.00", "0.50", "0.00030", "0.50", "1.00", "33.3%", "0"]
    assert rows["total"] == ["13.00", "8.00", "3.00", "0.0043", "1.50", "4.50", "34.6%", "0.50"]
    # anthropic's one day: estimated (one row of two), no total row for a single day
    [anthropic_day] = [c for c in map(_cells, lines) if c[:2] == ["2026-11-01", "estimated"]]
    assert anthropic_day[2:] == ["1.50", "1.25", "0.25", "0", "0", "0.25", "16.7%", "0"]
    # dark by class and job type, days as columns and a total; subtotals from the days
    assert rows["evals"] == ["0.25"]  # anthropic's one day: no total column
    assert rows["background"] == ["2.50", "0.50", "3.00"]  # openai's (its table comes after anthropic's)
    assert rows["retry:chat"] == ["0.0040", "0.00030", "0.0043"]
    assert rows["nightly"] == ["2.50", "0.50", "3.00"]
    assert rows["unlogged"] == ["1.00", "0.50", "1.50"]
    assert rows["dark compute"] == ["3.50", "1.00", "4.50"]
    assert "status: final = invoiced and settled; provisional = can still change; estimated = partly list-priced" in lines
    # the days' deliveries only (not 2026-11-03's)
    assert "rejected lines: 4 (rows of rejected_records, by source and reason)" in lines
    assert rows["app_logs"] == ["invalid JSON", "3"] and rows["openai/costs"] == ["missing amount", "1"]
    at = lines.index("asset checks that warned or failed:")
    assert lines[at + 1:] == [
        "  no_rejected_lines on rejected_records warned on 2 day(s), rejected_lines=4 in all: 2026-11-01 (2);",
        "    2026-11-02 (2)",
        "  identity_holds on fct_spend_reconciliation failed on 1 day(s), violating_rows=3 in all:",
        "    2026-11-02 (3)",  # on the line above, it would be 102 columns
    ]


def test_checks_none_and_not_given(tmp_path, capsys):
    warehouse = _warehouse(tmp_path / "w.duckdb")
    print_summary(warehouse, date(2026, 11, 1), date(2026, 11, 1), checks=[
        (date(2026, 11, 1), _evaluation("no_rejected_lines", "rejected_records", True, rejected_lines=0))])
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "asset checks: none warned or failed" and "rejected lines: 2 (rows of rejected_records, " \
        "by source and reason)" in out
    print_summary(warehouse, date(2026, 11, 1), date(2026, 11, 1))
    assert not any(line.startswith("asset checks") for line in capsys.readouterr().out.splitlines())


def _cells(line: str) -> list[str]:
    """A table line's cells (columns are at least two spaces apart; a job type is indented)."""
    return [c for c in re.split(r"\s{2,}", line.strip()) if c] if "  " in line.strip() else []


# ---------------------------------------------------------------------------------- the samples
@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> tuple[list[str], str]:
    """`darkcompute reconcile --all --quiet` on the committed samples, piped: its summary's lines
    and the warehouse."""
    work = tmp_path_factory.mktemp("samples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DARKCOMPUTE_") and k != "COLUMNS"}
    env.update(DAGSTER_HOME="", DARKCOMPUTE_LANDING_DIR=str(work / "landing"))
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "reconcile", "--all", "--quiet", "--as-of", AS_OF,
                          "--source", str(SAMPLES / "sources"), "--lake", str(work / "lake"),
                          "--warehouse", str(work / "w.duckdb")],
                         env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines(), str(work / "w.duckdb")


@pytest.mark.slow
def test_the_samples_summary_states_the_answer(samples):
    lines, warehouse = samples
    assert max(map(len, lines)) <= 100
    assert "Dark compute 2026-11-01 to 2026-11-04: 7.77 USD of 25.65 invoiced (30.3%) by 3 provider(s)" in lines
    titles = [line for line in lines if ": dark compute " in line and "invoice" in line]
    assert titles == ["anthropic: dark compute 3.77 of the 10.80 invoice (34.9%), USD",
                      "aws.bedrock: dark compute 2.34 of the 6.81 invoice (34.4%), USD",
                      "openai: dark compute 1.67 of the 8.04 invoice (20.7%), USD"]
    tables = _day_rows(lines)
    assert {p: [(d, r[0]) for d, r in rows.items() if d != "total"] for p, rows in tables.items()} == {
        "anthropic": [("2026-11-01", "estimated"), ("2026-11-02", "estimated"), ("2026-11-03", "estimated"),
                      ("2026-11-04", "provisional")],
        "aws.bedrock": [("2026-11-01", "final"), ("2026-11-02", "final"), ("2026-11-03", "final"),
                        ("2026-11-04", "provisional")],
        "openai": [("2026-11-01", "final"), ("2026-11-02", "final"), ("2026-11-03", "final"),
                   ("2026-11-04", "provisional")],
    }
    # status, invoice, user, background, retry, unlogged, dark, dark %, non-token
    assert tables["openai"]["2026-11-02"] == ["final", "2.21", "1.74", "0.33", "0.06", "0.03", "0.42", "19.0%", "0.05"]
    assert tables["openai"]["total"] == ["8.04", "6.15", "1.20", "0.23", "0.24", "1.67", "20.7%", "0.22"]
    assert tables["anthropic"]["2026-11-04"] == ["provisional", "2.77", "1.85", "0.69", "0.12", "0.11", "0.92",
                                                 "33.2%", "0"]
    # below a cent: OpenAI's search_answer retries of 2026-11-04 cost $0.000001; nothing non-zero shows 0.00
    assert "  retry:search_answer               0.0023      0.0036        0.01   0.0000010     0.01" in lines
    assert not any(re.search(r"(?<![\d.])0\.00(?![\d])", line) for line in lines)
    assert "rejected lines: 18 (rows of rejected_records, by source and reason)" in lines
    assert [c for c in map(_cells, lines) if c and c[0] in ("app_logs", "worker_logs")] == [
        ["app_logs", "invalid JSON (truncated or malformed line)", "9"],
        ["worker_logs", "invalid JSON (truncated or malformed line)", "9"]]
    at = lines.index("asset checks that warned or failed:")
    assert lines[at + 1:] == [
        "  no_rejected_lines on rejected_records warned on 4 day(s), rejected_lines=18 in all:",
        "    2026-11-01 (4); 2026-11-02 (4); 2026-11-03 (5); 2026-11-04 (5)"]


@pytest.mark.slow
def test_the_samples_summary_is_the_warehouse_and_the_truth(samples):
    """The printed figures are the warehouse's, and on a final day the simulator's planted invoice."""
    lines, warehouse = samples
    tables = _day_rows(lines)
    con = duckdb.connect(warehouse, read_only=True)
    rows = con.execute("""
        select provider, usage_date::varchar, sum(invoice_cost_usd), sum(user_cost_usd),
               sum(background_cost_usd + retry_cost_usd + unlogged_cost_usd), sum(non_token_cost_usd)
        from fct_spend_reconciliation group by all order by all""").fetchall()
    (rejected,) = con.execute("select count(*) from rejected_records").fetchone()
    con.close()
    assert len(rows) == 12 and rejected == 18
    for provider, day, invoice, user, dark, non_token in rows:
        printed = tables[provider][day]
        assert [printed[1], printed[2], printed[6], printed[8]] == [amount(invoice), amount(user), amount(dark),
                                                                   amount(non_token)]
        assert printed[7] == share(dark, invoice)
    truth = json.loads((SAMPLES / "ground_truth.json").read_text(), parse_float=Decimal)["days"]
    for provider in ("openai", "anthropic", "aws.bedrock"):
        for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
            assert tables[provider][day][1] == amount(D(truth[day][provider]["invoice_usd"]))


def _day_rows(lines: list[str]) -> dict[str, dict[str, list[str]]]:
    """provider -> day (or 'total') -> the days table's other cells."""
    out: dict[str, dict[str, list[str]]] = {}
    provider = None
    for line in lines:
        title = re.match(r"^(\S+): dark compute \S+ of the", line)
        if title:
            provider = title.group(1)
            out[provider] = {}
            continue
        if line.startswith(("invoice priced by", " ")) or "by class and job type" in line:
            provider = None if "by class and job type" in line else provider
            continue
        cells = _cells(line)
        if provider and cells and re.fullmatch(r"\d{4}-\d\d-\d\d|total", cells[0]) and cells[0] != "class / job type":
            out[provider][cells[0]] = cells[1:]
    return out
