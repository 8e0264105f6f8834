"""Broken derived state heals, readers never block the nightly run, and a full disk says what to do.

Every run here is the real CLI in a subprocess on the committed samples (DuckDB files and Parquet
files on disk, a real `darkcompute sql` prompt as the reader). A full disk is a real refusal of
the kernel: the child process runs with a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored), so a
write past the limit fails with EFBIG exactly where a full disk fails with ENOSPC.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "tests" / "data" / "openai_world" / "sources"
DAY, NEXT = "2026-11-02", "2026-11-03"
AS_OF = "2026-11-20T04:00:00Z"
TABLES = ("fct_spend_reconciliation", "fct_dark_compute", "rejected_records", "ingest_files", "source_status",
          "restatements")


def env(root: Path, **extra: str) -> dict:
    return {**os.environ, "DAGSTER_HOME": "", "DARKCOMPUTE_LANDING_DIR": str(root / "landing"),
            "DARKCOMPUTE_SOURCE_URI": str(root / "sources"), "DARKCOMPUTE_LAKE_DIR": str(root / "lake"),
            "DARKCOMPUTE_WAREHOUSE": str(root / "w.duckdb"), **extra}


def file_size_limit(limit: int):
    """A preexec_fn: files this process writes cannot grow past `limit` bytes (EFBIG, no signal)."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    return apply


def reconcile(root: Path, first: str, last: str | None = None, limit: int | None = None, **extra: str):
    args = [sys.executable, "-m", "pipelines.cli", "reconcile", "--date", first, "--to", last or first, "--quiet",
            "--as-of", AS_OF]
    return subprocess.run(args, env=env(root, **extra), cwd=root, capture_output=True, text=True,
                          preexec_fn=file_size_limit(limit) if limit else None)


def world(tmp_path: Path, hold_back_costs: bool = False) -> Path:
    root = tmp_path / "root"
    shutil.copytree(SAMPLES, root / "sources")
    if hold_back_costs:
        shutil.move(root / "sources" / "openai" / "costs" / DAY, tmp_path / "held_back")
    return root


def deliver_costs(tmp_path: Path, root: Path) -> None:
    shutil.move(tmp_path / "held_back", root / "sources" / "openai" / "costs" / DAY)


def rows(root: Path, table: str) -> list[tuple]:
    con = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    try:
        return sorted(con.execute(f"select * from {table}").fetchall(), key=repr)
    finally:
        con.close()


def rows_of(root: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def snapshot(root: Path) -> dict[str, list[tuple]]:
    return {t: rows(root, t) for t in TABLES}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp*"))


def truncate_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


# ---------------------------------------------------------------------------------------------
# 6. broken derived state heals


def test_a_truncated_mart_file_is_overwritten_by_the_next_run(tmp_path):
    root = world(tmp_path)
    assert reconcile(root, DAY).returncode == 0
    before = snapshot(root)
    marts = root / "lake" / "marts"
    for mart in ("fct_spend_reconciliation", "fct_dark_compute"):
        truncate_half(marts / mart / f"date={DAY}" / "data.parquet")

    run = reconcile(root, DAY)

    assert run.returncode == 0, run.stderr
    assert snapshot(root) == before  # every row of every table, reconciled_at included
    recon = pq.read_table(marts / "fct_spend_reconciliation" / f"date={DAY}" / "data.parquet")
    assert sorted(recon.to_pylist(), key=repr) == sorted(
        # the warehouse's rows end with the partition column `date`, which the lake file has in its path
        (dict(zip(recon.column_names, r, strict=False)) for r in before["fct_spend_reconciliation"]), key=repr)
    assert pq.read_table(marts / "fct_dark_compute" / f"date={DAY}" / "data.parquet").num_rows == len(
        before["fct_dark_compute"])
    assert not (marts / "restatements").exists()  # nothing comparable was there: nothing is claimed


def test_an_unreadable_warehouse_is_rebuilt_from_every_day_of_the_lake_restatements_included(tmp_path):
    root = world(tmp_path, hold_back_costs=True)
    assert reconcile(root, DAY, NEXT).returncode == 0  # DAY provisional (no OpenAI cost export yet)
    deliver_costs(tmp_path, root)
    assert reconcile(root, DAY).returncode == 0  # DAY restated: final
    before = snapshot(root)
    restated = before["restatements"]
    changes = set(rows_of(root, f"select old_status, new_status from restatements where usage_date = '{DAY}' "
                                "and provider = 'openai'"))
    assert ("provisional", "final") in changes and {new for _, new in changes} == {"final"}
    files = sorted((root / "lake" / "marts" / "restatements").rglob("*.parquet"))
    assert [f.parent.name for f in files] == [f"date={DAY}"] and len(files) == 1
    assert pq.read_table(files[0]).num_rows == len(restated)
    truncate_half(root / "w.duckdb")

    run = reconcile(root, NEXT)  # a run of the other day: the rebuild must bring back DAY too

    assert run.returncode == 0, run.stderr
    assert f"the warehouse {root / 'w.duckdb'} could not be opened" in run.stderr
    assert ".w.duckdb." not in run.stderr  # the message names the damaged file, not the publisher's copy of it
    assert f"rebuilt from the lake's marts (2 days, {DAY} to {NEXT}) and its {len(restated)} restatements" in run.stderr
    assert snapshot(root) == before
    assert leftovers(root) == []

    # a day whose mart breaks the identity was kept out of the warehouse by the blocking check;
    # a rebuild keeps it out too, and says so
    mart = root / "lake" / "marts" / "fct_spend_reconciliation" / f"date={DAY}" / "data.parquet"
    table = pq.read_table(mart)
    user = table["user_cost_usd"].to_pylist()
    user[0] += Decimal("0.01")
    pq.write_table(table.set_column(table.schema.get_field_index("user_cost_usd"), "user_cost_usd",
                                    pa.array(user, table.schema.field("user_cost_usd").type)), mart)
    truncate_half(root / "w.duckdb")

    run = reconcile(root, NEXT)

    assert run.returncode == 0, run.stderr
    assert f"rebuilt from the lake's marts (1 day, {NEXT} to {NEXT})" in run.stderr
    assert f"left out: {DAY} (identity broken on 1 rows, worst gap 0.010000000000 USD)" in run.stderr
    assert rows_of(root, "select distinct usage_date::varchar from fct_spend_reconciliation") == [(NEXT,)]


def test_restatements_an_older_warehouse_held_only_in_itself_move_into_the_lake(tmp_path):
    root = world(tmp_path, hold_back_costs=True)
    assert reconcile(root, DAY).returncode == 0
    deliver_costs(tmp_path, root)
    assert reconcile(root, DAY).returncode == 0
    restated = rows(root, "restatements")
    assert len(restated) > 0
    shutil.rmtree(root / "lake" / "marts" / "restatements")  # as a warehouse written before this change

    assert reconcile(root, NEXT).returncode == 0

    assert rows(root, "restatements") == restated
    migrated = root / "lake" / "marts" / "restatements" / f"date={DAY}" / "migrated-from-warehouse.parquet"
    assert sorted(duckdb.sql(f"select * from read_parquet('{migrated}', hive_partitioning = false)").fetchall(), key=repr) == restated


# ---------------------------------------------------------------------------------------------
# 8. a reader with the warehouse open never makes the nightly run fail, and never sees half a day



READER = textwrap.dedent('''
    import duckdb, sys
    con = duckdb.connect(sys.argv[1], read_only=True)  # as `darkcompute sql`, `duckdb -readonly` or a BI tool
    print("ready", flush=True)
    sys.stdin.readline()  # idle, holding the connection, until the test asks
    print(repr(con.execute(sys.argv[2]).fetchall()), flush=True)
''')


def test_a_reader_holding_the_warehouse_open_neither_blocks_the_run_nor_sees_half_a_day(tmp_path):
    root = world(tmp_path, hold_back_costs=True)
    assert reconcile(root, DAY).returncode == 0
    by_status = ("select status, count(*) as n, sum(invoice_cost_usd) as usd from fct_spend_reconciliation "
                 "where provider = 'openai' group by status order by status")
    old = rows_of(root, by_status)
    script = tmp_path / "reader.py"
    script.write_text(READER)
    reader = subprocess.Popen([sys.executable, str(script), str(root / "w.duckdb"), by_status],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline() == "ready\n"
        with pytest.raises(duckdb.IOException, match="lock"):  # an in-place writer would fail right here
            duckdb.connect(str(root / "w.duckdb"))
        deliver_costs(tmp_path, root)

        run = reconcile(root, DAY)  # the day goes from provisional to final while the reader is open

        assert run.returncode == 0, run.stderr
        seen, _ = reader.communicate("go\n", timeout=60)
    finally:
        reader.kill()
    new = rows_of(root, by_status)
    assert [r[0] for r in old] == ["provisional"] and [r[0] for r in new] == ["final"]
    assert old != new  # 9 provisional rows became 10 final ones (the cost export adds a non-token row)
    # the reader still sees the whole day as it was when it connected: every OpenAI row
    # provisional, with that version's count and invoice to the picodollar; new readers see it final
    assert seen.strip() == repr(old)
    assert leftovers(root) == []


# ---------------------------------------------------------------------------------------------
# 9. a full disk: the day stays whole, and the error names the path, the setting and the fix

BRONZE_SCRIPT = textwrap.dedent('''
    import json, signal, resource, sys
    from datetime import date
    from pipelines.defs.bronze import write_bronze, write_bronze_streamed
    from pipelines.defs.logs.parse import parse_log_files
    from pipelines.lib.bronze import MODEL_CALLS
    from pipelines.lib.ingest import Streamed
    from pipelines.lib.lake import Lake
    from pipelines.lib.store import SourceFile

    lake, day, mode = Lake(sys.argv[1]), date(2026, 11, 2), sys.argv[2]
    def calls(n):
        lines = [json.dumps({"timestamp": "2026-11-02T10:00:00Z", "gen_ai.provider.name": "openai",
                             "gen_ai.request.model": "gpt-4o-mini", "billing.account": "proj_a",
                             "gen_ai.response.id": f"resp_{i:08d}_{i * 7919 % 1000003:07d}",
                             "gen_ai.usage.input_tokens": i % 997, "gen_ai.usage.output_tokens": i % 89})
                 for i in range(n)] + ["not json"]
        return parse_log_files([SourceFile("app_logs/2026-11-02/app.jsonl", ("\\n".join(lines) + "\\n").encode())],
                               log_source="app", folder_date=day)
    if mode == "small":
        write_bronze(lake, "app_calls", day, calls(3))
        sys.exit(0)
    big = calls(40_000)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
    try:
        if mode == "whole":
            write_bronze(lake, "app_calls", day, big)
        else:
            def parse(sink):
                sink(big.records)
                return Streamed(rejects=big.rejects, files=big.files)
            write_bronze_streamed(lake, "app_calls", day, MODEL_CALLS, parse)
    except OSError as exc:
        print(str(exc))
        sys.exit(3)
''')


def test_a_bronze_day_whose_records_do_not_fit_keeps_its_old_records_files_and_rejects(tmp_path):
    script = tmp_path / "bronze.py"
    script.write_text(BRONZE_SCRIPT)
    lake = tmp_path / "lake"
    base = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, str(script), str(lake), "small"], env=base, check=True)
    day_files = {t: lake / "bronze" / t / f"date={DAY}" / "data.parquet"
                 for t in ("app_calls", "app_calls_files", "app_calls_rejects")}
    before = {t: p.read_bytes() for t, p in day_files.items()}
    assert pq.read_table(day_files["app_calls_files"]).select(["lines_read", "records", "rejected"]).to_pylist() == [
        {"lines_read": 4, "records": 3, "rejected": 1}]

    for mode in ("whole", "streamed"):
        run = subprocess.run([sys.executable, str(script), str(lake), mode], env=base, capture_output=True, text=True)

        assert run.returncode == 3, run.stderr
        message = run.stdout
        assert f"at {day_files['app_calls']} (chosen by DARKCOMPUTE_LAKE_DIR" in message
        assert "larger than this process may write" in message and "then run again" in message
        assert {t: p.read_bytes() for t, p in day_files.items()} == before  # all three, byte for byte
        assert leftovers(lake) == []


def test_a_full_warehouse_disk_reports_the_cause_and_leaves_the_published_warehouse_whole(tmp_path):
    root = world(tmp_path)
    assert reconcile(root, DAY).returncode == 0
    before = snapshot(root)
    size = (root / "w.duckdb").stat().st_size
    assert size > 1_000_000 and max(p.stat().st_size for p in (root / "lake").rglob("*.parquet")) < size // 2

    run = reconcile(root, DAY, limit=size // 2)  # the lake's files fit, the warehouse does not

    assert run.returncode == 1
    assert f"publishing the warehouse: the file is larger than this process may write (file size limit) at " \
           f"{root}" in run.stderr
    assert "DARKCOMPUTE_WAREHOUSE=" + str(root / "w.duckdb") in run.stderr
    assert "cannot rollback" not in run.stderr
    assert snapshot(root) == before
    assert leftovers(root) == []


def test_a_lake_folder_that_cannot_be_made_names_darkcompute_lake_dir(tmp_path):
    root = world(tmp_path)
    (root / "a-file").write_text("")

    run = reconcile(root, DAY, DARKCOMPUTE_LAKE_DIR=str(root / "a-file" / "lake"))  # the run lock's folder

    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert lines == [f"darkcompute reconcile failed: StorageError: taking the lake's run lock: a part of the path "
                     f"is a file, not a folder at {root / 'a-file' / 'lake'} (chosen by DARKCOMPUTE_LAKE_DIR="
                     f"{root / 'a-file' / 'lake'}); move that file away or set DARKCOMPUTE_LAKE_DIR to another "
                     f"folder, then run again. [[Errno 20] Not a directory: '{root / 'a-file' / 'lake'}'] "
                     f"(set DARKCOMPUTE_TRACEBACK=1 for the traceback)"]
    assert (root / "a-file").read_text() == ""


def test_a_spill_folder_that_cannot_be_used_is_named_with_its_setting(tmp_path):
    root = world(tmp_path)
    spill = tmp_path / "spill"
    spill.write_text("a file where the spill folder should be")

    run = reconcile(root, DAY, DARKCOMPUTE_DUCKDB_TEMP_DIR=str(spill))

    assert run.returncode == 1
    assert f"at {spill} (chosen by DARKCOMPUTE_DUCKDB_TEMP_DIR={spill})" in run.stderr
    assert "move that file away or set DARKCOMPUTE_DUCKDB_TEMP_DIR to another folder" in run.stderr


SPILL_SCRIPT = textwrap.dedent('''
    import resource, signal, sys
    from pipelines.defs.resources import Warehouse

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, resource.RLIM_INFINITY))
    warehouse = Warehouse(path="unused.duckdb", memory_limit="40MB", threads=1, temp_directory=sys.argv[1])
    con = warehouse.compute()
    try:
        with warehouse.storage_errors("reconciling"):
            con.execute("select s, count(*) from (select md5(range::varchar) as s from range(4000000)) "
                        "group by s order by s").fetchall()
    except OSError as exc:
        print(str(exc))
        sys.exit(3)
''')


def test_a_full_spill_folder_names_darkcompute_duckdb_temp_dir(tmp_path):
    script = tmp_path / "spill.py"
    script.write_text(SPILL_SCRIPT)
    spill = tmp_path / "spill"
    run = subprocess.run([sys.executable, str(script), str(spill)], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(REPO)})

    assert run.returncode == 3, run.stderr
    assert f"reconciling: the file is larger than this process may write (file size limit) at {spill}/" in run.stdout
    assert f"(chosen by DARKCOMPUTE_DUCKDB_TEMP_DIR={spill})" in run.stdout


LANDING_SCRIPT = textwrap.dedent('''
    import resource, signal, sys
    from pathlib import Path
    from pipelines.lib.s3 import _land

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    try:
        _land(Path(sys.argv[1]), b"x" * 65536, "etag-1", Path(sys.argv[2]))
    except OSError as exc:
        print(str(exc))
        sys.exit(3)
''')


def test_an_s3_download_that_does_not_fit_names_darkcompute_landing_dir(tmp_path):
    script = tmp_path / "landing.py"
    script.write_text(LANDING_SCRIPT)
    landing = tmp_path / "landing"
    target = landing / "s3" / "bucket" / "app_logs" / DAY / "app.jsonl"
    run = subprocess.run([sys.executable, str(script), str(target), str(landing)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})

    assert run.returncode == 3, run.stderr
    assert run.stdout.startswith(f"landing an S3 object: the file is larger than this process may write (file size "
                                 f"limit) at {target} (chosen by DARKCOMPUTE_LANDING_DIR={landing}); ")
    assert not target.exists() and leftovers(landing) == []
