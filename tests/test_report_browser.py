"""The report page as a person sees it: opened from disk in headless Chromium (Debian's, driven by
Playwright) with every network request refused, its four charts drawn, and the numbers it shows
equal to the marts' sums. Saves a screenshot to test-artifacts/report.png."""

from __future__ import annotations

import os
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.lib.report import percent, usd, write_report

from .report_world import ARTIFACTS, query, sample_warehouse

pytestmark = pytest.mark.slow  # a reconciled world and a browser

CHROMIUM = Path("/usr/bin/chromium")
CHARTS = ("chart-status", "chart-daily", "chart-job-types", "chart-residuals")
D = Decimal


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium; without it the test fails on CI (which installs it: .ci/run) and is skipped elsewhere."""
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM} (Debian's `chromium` package; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def test_the_page_draws_its_charts_and_shows_the_marts_numbers_offline(chromium, tmp_path_factory):
    warehouse = sample_warehouse(tmp_path_factory)
    written = write_report(warehouse, date(2026, 11, 4), tmp_path_factory.mktemp("browser") / "report.html")
    ((invoice, dark, user),) = query(warehouse, "select sum(invoice_cost_usd), sum(background_cost_usd + retry_cost_usd "
                                                "+ unlogged_cost_usd), sum(user_cost_usd) from fct_spend_reconciliation")
    assert (invoice, dark) == (D("25.646077630000"), D("7.771851980000"))
    top_job = query(warehouse, "select job_type, sum(cost_usd) from fct_dark_compute group by job_type "
                               "order by 2 desc limit 1")[0]
    assert top_job == ("llm_judge_evaluation", D("2.011842220000"))

    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    requested, errors = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def refuse(route):  # the page's own file is the only thing it may load
        if route.request.url == written.html_path.as_uri():
            return route.continue_()
        requested.append(route.request.url)
        return route.abort()

    page.route("**/*", refuse)
    page.on("request", lambda request: None if request.url.startswith("file:") else requested.append(request.url))
    page.goto(written.html_path.as_uri())
    page.wait_for_function(
        "ids => ids.every(id => document.getElementById(id).dataset.rendered)", arg=list(CHARTS), timeout=60_000)
    try:
        assert {c: page.get_attribute(f"#{c}", "data-rendered") for c in CHARTS} == dict.fromkeys(CHARTS, "true")
        assert errors == [] and requested == []

        # the headline, as shown
        assert page.inner_text("#invoice") == usd(invoice) == "$25.65"
        assert page.inner_text("#dark") == usd(dark) == "$7.77"
        assert page.inner_text("#dark-share") == percent(dark / invoice) == "30.3%"
        assert page.inner_text("#user") == usd(user)
        assert page.locator("#providers tbody th").all_inner_texts() == [
            "anthropic", "aws.bedrock", "openai", "all providers"]
        assert page.locator("#providers tbody tr.total td.dark").all_inner_texts() == ["$7.77", "30.3%"]
        assert page.locator("#provisional-days li").all_inner_texts() == [
            "estimated 2026-11-01 · anthropic", "estimated 2026-11-02 · anthropic", "estimated 2026-11-03 · anthropic",
            "provisional 2026-11-04 · anthropic", "provisional 2026-11-04 · aws.bedrock",
            "provisional 2026-11-04 · openai"]

        # the charts were drawn as SVG, with their marks and labels
        for chart in CHARTS:
            assert page.locator(f"#{chart} svg path").count() > 0, chart
        daily = page.text_content("#chart-daily svg")
        assert all(label in daily for label in ("Nov 1", "Nov 4", "invoice", "attributed", "dark", "provisional",
                                                "estimated", "anthropic", "aws.bedrock", "openai"))
        jobs = page.text_content("#chart-job-types svg")
        assert top_job[0] in jobs and usd(top_job[1]) in jobs  # "$2.01" at the end of its bar
        # three providers x four days x (5 + 3 + 3) class segments in the daily chart
        assert page.locator('#chart-daily svg path[aria-roledescription="bar"]').count() == 3 * 4 * 11
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        shutil.copy(written.png_path, ARTIFACTS / "report-vl-convert.png")
        page.close()
