"""The report builder (`pipelines/lib/report.py`), `darkcompute report` and the `dark_compute_report`
asset, on a warehouse reconciled from the committed samples: the numbers the page states are the
marts' sums (computed here by SQL, and written down), the page loads nothing from elsewhere, and
the PNG copy is written beside it. The page as a browser shows it: test_report_browser.py."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal

import dagster as dg
import pytest

from pipelines.cli import main
from pipelines.defs.reconcile.report import dark_compute_report
from pipelines.defs.resources import Warehouse
from pipelines.lib.report import NoReconciledDays, _bundle, _script_json, percent, usd, write_report

from .report_world import query, sample_warehouse

pytestmark = pytest.mark.slow  # reconciles the samples with the CLI (once per session)

D = Decimal
LAST = date(2026, 11, 4)
# the samples' totals over their four days (2026-11-01 to 2026-11-04): days, invoice, dark compute
INVOICE, DARK = D("25.646077630000"), D("7.771851980000")
BY_PROVIDER = {"anthropic": (4, D("10.800702950000"), D("3.765675100000")),
               "aws.bedrock": (4, D("6.808790880000"), D("2.339867090000")),
               "openai": (4, D("8.036583800000"), D("1.666309790000"))}
# Anthropic's Priority Tier usage is priced from the catalog (estimated); no provider's cost
# export of the last day has come (provisional)
NOT_FINAL = [("2026-11-01", "anthropic", "estimated"), ("2026-11-02", "anthropic", "estimated"),
             ("2026-11-03", "anthropic", "estimated"), ("2026-11-04", "anthropic", "provisional"),
             ("2026-11-04", "aws.bedrock", "provisional"), ("2026-11-04", "openai", "provisional")]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return sample_warehouse(tmp_path_factory)


@pytest.fixture(scope="module")
def written(warehouse, tmp_path_factory):
    return write_report(warehouse, LAST, tmp_path_factory.mktemp("report") / "report.html")


def test_the_headline_is_the_marts_sums(warehouse, written):
    # each total computed independently: the invoice from fct_spend_reconciliation, dark compute
    # from fct_dark_compute (its rows are the cells' background + retry + unlogged dollars)
    ((invoice, dark_classes),) = query(warehouse, "select sum(invoice_cost_usd), sum(background_cost_usd "
                                                  "+ retry_cost_usd + unlogged_cost_usd) from fct_spend_reconciliation")
    ((dark,),) = query(warehouse, "select sum(cost_usd) from fct_dark_compute")
    assert (written.invoice, written.dark) == (invoice, dark) == (INVOICE, DARK)
    assert dark_classes == dark
    assert written.dark_share == DARK / INVOICE
    assert (written.first_reconciled, written.last, written.reconciled_days) == (date(2026, 11, 1), LAST, 4)
    by_provider = query(warehouse, "select provider, count(distinct usage_date), sum(invoice_cost_usd), "
                                   "sum(background_cost_usd + retry_cost_usd + unlogged_cost_usd) "
                                   "from fct_spend_reconciliation group by provider order by provider")
    assert [(p.provider, p.days, p.invoice, p.dark) for p in written.providers] == by_provider
    assert {p: rest for p, *rest in by_provider} == {p: list(v) for p, v in BY_PROVIDER.items()}
    for line in written.providers:  # the five classes add up to the invoice, per provider
        assert line.user + line.background + line.retry + line.unlogged + line.non_token == line.invoice


def test_the_page_states_the_numbers_in_text(written):
    text = written.html_path.read_text()
    assert f'<div class=value id=invoice>{usd(INVOICE)}</div>' in text
    assert f'<div class=value id=dark>{usd(DARK)}</div>' in text
    assert f'<div class=value id=dark-share>{percent(DARK / INVOICE)}</div>' in text
    assert (usd(INVOICE), usd(DARK), percent(DARK / INVOICE)) == ("$25.65", "$7.77", "30.3%")
    assert "6 provider-day(s) are not final" in text
    assert "<li><span class='badge provisional'>provisional</span> 2026-11-04 · aws.bedrock</li>" in text


def test_the_days_not_final_are_listed(warehouse, written):
    expected = query(warehouse, "select strftime(usage_date, '%Y-%m-%d'), provider, "
                                "case when bool_or(status = 'provisional') then 'provisional' else 'estimated' end "
                                "from fct_spend_reconciliation group by usage_date, provider "
                                "having bool_or(status <> 'final') order by 1, 2")
    assert written.not_final == expected == NOT_FINAL


def test_the_page_fetches_nothing(written):
    text = written.html_path.read_text()
    assert text.count(_bundle()) == 1  # Vega, Vega-Lite and vega-embed, inline
    # no element that loads a resource: every script is inline, no stylesheet link, image or frame
    # (outside the bundle's code, whose strings hold markup it builds)
    text = text.replace(_bundle(), "")
    assert not re.search(r"<(script|img|iframe|link|source|embed|object)\b[^>]*\b(src|href|data)=", text, re.I)
    assert "default-src 'none'" in text  # and the browser is told to refuse any fetch
    assert text.count("<script") == 6  # 4 chart specs (JSON), the bundle, the call that draws them


def test_chart_data_are_coordinates_not_money(written):
    """The specs hold the numbers as doubles (JSON numbers) for plotting; no decimal was serialized
    as a string, and the dark compute the job-type chart draws adds up to the headline."""
    datasets = {}
    for spec in written.charts.values():
        datasets.update(spec.get("datasets", {}))
    rows = [row for values in datasets.values() for row in values]
    assert rows and not any(isinstance(v, str) and re.fullmatch(r"-?\d+\.\d{12}", v) for r in rows for v in r.values())
    job_rows = next(v for v in datasets.values() if v and "job_rank" in v[0])
    assert sum(D(str(r["usd_plot"])) for r in job_rows) == pytest.approx(DARK, abs=D("1e-9"))


def test_the_png_copy_is_beside_the_page(written):
    assert written.png_path == written.html_path.with_suffix(".png")
    data = written.png_path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 1200 and height > 1200, (width, height)


def test_money_is_shown_to_the_cent_or_to_two_significant_digits():
    assert [usd(D(v)) for v in ("0", "0.004217", "0.0000054", "0.01", "1234.5", "17.748078620000")] == [
        "$0.00", "$0.0042", "$0.0000054", "$0.01", "$1,234.50", "$17.75"]
    assert (percent(D("0.2495065")), percent(None)) == ("25.0%", "n/a")


def test_data_cannot_end_a_script_element():
    assert _script_json({"job_type": "</script><script>alert(1)</script>"}) == (
        '{"job_type":"\\u003c/script>\\u003cscript>alert(1)\\u003c/script>"}')
    assert json.loads(_script_json({"a": "</script>"})) == {"a": "</script>"}


def test_a_period_with_no_reconciled_day_is_an_error(warehouse, tmp_path):
    with pytest.raises(NoReconciledDays, match="no reconciled days between 2026-09-02 and 2026-10-01"):
        write_report(warehouse, date(2026, 10, 1), tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_the_command_writes_the_latest_day_and_prints_where(warehouse, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DARKCOMPUTE_REPORT_DIR", str(tmp_path / "reports"))
    assert main(["report", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    page = tmp_path / "reports" / "dark-compute-2026-11-04.html"
    assert out == ["2026-11-01 to 2026-11-04: invoice $25.65, dark compute $7.77 (30.3% of the invoice)",
                   "not final: 2026-11-01 anthropic (estimated), 2026-11-02 anthropic (estimated), 2026-11-03 anthropic",
                   "  (estimated), 2026-11-04 anthropic (provisional), 2026-11-04 aws.bedrock (provisional), 2026-11-04",
                   "  openai (provisional)",
                   f"PNG copy: {page.with_suffix('.png')}", f"report: {page}"]
    assert max(map(len, out[:-2])) <= 100  # the paths may be longer
    assert page.exists() and page.with_suffix(".png").exists()
    assert main(["report", "--warehouse", str(warehouse), "--date", "2026-11-02", "--days", "1",
                 "--out", str(tmp_path / "one.html")]) == 0
    ((invoice,),) = query(warehouse, "select sum(invoice_cost_usd) from fct_spend_reconciliation "
                                     "where usage_date = '2026-11-02'")
    assert f"<div class=value id=invoice>{usd(invoice)}</div>" in (tmp_path / "one.html").read_text()
    assert capsys.readouterr().out.startswith(f"2026-11-02 to 2026-11-02: invoice {usd(invoice)},")


@pytest.mark.parametrize(("argv", "message"), [
    (["--warehouse", "{tmp}/none.duckdb"], "darkcompute report: no warehouse at {tmp}/none.duckdb: "
                                          "run `darkcompute reconcile` first"),
    (["--date", "2026-10-01"], "darkcompute report: no reconciled days between 2026-09-02 and 2026-10-01 "
                               "in the warehouse"),
])
def test_the_command_says_when_there_is_nothing_to_report(warehouse, tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "--warehouse" not in argv:
        argv += ["--warehouse", str(warehouse)]
    assert main(["report", *argv, "--out", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err.strip() == message.format(tmp=tmp_path)
    assert not (tmp_path / "r.html").exists()


def test_the_asset_writes_the_report_and_links_it(warehouse, tmp_path):
    resources = {"warehouse": Warehouse(path=str(warehouse), report_dir=str(tmp_path / "nightly"))}
    result = dg.materialize([dark_compute_report], partition_key="2026-11-04", resources=resources,
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    (materialization,) = result.asset_materializations_for_node("dark_compute_report")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    page = tmp_path / "nightly" / "dark-compute-2026-11-04.html"
    assert metadata["path"] == str(page) and metadata["url"] == page.as_uri()
    assert metadata["png"] == str(page.with_suffix(".png"))
    assert (metadata["invoice_usd"], metadata["dark_usd"], metadata["dark_share"]) == (str(INVOICE), str(DARK), "30.3%")
    assert page.exists() and page.with_suffix(".png").exists()


def test_the_nightly_run_wrote_the_report_of_its_last_day(warehouse):
    # reconcile --all ran the asset for the last day only (the report covers the 30 days up to it)
    nightly = warehouse.parent / "nightly"
    assert sorted(p.name for p in nightly.iterdir()) == ["dark-compute-2026-11-04.html", "dark-compute-2026-11-04.png"]
    assert "<div class=value id=invoice>$25.65</div>" in (nightly / "dark-compute-2026-11-04.html").read_text()


def test_the_report_folder_defaults_to_reports_beside_the_warehouse():
    assert Warehouse(path="data/w.duckdb").report_folder() == "data/reports"
    assert Warehouse(path="warehouse.duckdb").report_folder() == "reports"
    assert Warehouse(path="w.duckdb", report_dir="/srv/reports").report_folder() == "/srv/reports"
