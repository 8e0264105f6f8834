"""Hostile data and broken state at the command line: data that looks like rich markup prints as
it is, a SQL error is one line and the next statement still runs, one run at a time per lake (a
second run exits 75 naming the first; a killed run's lock never blocks), and `--quiet` never
prints a stack."""

import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from pipelines.cli import main, statements
from pipelines.lib.dbt import MARTS
from pipelines.lib.lake import Lake
from pipelines.lib.runlock import EXIT_BUSY, LakeBusy, hold, lock_path

from .test_crash import fingerprint

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "openai_world" / "sources"
AS_OF = "2026-11-20T04:00:00Z"
# job types and a billing account that rich would read as markup or emoji codes
HOSTILE = {"llm_judge_evaluation": "[/x]", "session_summarization": "[bold]red", "proactive_suggestions": "root:x:0",
           "proj_jobs": "[bold]jobs:x:"}


def reconcile(root: Path, *flags: str, wait: bool = True):
    argv = [sys.executable, "-m", "pipelines.cli", "reconcile", "--date", "2026-11-02", "--quiet", "--as-of", AS_OF,
            "--source", str(root / "sources"), "--lake", str(root / "lake"), "--warehouse", str(root / "w.duckdb"),
            *flags]
    env = {**os.environ, "DAGSTER_HOME": "", "DARKCOMPUTE_LANDING_DIR": str(root / "landing"), "COLUMNS": "120"}
    if wait:
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary_rows(stdout: str) -> dict[str, list[str]]:
    """The summary tables' body rows: first cell -> the other cells."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[0]] = cells[1:]
    return rows


def printed_rows(stdout: str) -> dict[str, list[str]]:
    """The summary's table rows (cells at least two spaces apart): first cell -> the others."""
    rows = {}
    for line in stdout.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) > 1:
            rows[cells[0]] = cells[1:]
    return rows


def hostile_world(root: Path) -> None:
    """The committed samples with job types and an OpenAI project renamed to markup-like text, in
    logs and provider pages alike (so every dollar lands exactly where it did before)."""
    shutil.copytree(SAMPLES, root / "sources")
    for path in (root / "sources").rglob("*"):
        if not path.is_file():
            continue
        packed = path.suffix == ".gz"
        text = (gzip.decompress(path.read_bytes()) if packed else path.read_bytes()).decode()
        for old, new in HOSTILE.items():
            text = text.replace(old, new)
        path.write_bytes(gzip.compress(text.encode(), mtime=0) if packed else text.encode())


def test_markup_in_job_types_and_accounts_prints_verbatim(tmp_path, capsys):
    hostile_world(tmp_path)
    run = reconcile(tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "MarkupError" not in run.stderr
    rows = printed_rows(run.stdout)
    # the clean world's 2026-11-02 OpenAI figures, under their hostile names (one day: no total column)
    assert rows["2026-11-02"][:2] == ["final", "6.51"]
    assert rows["[/x]"] == ["0.93"]
    assert rows["retry:[/x]"] == ["0.11"]
    assert rows["[bold]red"] == ["0.08"]
    assert rows["root:x:0"] == ["0.08"]
    assert "❌" not in run.stdout

    code = main(["sql", "--format", "table", "--warehouse", str(tmp_path / "w.duckdb"),
                 "select job_type, sum(calls) as calls from fct_dark_compute where job_type in "
                 "('[/x]', '[bold]red', 'root:x:0') and usage_date = '2026-11-02' group by all order by job_type; "
                 "select distinct billing_account as \"[bold]account\" from fct_spend_reconciliation "
                 "where billing_account like '[%' order by 1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    sql_rows = summary_rows(out.out)
    # the clean samples' calls of llm_judge_evaluation, session_summarization, proactive_suggestions
    assert sql_rows["[/x]"] == ["91"] and sql_rows["[bold]red"] == ["114"] and sql_rows["root:x:0"] == ["72"]
    assert sql_rows["[bold]jobs:x:"] == []
    assert "[bold]account" in out.out


@pytest.fixture
def warehouse(tmp_path) -> str:
    path = str(tmp_path / "w.duckdb")
    con = duckdb.connect(path)
    con.execute("create table t as select * from (values ('[/x]', ':x:'), ('root:x:0', '[bold]b')) v(a, b)")
    con.close()
    return path


def test_sql_prints_markup_and_control_characters_as_text(warehouse, capsys):
    code = main(["sql", "--format", "table", "--warehouse", warehouse,
                 "select a as \"[red]a\", b, chr(27) || '[2J' as esc from t order by a"])
    out = capsys.readouterr().out
    assert code == 0
    assert summary_rows(out) == {"[/x]": [":x:", "\\x1b[2J"], "root:x:0": ["[bold]b", "\\x1b[2J"]}
    assert "[red]a" in out and "\x1b" not in out


def test_sql_runs_every_statement_and_an_error_is_one_line(warehouse, capsys):
    code = main(["sql", "--format", "table", "--warehouse", warehouse,
                 "select 1 as one; select cast('a' as int); selec 2; select 3 as three -- ; not a cut\n;"])
    out = capsys.readouterr()
    assert code == 1
    assert summary_rows(out.out) == {"1": [], "3": []}  # both results, in order
    assert out.err.splitlines() == ["error: Conversion Error: Could not convert string 'a' to INT32",
                                    'error: Parser Error: syntax error at or near "selec"']


def test_sql_bad_statement_exits_non_zero_with_the_message(warehouse, capsys):
    assert main(["sql", "--format", "table", "--warehouse", warehouse, "select * from no_such_table"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Catalog Error: Table with name no_such_table does not exist")
    assert len(err.splitlines()) == 1


def test_statements_cut_at_semicolons_outside_strings_and_comments():
    assert statements("select ';' as \"a;b\"; /* ; */ select 2 -- ;\n; -- only a comment\n") == [
        "select ';' as \"a;b\"", "/* ; */ select 2 -- ;"]


def test_prompt_survives_a_fetch_error_and_holds_nothing_while_idle(warehouse):
    prompt = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "sql", "--format", "table", "--warehouse", warehouse],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    prompt.stdin.write("select cast('a' as int);\nselect count(*) as n from t;\n")
    prompt.stdin.flush()
    while "│ 2 │" not in prompt.stdout.readline():  # the count: the prompt now waits for input
        assert prompt.poll() is None
    con = duckdb.connect(warehouse)  # a writer can open the file: the idle prompt holds no lock
    con.execute("insert into t values ('new', 'row')")
    con.close()
    out, err = prompt.communicate("select count(*) as after from t;\n", timeout=60)
    assert prompt.returncode == 0
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()] == [
        "error: Conversion Error: Could not convert string 'a' to INT32"]
    assert "│     3 │" in out  # each statement sees the file as it is now (numbers right-aligned)


def _holder(lake: Path, shared: bool = False) -> subprocess.Popen:
    """A process that takes the lake's run lock and sleeps, holding it; returns once it holds it."""
    code = ("import sys, time; from pipelines.lib.runlock import hold\n"
            "with hold(sys.argv[1], shared=sys.argv[2] == 'shared'):\n print('held', flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(lake), "shared" if shared else "exclusive"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_run_lock_names_the_holder_and_dies_with_it(tmp_path):
    lake = tmp_path / "lake"
    holder = _holder(lake)
    try:
        with pytest.raises(LakeBusy, match=rf"another run \(pid {holder.pid}, started 20\d\d-.*\) is in progress on "
                                           rf"{lake}"):
            with hold(lake):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert str(holder.pid) in lock_path(lake).read_text()  # the killed run's file is left behind...
    with hold(lake):  # ...and never blocks
        with hold(lake):  # a process that holds it may take it again (in-process Dagster steps)
            assert f'"pid": {os.getpid()}' in lock_path(lake).read_text()
    assert lock_path(lake).read_text() == ""

    step = _holder(lake, shared=True)  # a Dagster step of a run launched from the UI or the schedule
    try:
        with pytest.raises(LakeBusy, match=r"another run \(a Dagster run's step, or one starting this instant\)"):
            with hold(lake):
                pass
        with hold(lake, shared=True):  # steps run side by side
            pass
    finally:
        step.kill()
        step.wait()


def test_sweep_keeps_a_live_writers_temp_files(tmp_path):
    lake = Lake(tmp_path)
    target = lake.partition_file("marts", "t", date(2026, 11, 2))
    target.parent.mkdir(parents=True)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        mine = target.with_name(f".{target.name}.{live.pid}-abc.tmp")
        killed = target.with_name(f".{target.name}.{dead.pid}-def.tmp")
        legacy = target.with_name(f".{target.name}.0123456789abcdef.tmp")
        for path in (mine, killed, legacy):
            path.write_bytes(b"half a file")
        lake.write("marts", "t", date(2026, 11, 2), pa.table({"x": [1, 2, 3]}))
        assert sorted(p.name for p in target.parent.iterdir()) == sorted(["data.parquet", mine.name])
    finally:
        live.kill()
        live.wait()


def test_two_runs_on_one_lake_one_waits_out_and_the_lake_equals_a_single_run(tmp_path):
    single, pair = tmp_path / "single", tmp_path / "pair"
    for root in (single, pair):
        shutil.copytree(SAMPLES, root / "sources")

    # a run killed while holding the lock leaves its lock file; the next run is not blocked by it
    holder = _holder(single / "lake")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert reconcile(single).returncode == 0

    first = reconcile(pair, wait=False)
    deadline = time.monotonic() + 120
    while f'"pid": {first.pid}' not in (lock_path(pair / "lake").read_text() if lock_path(pair / "lake").exists()
                                         else ""):
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    second = reconcile(pair)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert second.returncode == EXIT_BUSY == 75
    assert second.stderr.strip().startswith(f"darkcompute reconcile: another run (pid {first.pid}, started ")
    assert f"is in progress on {(pair / 'lake').resolve()}; nothing was done" in second.stderr
    assert second.stdout == ""
    assert fingerprint(pair) == fingerprint(single)
    marts = fingerprint(pair)["marts"]
    tables = {key.split("/")[2] for key in marts}  # lake/marts/<table>/date=D/data.parquet
    assert set(MARTS) <= tables and len(marts) == len(tables)  # each mart once, for the one day


def test_quiet_failure_is_the_failing_step_in_one_line(tmp_path):
    shutil.copytree(SAMPLES, tmp_path / "sources")
    (tmp_path / "w.duckdb").mkdir()  # the warehouse path is a folder: publishing fails
    run = reconcile(tmp_path)
    assert run.returncode == 1
    warehouse = tmp_path / "w.duckdb"
    assert run.stderr.splitlines() == [
        f"2026-11-02: step warehouse_tables failed: pipelines.lib.disk.StorageError: publishing the warehouse: "
        f"the path is a folder, not a file at {warehouse} (chosen by DARKCOMPUTE_WAREHOUSE={warehouse}); move that "
        f"folder away or set DARKCOMPUTE_WAREHOUSE to another path, then run again. "
        f"[[Errno 21] Is a directory: '{warehouse}']",
        "darkcompute reconcile: 1 failure(s); exit 1"]


def test_a_dagster_step_does_not_run_while_a_cli_run_holds_the_lake(tmp_path):
    """A run launched by Dagster (UI, schedule) takes the lock shared in each step's resources."""
    from pipelines.definitions import defs
    from pipelines.defs.resources import LakeStore, configured_resources

    shutil.copytree(SAMPLES, tmp_path / "sources")
    definitions = defs()
    resources = {**configured_resources(), "lake": LakeStore(root=str(tmp_path / "lake"))}
    resources["sources"] = resources["sources"].model_copy(update={"uri": str(tmp_path / "sources")})
    holder = _holder(tmp_path / "lake")
    try:
        result = dg.materialize(list(definitions.assets), selection=["app_calls"], partition_key="2026-11-02",
                                resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    errors = [e.event_specific_data.error.message for e in result.all_events
              if e.event_type_value == "RESOURCE_INIT_FAILURE"]
    assert len(errors) == 1
    assert f"LakeBusy: another run (pid {holder.pid}, started 20" in errors[0]
    assert not (tmp_path / "lake" / "bronze").exists()
    # the holder is gone: the same step runs
    result = dg.materialize(list(definitions.assets), selection=["app_calls"], partition_key="2026-11-02",
                            resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
