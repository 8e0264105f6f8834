"""Issue 12 item 5, a CLI that tells you where you are: a wrong --source fails at once naming the
path (exit 2, before Dagster loads), `--all` finds the days of every provider (Bedrock invocation
logs and CUR included) from the sources file's registry, piped runs log one line per step with
its seconds, `simulate` ends with a table, and `--help` shows an example and the exit codes."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main, parser
from pipelines.cli.sources import deliveries, export_days
from pipelines.simulate import simulate

REPO = Path(__file__).resolve().parents[1]
START = date(2026, 11, 2)


def run_cli(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`darkcompute ...` as a user runs it, output piped (not a terminal)."""
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *argv], capture_output=True, text=True,
                          timeout=600, cwd=REPO, env={**os.environ, "DAGSTER_HOME": "", **(env or {})})


def world(root: Path, providers: str, days: int = 2, **options) -> Path:
    simulate(root, START, days, calls_per_day=50, providers=tuple(providers.split(",")), **options)
    return root / "sources"


# ---------------------------------------------------------------------------------------------
# a wrong source: exit 2, naming the path, before any Dagster work


def _reconcile_in_a_fresh_process(source: Path, which: list[str], tmp_path: Path) -> tuple[int, str, bool, float]:
    """main() in a fresh interpreter: (exit code, stderr, whether Dagster was imported, seconds
    from the process start to the answer)."""
    script = ("import sys, time; started = time.perf_counter()\n"
              "from pipelines.cli import main\n"
              f"code = main(['reconcile', *{which!r}, '--source', {str(source)!r}, '--lake', {str(tmp_path / 'lake')!r},"
              f" '--warehouse', {str(tmp_path / 'w.duckdb')!r}])\n"
              "print(code, 'dagster' in sys.modules, round(time.perf_counter() - started, 3))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    code, dagster, seconds = done.stdout.split()
    return int(code), done.stderr, dagster == "True", float(seconds)


@pytest.mark.parametrize("which", [["--date", "2026-11-02"], ["--all"]])
@pytest.mark.parametrize(("shape", "says"), [
    ("missing", "source folder {root} does not exist (set by --source or DARKCOMPUTE_SOURCE_URI)"),
    ("empty", "source folder {root} is empty: no files at all"),
    ("foreign", "source {root} holds no provider exports or logs: expected files under some of openai/usage/completions/, "
                "openai/usage/embeddings/, openai/costs/, anthropic/usage_report/, anthropic/cost_report/, "
                "bedrock/AWSLogs/, cur/, app_logs/, worker_logs/"),
])
def test_a_wrong_source_is_exit_2_naming_the_path_before_dagster_loads(tmp_path, shape, says, which):
    root = tmp_path / "sources"
    if shape != "missing":
        root.mkdir()
        (root / ".partial-upload").write_text("hidden files do not count")
    if shape == "foreign":  # files, but in none of the folders the ingest reads
        (root / "2026-11-02").mkdir()
        (root / "2026-11-02" / "costs.json").write_text("{}")

    code, err, dagster, seconds = _reconcile_in_a_fresh_process(root, which, tmp_path)

    assert code == 2
    assert err.strip() == f"darkcompute reconcile: {says.format(root=root)}; nothing was done (exit 2)"
    assert not dagster  # the check ran before Dagster was imported
    assert seconds < 5  # measured 0.5-0.9 s on the shared 2-core machine (a run that reaches Dagster: 24 s)
    assert not (tmp_path / "lake").exists() and not (tmp_path / "w.duckdb").exists()


def test_all_on_a_source_of_logs_only_is_exit_2(tmp_path, capsys):
    sources = world(tmp_path / "world", "openai", days=1)
    for provider in ("openai", "anthropic", "bedrock", "cur"):
        shutil.rmtree(sources / provider, ignore_errors=True)
    assert main(["reconcile", "--all", "--source", str(sources), "--lake", str(tmp_path / "lake"),
                 "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"darkcompute reconcile: no provider exports under {sources} (only logs); nothing was done (exit 2)")


def test_an_empty_s3_root_is_exit_2_naming_it(s3_server, tmp_path, capsys, monkeypatch):
    from tests.s3server import put_objects

    put_objects(s3_server.bucket, {"elsewhere/openai/costs/2026-11-02/page.json": b"{}"})  # another prefix's
    monkeypatch.setenv("DARKCOMPUTE_LANDING_DIR", str(tmp_path / "landing"))
    root = f"s3://{s3_server.bucket}/prod"
    for which in (["--date", "2026-11-02"], ["--all"]):
        assert main(["reconcile", *which, "--source", root, "--lake", str(tmp_path / "lake"),
                     "--warehouse", str(tmp_path / "w.duckdb")]) == 2
        assert capsys.readouterr().err.strip() == (
            f"darkcompute reconcile: source {root} holds no provider exports or logs: expected files under some of "
            "openai/usage/completions/, openai/usage/embeddings/, openai/costs/, anthropic/usage_report/, "
            "anthropic/cost_report/, bedrock/AWSLogs/, cur/, app_logs/, worker_logs/; nothing was done (exit 2)")
    assert not (tmp_path / "w.duckdb").exists()


# ---------------------------------------------------------------------------------------------
# --all: the days of every provider, from the registry


def test_the_registry_names_the_folders_the_ingest_code_reads():
    """The sources file's `meta.delivered` against the ingest's own folders: a folder renamed in
    the code, or an ingest asset added without its entry, fails here."""
    from pipelines.cli.reconcile import _selections
    from pipelines.definitions import defs
    from pipelines.defs.anthropic import pull as anthropic_pull
    from pipelines.defs.bedrock.assets import CUR_ROOT, LOGS_ROOT
    from pipelines.defs.logs.parse import LOG_SOURCES
    from pipelines.defs.openai import pull as openai_pull
    from pipelines.defs.openai.assets import USAGE_ENDPOINTS

    folders = {d.table: d.folders for d in deliveries()}
    assert folders["openai_usage"] == tuple(f"openai/usage/{e}" for e in USAGE_ENDPOINTS)
    assert set(folders["openai_usage"] + folders["openai_costs"]) == {prefix for prefix, _, _ in openai_pull.ENDPOINTS}
    assert set(folders["anthropic_usage"] + folders["anthropic_costs"]) == {p for p, _, _ in anthropic_pull.ENDPOINTS}
    assert (folders["bedrock_invocations"], folders["cur_lines"]) == ((LOGS_ROOT,), (CUR_ROOT,))
    assert (folders["app_calls"], folders["worker_calls"]) == ((LOG_SOURCES["app"],), (LOG_SOURCES["worker"],))
    assert {d.table: d.provider for d in deliveries()} == {
        "openai_usage": "openai", "openai_costs": "openai", "anthropic_usage": "anthropic",
        "anthropic_costs": "anthropic", "bedrock_invocations": "aws.bedrock", "cur_lines": "aws.bedrock",
        "app_calls": None, "worker_calls": None}
    ingest, _ = _selections()
    reading_the_root = {k.to_user_string() for k in ingest.resolve(defs().resolve_asset_graph())
                        if not k.to_user_string().endswith("_api_pages")}  # the pulls read the APIs
    assert reading_the_root == set(folders)


@pytest.mark.parametrize(("providers", "options"), [
    ("openai", {}), ("anthropic", {}), ("aws.bedrock", {}), ("aws.bedrock", {"cur_format": "csv"}),
])
def test_all_finds_the_days_of_a_single_provider_world(tmp_path, providers, options):
    sources = world(tmp_path / "world", providers, days=3, **options)
    if providers == "aws.bedrock":  # the last call of 2026-11-04 was delivered after midnight: not a day of use
        tail = sorted(p.name for p in sources.glob("bedrock/AWSLogs/*/*/*/2026/11/05/*/*"))
        assert tail == ["20261105T000000Z_a958a86327d6fa1c.json.gz"]
    assert export_days(str(sources)) == [START, START + timedelta(days=1), START + timedelta(days=2)]


@pytest.mark.parametrize("cur_format", ["parquet", "csv"])
def test_all_finds_the_days_of_a_cur_export_alone(tmp_path, cur_format):
    """Without invocation logging, CUR is Bedrock's only delivery; its folder names a month
    (BILLING_PERIOD=2026-11), its lines the days they were used on."""
    sources = world(tmp_path / "world", "aws.bedrock", days=3, cur_format=cur_format)
    shutil.rmtree(sources / "bedrock")
    assert export_days(str(sources)) == [START, START + timedelta(days=1), START + timedelta(days=2)]


@pytest.mark.slow
def test_all_reconciles_a_bedrock_only_world_and_logs_a_line_per_step(tmp_path):
    """`--all` on a world with Bedrock only (once: 'no provider exports', exit 2). Piped, each
    step is one plain line with its seconds; the invoice is the ground truth's to the digit."""
    sources = world(tmp_path / "world", "aws.bedrock")
    done = run_cli("reconcile", "--all", "--source", str(sources), "--lake", str(tmp_path / "lake"),
                   "--warehouse", str(tmp_path / "w.duckdb"), "--as-of", "2026-11-20T04:00:00Z",
                   env={"DARKCOMPUTE_LANDING_DIR": str(tmp_path / "landing")})
    assert done.returncode == 0, done.stderr

    steps = [line for line in done.stdout.splitlines() if re.fullmatch(r"(ingest|reconcile) \S+: \d+\.\d s", line)]
    assert [line.rsplit(":", 1)[0] for line in steps] == [
        "ingest 2026-11-01", "ingest 2026-11-02", "ingest 2026-11-03", "ingest 2026-11-04",
        "reconcile 2026-11-02", "reconcile 2026-11-03"]
    summary = done.stdout.index("aws.bedrock: dark compute ")  # the summary's per-provider title
    assert done.stdout.index(steps[-1]) < summary
    assert "━" not in done.stdout[:summary]  # no progress bar drawn into the pipe

    truth = json.loads((tmp_path / "world" / "ground_truth.json").read_text())["days"]
    expected = {day: Decimal(t["aws.bedrock"]["invoice_usd"]) for day, t in truth.items()}
    assert expected == {"2026-11-02": Decimal("0.497648260"), "2026-11-03": Decimal("0.473232055")}
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        invoices = dict(con.sql("select usage_date::varchar, sum(invoice_cost_usd) from fct_spend_reconciliation "
                                "where provider = 'aws.bedrock' group by 1").fetchall())
        assert con.sql("select distinct provider from fct_spend_reconciliation").fetchall() == [("aws.bedrock",)]
    assert invoices == expected
    assert sum(invoices.values()) == Decimal("0.970880315")


# ---------------------------------------------------------------------------------------------
# simulate's table, --help


def test_simulate_ends_with_a_table_and_logs_its_days_when_piped(tmp_path):
    done = run_cli("simulate", "--out", str(tmp_path / "world"), "--start", "2026-11-02", "--days", "2",
                   "--calls-per-day", "50", env={"COLUMNS": "100"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [re.sub(r"\d+\.\d s$", "N s", line) for line in lines[:2]] == [
        "simulate 2026-11-02: N s", "simulate 2026-11-03: N s"]
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in lines if line.startswith("│")]
    assert rows == [
        ["2026-11-02", "openai", "78", "75", "0.148509720"],
        ["2026-11-02", "anthropic", "16", "15", "0.17473610"],
        ["2026-11-02", "aws.bedrock", "11", "10", "0.041592210"],
        ["2026-11-03", "openai", "75", "74", "0.164636730"],
        ["2026-11-03", "anthropic", "18", "17", "0.10293885"],
        ["2026-11-03", "aws.bedrock", "10", "10", "0.120385000"],
        ["total", "openai", "153", "149", "0.313146450"],
        ["total", "anthropic", "34", "32", "0.27767495"],
        ["total", "aws.bedrock", "21", "20", "0.161977210"],
    ]
    truth = json.loads((tmp_path / "world" / "ground_truth.json").read_text())["days"]
    assert sum(Decimal(t["openai"]["invoice_usd"]) for t in truth.values()) == Decimal("0.313146450")
    assert lines[-1] == (f"wrote 42 files: {tmp_path / 'world' / 'sources'} and "
                         f"{tmp_path / 'world' / 'ground_truth.json'} (seed 7)")
    assert "{" not in done.stdout  # no Python dict


@pytest.mark.parametrize("command", [None, "simulate", "reconcile", "sql", "bench", "report", "export"])
def test_help_shows_an_example_and_the_exit_codes(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args([command, "--help"] if command else ["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    examples = out.split("examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert examples and all(line.startswith("  darkcompute ") for line in examples)
    assert command is None or all(line.startswith(f"  darkcompute {command} ") for line in examples)
    assert out.rstrip().endswith("exit codes:\n"
                                 "  0    done\n"
                                 "  1    a step, a blocking check or a SQL statement failed (one line each on stderr)\n"
                                 "  2    bad flags or bad input: a --source folder that is missing or empty, nothing to do\n"
                                 "  75   the lake is busy: another run holds it; try again when it ends\n"
                                 "  130  interrupted (Ctrl-C)")


def test_help_of_the_main_command_imports_no_dagster():
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "import sys\nfrom pipelines.cli import main\n"
                           "try:\n    main(['reconcile', '--help'])\nexcept SystemExit:\n    pass\n"
                           "print('dagster' in sys.modules)"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.stdout.splitlines()[-1] == "False"
    assert time.perf_counter() - started < 5


def test_an_interrupted_command_exits_130(tmp_path):
    """Ctrl-C (SIGINT) in the middle of a long simulate: one line on stderr, exit 130."""
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "simulate", "--out", str(tmp_path / "world"),
                             "--start", "2026-11-02", "--days", "30", "--calls-per-day", "20000"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # the first day is written: the command is well under way
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert re.fullmatch(r"simulate 2026-11-02: \d+\.\d s\n", first)
    assert proc.returncode == 130
    assert err.strip() == "darkcompute simulate: interrupted"


def test_all_finds_the_days_of_the_committed_samples():
    """The samples' Bedrock logs have a 2026/11/05 folder holding only objects of its hour 00 (the
    last calls of 2026-11-04): the days are the ground truth's four, not five."""
    samples = REPO / "data_samples"
    truth = json.loads((samples / "ground_truth.json").read_text())["days"]
    assert sorted(truth) == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    assert all(set(providers) == {"openai", "anthropic", "aws.bedrock"} for providers in truth.values())
    assert sorted(p.name for p in samples.glob("sources/bedrock/AWSLogs/*/*/*/2026/11/05/*")) == ["00"]
    assert [d.isoformat() for d in export_days(str(samples / "sources"))] == sorted(truth)
