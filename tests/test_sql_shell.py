"""`darkcompute sql` as an analyst meets it: it starts without importing Dagster; a wide result
fits 100 columns without cutting a digit; piped output is CSV; csv, json and markdown write every
digit; each statement's result is shown and an error is one line; meta commands work in the query
argument and the prompt; and the standalone duckdb CLI (duckdb-cli 1.5.6) opens the warehouse."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow  # CLI processes and the samples reconciled: make test-fast leaves it out

REPO = Path(__file__).resolve().parents[1]
DUCKDB_CLI = REPO / ".venv" / "bin" / "duckdb"
# the README's first example query: the latest reconciled day's invoice by class, per provider
HEADLINE = """select provider, sum(invoice_cost_usd) as invoice, sum(user_cost_usd) as "user",
       sum(background_cost_usd) as background, sum(retry_cost_usd) as retry,
       sum(unlogged_cost_usd) as unlogged, sum(non_token_cost_usd) as non_token
from fct_spend_reconciliation
where usage_date = (select max(usage_date) from fct_spend_reconciliation)
group by provider order by provider"""
# values whose exact text Python's str() or a float would lose: 1E-12, 20 digits before the point
EXACT = """select 0.000000000001::decimal(38, 12) as tiny, 12345678901234567890.123456789012::decimal(38, 12) as big,
       170141183460469231731687303715884105727::hugeint as huge, 0.1::double as ratio, null::integer as nothing,
       date '2026-11-02' as day, 'a,"b"' || chr(10) || 'c|d' as awkward"""


def cli(*args: str, stdin: str | None = None, columns: int = 100) -> subprocess.CompletedProcess:
    """`darkcompute sql ...` in a process whose stdout is a pipe (not a terminal)."""
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "sql", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": str(columns)})


def exact(warehouse: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def text(value) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


@pytest.fixture
def warehouse(tmp_path) -> Path:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select * from range(3) r(n)")
    con.execute("comment on table t is 'three numbers'")
    con.execute("comment on column t.n is 'a number from 0'")
    con.close()
    return path


def test_sql_starts_without_dagster_or_dbt(warehouse):
    code = ("import sys, time; started = time.monotonic(); from pipelines.cli import main\n"
            "assert main(['sql', '--warehouse', sys.argv[1], 'select 42 as answer']) == 0\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('dagster', 'dbt', 'polars')})\n"
            "print(heavy, round(time.monotonic() - started, 3))")
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c", code, str(warehouse)], capture_output=True, text=True, timeout=60)
    seconds = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[:2] == ["answer", "42"]
    assert run.stdout.splitlines()[-1].startswith("[] ")  # nothing heavy imported
    assert seconds < 3.0  # 0.3 s on an idle core; Dagster's import alone took 4-6 s


def test_a_wide_result_fits_100_columns_with_every_digit(samples_warehouse):
    for query in (HEADLINE, "select * from fct_spend_reconciliation order by all limit 3",
                  "select * from fct_dark_compute order by all"):
        run = subprocess.run([sys.executable, "-m", "pipelines.cli", "sql", "--warehouse", str(samples_warehouse),
                              "--format", "table", query], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "COLUMNS": "100"})
        assert run.returncode == 0, run.stderr
        lines = run.stdout.splitlines()
        assert max(len(line) for line in lines) <= 100
        assert "…" not in run.stdout
        rows = exact(samples_warehouse, query)
        assert lines[-1] == f"({len(rows)} row{'s' if len(rows) != 1 else ''})"
        # every number whole on one line: never cut, never folded
        words = {w for line in lines for w in line.replace("│", " ").split()}
        for row in rows:
            for value in row:
                if isinstance(value, (int, Decimal)):
                    assert text(value) in words, (query, value)


def test_the_headline_query_turns_on_its_side_to_fit(samples_warehouse):
    """Seven columns of 12-place sums need 114 characters: at 100 the result is turned on its side
    (a line per class, a column per provider), every digit in place."""
    run = cli("--warehouse", str(samples_warehouse), "--format", "table", HEADLINE)
    body = [[c.strip() for c in line.strip("│").split("│")] for line in run.stdout.splitlines() if line.startswith("│")]
    assert [c.strip() for c in run.stdout.splitlines()[1].split("┃")[1:5]] == ["provider", "anthropic", "aws.bedrock",
                                                                              "openai"]
    assert body == [["invoice", "2.768600450000", "2.083938890000", "1.827025860000"],
                    ["user", "1.850593500000", "1.510088195000", "1.144433380000"],
                    ["background", "0.689629850000", "0.434949735000", "0.436412710000"],
                    ["retry", "0.115541050000", "0.099416735000", "0.117259100000"],
                    ["unlogged", "0.112836050000", "0.039484225000", "0.128920670000"],
                    ["non_token", "0.000000000000", "0.000000000000", "0.000000000000"]]


def test_piped_output_is_csv_with_every_digit(warehouse):
    run = cli("--warehouse", str(warehouse), EXACT)
    assert run.returncode == 0, run.stderr
    assert "…" not in run.stdout and "│" not in run.stdout
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows == [["tiny", "big", "huge", "ratio", "nothing", "day", "awkward"],
                    ["0.000000000001", "12345678901234567890.123456789012", "170141183460469231731687303715884105727",
                     "0.1", "", "2026-11-02", 'a,"b"\nc|d']]


def test_json_and_markdown_write_every_digit(warehouse):
    run = cli("--warehouse", str(warehouse), "--format", "json", EXACT)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [{
        "tiny": "0.000000000001", "big": "12345678901234567890.123456789012",
        "huge": 170141183460469231731687303715884105727, "ratio": 0.1, "nothing": None, "day": "2026-11-02",
        "awkward": 'a,"b"\nc|d'}]
    run = cli("--warehouse", str(warehouse), "--format", "markdown", EXACT + "; select n from t order by n")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [c.strip() for c in lines[2].strip("|").split(" | ")] == [
        "0.000000000001", "12345678901234567890.123456789012", "170141183460469231731687303715884105727", "0.1", "",
        "2026-11-02", 'a,"b"<br>c\\|d']
    assert lines[1].startswith("| ---") and "---: |" in lines[1]  # numbers right-aligned
    assert lines[3:] == ["", "|   n |", "| --: |", "|   0 |", "|   1 |", "|   2 |"]


def test_each_statement_is_shown_and_each_error_is_one_line(warehouse):
    run = cli("--warehouse", str(warehouse), "select 1 as one; selec 2; select * from nope; "
              "select cast('a' as int) as bad; select 2 as two")
    assert run.returncode == 1
    assert run.stdout == "one\n1\n\ntwo\n2\n"
    assert run.stderr.splitlines() == [
        'error: Parser Error: syntax error at or near "selec"',
        "error: Catalog Error: Table with name nope does not exist!",
        "error: Conversion Error: Could not convert string 'a' to INT32"]


def test_meta_commands_in_the_query_argument(warehouse, samples_warehouse):
    run = cli("--warehouse", str(samples_warehouse), ".tables\nselect 42 as answer")
    assert run.returncode == 0, run.stderr
    tables, answer = run.stdout.split("\n\n")
    listed = list(csv.DictReader(io.StringIO(tables)))
    assert [(t["name"], t["kind"]) for t in listed] == [
        ("fct_cache_efficiency", "table"), ("fct_cache_efficiency_tenant", "table"),
        ("fct_cost_growth", "view"), ("fct_cost_tail", "table"), ("fct_dark_compute", "table"),
        ("fct_feature_users", "table"), ("fct_gateway_estimate", "table"),
        ("fct_retry_amplification", "table"), ("fct_savings_opportunities", "table"), ("fct_spend_diagnosis", "table"),
        ("fct_spend_reconciliation", "table"), ("fct_user_action_cost", "table"), ("focus_costs", "table"),
        ("ingest_files", "table"),
        ("redistributed_spend_even", "view"), ("redistributed_spend_proportional", "view"),
        ("redistribution_base", "view"), ("rejected_records", "table"), ("restatements", "table"),
        ("source_status", "table")]
    assert all(t["comment"] for t in listed)
    assert answer == "answer\n42\n"  # the statement after the meta command is not swallowed

    run = cli("--warehouse", str(warehouse), ".schema t; select 1 as x\n.schema nope\nselect 2 as y;\n.quit\nselect 3")
    assert run.returncode == 1
    assert run.stdout == 'table,column,type,comment\nt,n,BIGINT,a number from 0\n\nx\n1\n\ny\n2\n'
    assert run.stderr.splitlines() == ["error: no table or view named 'nope'; .tables lists them"]


def test_meta_commands_and_errors_in_the_prompt(warehouse):
    run = cli("--warehouse", str(warehouse), stdin=(
        ".tables\nselect n\n  from t\n where n = 2;\n.schema t\nselect 1/0 as inf; select cast('x' as date);\n"
        ".frobnicate\n.format json\nselect n from t where n < 2 order by n;\n.help\n.quit\nselect 'never';\n"))
    assert run.returncode == 0  # the prompt shows each error where it happens, and ends well
    out = run.stdout
    assert out.startswith("name,kind,rows,comment\nt,table,3,three numbers\n\nn\n2\n\n"
                          "table,column,type,comment\nt,n,BIGINT,a number from 0\n\ninf\ninf\n")
    assert '[\n {"n": 0},\n {"n": 1}\n]\n' in out
    assert ".schema [NAME]" in out and "never" not in out
    assert run.stderr.splitlines() == ["error: Conversion Error: invalid date field format: \"x\", expected format is "
                                       "(YYYY-MM-DD)",
                                       "error: unknown meta command '.frobnicate'; .help lists them"]


def test_the_duckdb_cli_opens_the_published_warehouse(samples_warehouse):
    assert DUCKDB_CLI.exists(), f"{DUCKDB_CLI} missing: `make setup` installs duckdb-cli (a dev dependency)"
    run = subprocess.run([str(DUCKDB_CLI), "--version"], capture_output=True, text=True, timeout=60)
    assert run.stdout.startswith("v1.5.6")
    query = ("select provider, count(*) as cells, sum(invoice_cost_usd) as invoice from fct_spend_reconciliation "
             "group by all order by all")
    run = subprocess.run([str(DUCKDB_CLI), "-readonly", "-csv", str(samples_warehouse), "-c", query],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["provider,cells,invoice", "anthropic,30,10.800702950000",
                                       "aws.bedrock,23,6.808790880000", "openai,39,8.036583800000"]
    assert [(p, c, text(v)) for p, c, v in exact(samples_warehouse, query)] == [
        ("anthropic", 30, "10.800702950000"), ("aws.bedrock", 23, "6.808790880000"), ("openai", 39, "8.036583800000")]


def test_a_warehouse_in_duckdb_2_format_is_converted_by_the_next_publish(samples_warehouse, tmp_path):
    """A warehouse published before the format was pinned (storage version 69, which duckdb-cli
    1.5.6 refuses) is rewritten in v1.5.0 by the next publication, every table and comment kept."""
    from datetime import date

    from pipelines.defs.reconcile.publish import STORAGE_VERSION, publish, storage_version
    from pipelines.defs.resources import Warehouse
    from pipelines.lib.lake import Lake

    old = tmp_path / "old.duckdb"
    con = duckdb.connect()
    con.execute(f"attach '{samples_warehouse}' as published (read_only)")
    con.execute(f"attach '{old}' as old (storage_version 'latest')")
    con.execute("copy from database published to old")
    assert storage_version(con, "old") not in ("", STORAGE_VERSION)
    con.close()
    refused = subprocess.run([str(DUCKDB_CLI), "-readonly", str(old), "-c", "select 1"], capture_output=True, text=True)
    assert "version number" in refused.stderr

    publish(old, Lake(samples_warehouse.parent / "lake"), [date(2026, 11, 2)], connect=Warehouse(path=str(old)).session,
            day_files=lambda d: [])
    run = subprocess.run([str(DUCKDB_CLI), "-readonly", "-csv", str(old), "-c",
                          "select count(*), sum(invoice_cost_usd), (select count(*) from duckdb_tables() "
                          "where comment is not null and database_name = current_database()) from fct_spend_reconciliation"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1:] == ["92,25.646077630000,16"]  # the 16 tables keep their comments
    con = duckdb.connect(str(old), read_only=True)
    assert storage_version(con) == STORAGE_VERSION
    con.close()


def test_statements_piped_into_the_prompt_run_the_last_one_without_its_semicolon(warehouse):
    run = cli("--warehouse", str(warehouse), stdin="select 1 as a;\nselect sum(n) as b\nfrom t")
    assert (run.returncode, run.stdout, run.stderr) == (0, "a\n1\n\nb\n3\n", "")
    run = cli("--warehouse", str(warehouse), "-f", "-", stdin="select 1 as a;\nselec 2")  # a script: exit 1 on error
    assert (run.returncode, run.stdout) == (1, "a\n1\n")
