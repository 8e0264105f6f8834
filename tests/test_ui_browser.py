"""The Dagster UI as a user sees it: one sample day is reconciled into a fresh DAGSTER_HOME, the
webserver is started the way `make ui` starts it (the Makefile's own command, on a free loopback
port), and headless Chromium (Debian's, driven by Playwright) opens the asset graph. The test
dismisses a first-visit dialog when one appears, expands the groups, and asserts on what the pages
show: the lineage from each bronze source through the models to fct_dark_compute, the materialized
partition's metadata, a mart's columns, the schedule's state; and that the server logged no
warning but Dagster's note about the repo's dagster.yaml template. Screenshots go to
test-artifacts/ui/."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.dbt import manifest

pytestmark = pytest.mark.slow  # a dbt build, a webserver and a browser: make test-fast leaves it out

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
DAY = "2026-11-02"
AS_OF = "2026-11-05T04:00:00Z"
START_TIMEOUT = 240  # seconds for the webserver to serve the code location
# What the sample day's marts hold (data_samples/: OpenAI, Anthropic and Bedrock, reconciled as of
# AS_OF): dark compute over the three providers, and the invoice (Anthropic's Priority Tier rows
# are estimated)
DARK_COST_USD = "1.816413530000"
DARK_ROWS = 53
INVOICE_COST_USD = "5.825163950000"
STATUSES = "estimated, final"
DARK_COLUMNS = ["usage_date", "provider", "billing_account", "model", "price_tier", "allocation_basis", "dark_class",
                "job_type", "calls", "uncached_input_tokens", "cache_read_tokens", "cache_write_tokens",
                "output_tokens", "cost_usd", "share_of_invoice"]


def chromium_or_skip() -> None:
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing (Debian's chromium package; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def make_ui_command(port: int) -> tuple[dict[str, str], list[str]]:
    """The Makefile's `ui` recipe for `UI_PORT=port`: its leading VAR=value assignments and argv."""
    text = (ROOT / "Makefile").read_text()
    [recipe] = re.findall(r"^ui:.*\n\t(.+)$", text, flags=re.M)
    words = shlex.split(recipe.replace("$(VENV)", ".venv").replace("$(UI_PORT)", str(port)))
    env = {}
    while "=" in words[0] and not words[0].startswith(("-", ".", "/")):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert "$(" not in " ".join(words), recipe
    return env, words


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """Stop the server and every process it started (its own process group): SIGINT, as Ctrl-C
    would, then SIGKILL after 30 s; what is left of the group (a code server, the daemon) 15 s
    after `dagster dev` ended is killed."""
    for sig, wait in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The UI on a free loopback port, over a DAGSTER_HOME holding the sample day's runs."""
    chromium_or_skip()
    tmp = tmp_path_factory.mktemp("ui")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")  # as the Makefile does
    env = {k: v for k, v in os.environ.items() if not k.startswith("DARKCOMPUTE_")}
    env.update(DAGSTER_HOME=str(home), DARKCOMPUTE_SOURCE_URI=str(ROOT / "data_samples" / "sources"),
               DARKCOMPUTE_LAKE_DIR=str(tmp / "lake"), DARKCOMPUTE_WAREHOUSE=str(tmp / "warehouse.duckdb"))
    reconcile = subprocess.run([sys.executable, "-m", "pipelines.cli", "reconcile", "--date", DAY, "--as-of", AS_OF,
                                "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert reconcile.returncode == 0, reconcile.stderr[-3000:]
    assert (tmp / "warehouse.duckdb").exists(), reconcile.stderr[-3000:]

    port = free_port()
    make_env, argv = make_ui_command(port)
    log = tmp / "dagster-dev.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env={**env, **make_env}, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: stop() ends every child
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"the webserver exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no webserver after {START_TIMEOUT} s:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(1)
        yield {"url": url, "log": log, "warehouse": tmp / "warehouse.duckdb"}
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1800, "height": 1100})
    page.set_default_timeout(90_000)  # the first page waits for the code location to load
    page.base = server["url"]
    yield page
    page.close()


def dismiss_first_visit_dialog(page, screenshot: str = "") -> bool:
    """Click "Skip" on Dagster's first-visit dialog (the community/newsletter one) if it shows
    (once per DAGSTER_HOME), after a screenshot of it when `screenshot` names one."""
    skip = page.get_by_role("dialog").get_by_role("button", name="Skip")
    try:
        skip.wait_for(state="visible", timeout=4000)
    except Exception:  # noqa: BLE001 (no dialog: it was dismissed before, in this DAGSTER_HOME)
        return False
    if screenshot:
        shot(page, screenshot)
    skip.click()
    skip.wait_for(state="hidden")
    return True


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def node_labels(page) -> list[str]:
    """The asset names the graph shows (a long one is cut in the middle with "…" when zoomed out)."""
    return page.locator('[class*="AssetNode_assetName"]').all_inner_texts()


def matches(label: str, name: str) -> bool:
    """Whether a node label stands for the asset `name` (whole, or cut in the middle with "…")."""
    head, sep, tail = label.partition("…")
    return label == name or bool(sep) and name.startswith(head) and name.endswith(tail) and len(name) >= len(label)


def assert_nodes_are(labels: list[str], expected: set[str]) -> None:
    """The graph's node labels are exactly the assets `expected`, one node each: every label
    stands for one of them, and every label (a cut one may stand for several names, as
    `stg…_source_status` does) is shown as many times as it has names among them."""
    assert len(labels) == len(expected), (sorted(labels), sorted(expected))
    for label in set(labels):
        names = {n for n in expected if matches(label, n)}
        assert names, (label, sorted(expected))
        assert labels.count(label) == len(names), (label, sorted(names))
    assert {n for n in expected if any(matches(label, n) for label in labels)} == expected


def lineage() -> tuple[dict[str, set[str]], dict[str, str], set[str]]:
    """From dbt's manifest, not from Dagster: {asset: its parents}, {model: its layer}, and the
    bronze ingest assets the sources name (`meta.dagster.asset_key`)."""
    m = manifest()
    source_asset = {uid: "/".join(s["meta"]["dagster"]["asset_key"]) if "dagster" in s.get("meta", {}) else s["name"]
                    for uid, s in m["sources"].items()}
    parents, layer = {}, {}
    for node in m["nodes"].values():
        if node["resource_type"] != "model":
            continue
        layer[node["name"]] = node["fqn"][1]
        parents[node["name"]] = {m["nodes"][d]["name"] if d in m["nodes"] else source_asset[d]
                                 for d in node["depends_on"]["nodes"]}
    bronze = {source_asset[uid] for uid, s in m["sources"].items() if s["source_name"] == "bronze"}
    return parents, layer, bronze


def on_paths(parents: dict[str, set[str]], start: str, end: str) -> set[str]:
    """Every asset on a path from `start` down to `end`, both included."""
    up, todo = set(), [end]
    while todo:
        key = todo.pop()
        if key not in up:
            up.add(key)
            todo.extend(parents.get(key, ()))
    down, todo = set(), [start]
    children = {}
    for child, ps in parents.items():
        for p in ps:
            children.setdefault(p, set()).add(child)
    while todo:
        key = todo.pop()
        if key not in down:
            down.add(key)
            todo.extend(children.get(key, ()))
    return up & down


def expand_all_groups(page) -> None:
    """The graph's context menu (right click on the background): "Expand all groups"."""
    page.mouse.click(1750, 1050, button="right")  # an empty corner of the graph, left of the zoom buttons
    item = page.get_by_role("menuitem", name="Expand all groups")
    if item.count():
        item.click()
    else:
        page.keyboard.press("Escape")  # "Collapse all groups": already expanded


def test_the_graph_shows_each_source_reaching_the_dark_compute_mart_through_the_models(page):
    page.goto(page.base + "/asset-groups")
    page.get_by_text("intermediate").first.wait_for()
    (ARTIFACTS / "00-first-visit-dialog.png").unlink(missing_ok=True)
    dismiss_first_visit_dialog(page, "00-first-visit-dialog")
    assert page.get_by_role("dialog").count() == 0
    shot(page, "01-global-lineage-collapsed")
    expand_all_groups(page)
    page.locator('[class*="AssetNode_assetName"]').first.wait_for()
    shot(page, "02-global-lineage-expanded")

    parents, layer, bronze = lineage()
    assert bronze == {"openai_usage", "openai_costs", "anthropic_usage", "anthropic_costs", "bedrock_invocations",
                      "cur_lines", "app_calls", "worker_calls"}
    for source in sorted(bronze):
        selection = f'key:"{source}"+ and +key:"fct_dark_compute"'  # every asset on a path between the two
        page.goto(page.base + "/asset-groups~" + urllib.parse.quote(selection, safe="") + "/")
        page.get_by_text("fct_dark_compute", exact=True).first.wait_for()
        expand_all_groups(page)
        page.wait_for_timeout(1000)
        shot(page, f"03-lineage-{source}-to-fct_dark_compute")
        expected = on_paths(parents, source, "fct_dark_compute")
        assert_nodes_are(node_labels(page), expected)
        # ingest asset -> staging -> intermediate -> the marts, and nothing else
        assert {layer[n] for n in expected - {source}} == {"staging", "intermediate", "marts"}, source
        assert {source, "fct_dark_compute"} < expected and len(expected) >= 5, (source, sorted(expected))


def test_the_partition_shows_its_materialization_metadata(page, server):
    page.goto(page.base + f"/assets/fct_dark_compute?view=partitions&partition={DAY}")
    page.get_by_text("dark_cost_usd", exact=True).first.wait_for()
    dismiss_first_visit_dialog(page)
    text = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
    shot(page, "04-fct_dark_compute-partition-metadata")
    assert "Materialized (1)" in text
    assert re.search(r"dark_cost_usd\s+([0-9.]+)", text).group(1) == DARK_COST_USD
    assert re.search(r"dagster/row_count\s+([0-9,]+)", text).group(1) == str(DARK_ROWS)
    page.goto(page.base + f"/assets/fct_spend_reconciliation?view=partitions&partition={DAY}")
    page.get_by_text("invoice_cost_usd", exact=True).first.wait_for()
    text = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
    shot(page, "04-fct_spend_reconciliation-partition-metadata")
    assert re.search(r"invoice_cost_usd\s+([0-9.]+)", text).group(1) == INVOICE_COST_USD
    assert re.search(r"\nstatus\s+([a-z]+(?:, [a-z]+)*)", text).group(1) == STATUSES
    # the numbers shown are the warehouse's
    with duckdb.connect(str(server["warehouse"]), read_only=True) as con:
        assert con.execute("select sum(cost_usd), count(*) from fct_dark_compute where usage_date = ?",
                           [DAY]).fetchone() == (Decimal(DARK_COST_USD), DARK_ROWS)
        assert con.execute("select sum(invoice_cost_usd), string_agg(distinct status, ', ' order by status) "
                           "from fct_spend_reconciliation where usage_date = ?", [DAY]).fetchone() == (
            Decimal(INVOICE_COST_USD), STATUSES)


def test_a_mart_shows_its_columns(page, server):
    page.goto(page.base + "/assets/fct_dark_compute")
    columns = page.locator("table").filter(has_text="Column name")
    columns.first.wait_for()
    dismiss_first_visit_dialog(page)
    shot(page, "05-fct_dark_compute-columns")
    rows = columns.first.locator("tbody tr")
    shown = [rows.nth(i).locator("td").first.inner_text().strip() for i in range(rows.count())]
    assert shown == DARK_COLUMNS
    types = {rows.nth(i).locator("td").first.inner_text().strip(): rows.nth(i).locator("td").nth(1).inner_text().strip()
             for i in range(rows.count())}
    assert (types["usage_date"], types["cost_usd"], types["calls"]) == ("date", "decimal(38, 12)", "bigint")
    with duckdb.connect(str(server["warehouse"]), read_only=True) as con:
        # the warehouse's table is the mart plus its partition column
        assert [c for c, *_ in con.execute("describe fct_dark_compute").fetchall()] == [*DARK_COLUMNS, "date"]


def test_the_schedule_says_it_is_stopped_by_default_and_how_to_change_that(page):
    page.goto(page.base + "/locations/darkcompute/schedules/nightly")
    page.get_by_text("Default state: stopped").wait_for()
    dismiss_first_visit_dialog(page)
    shot(page, "06-nightly-schedule")
    assert "DARKCOMPUTE_SCHEDULE_DEFAULT=running|stopped" in page.inner_text("body")
    assert page.get_by_role("checkbox").count() == 1 and not page.get_by_role("checkbox").is_checked()


def test_the_server_logged_no_warning_spam(server):
    log = server["log"].read_text()
    assert "Serving dagster-webserver" in log
    warnings = [line for line in log.splitlines() if "WARNING" in line or "Warning:" in line]
    # Dagster's note that the repo's dagster.yaml (the template the Makefile copies) is not
    # DAGSTER_HOME's; everything else would be noise
    assert [w for w in warnings if "Found a dagster instance configuration value (dagster.yaml)" not in w] == []
    assert "does not match" not in log
