"""sql/examples/: every example runs through `darkcompute sql -f` on the samples' warehouse and
gives the numbers below (exact text: DECIMAL sums with all 12 places), each cross-checked against
the marts; the README shows every example as it is on disk; none depends on today's date."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main

pytestmark = pytest.mark.slow  # reconciles the samples (a CLI process): make test-fast leaves it out

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "sql" / "examples"

# What each example prints (`--format csv`) on the committed samples reconciled as of
# 2026-11-20T04:00:00Z (tests/samples_warehouse.py).
EXPECTED = {
    "top_dark_job_types": """\
job_type,dark_class,active_days,calls,cost_usd,share_of_dark_pct
llm_judge_evaluation,background,3,249,2.528960000000,57.11
__unlogged__,unlogged,3,271,0.472215240000,10.66
ingest_summarization,background,3,509,0.340504200000,7.69
proactive_suggestions,background,3,246,0.307765600000,6.95
session_summarization,background,3,350,0.251230500000,5.67
retry:llm_judge_evaluation,retry,3,21,0.219485000000,4.96
retry:doc_qa,retry,2,9,0.191362500000,4.32
retry:chat,retry,3,32,0.074913500000,1.69
retry:ingest_summarization,retry,3,20,0.013292700000,0.30
retry:search_answer,retry,3,19,0.009170200000,0.21
""",
    "unlogged_trend": """\
usage_date,provider,token_invoice_usd,unlogged_usd,unlogged_pct,change_usd
2026-11-01,openai,5.114795390000,0.126551310000,2.47,
2026-11-02,openai,6.349199690000,0.133025520000,2.10,0.006474210000
2026-11-03,openai,5.904083540000,0.212638410000,3.60,0.079612890000
""",
    "retries_by_job_type": """\
retried,providers,retry_calls,retry_cost_usd,share_of_retries_pct
llm_judge_evaluation,openai,21,0.219485000000,42.12
doc_qa,openai,9,0.191362500000,36.72
chat,openai,32,0.074913500000,14.37
ingest_summarization,openai,20,0.013292700000,2.55
search_answer,openai,19,0.009170200000,1.76
session_summarization,openai,12,0.007766250000,1.49
proactive_suggestions,openai,3,0.003739600000,0.72
autocomplete,openai,15,0.001154550000,0.22
embedding_regeneration,openai,9,0.000267080000,0.05
""",
    "provisional_days": """\
usage_date,provider,days_before_latest,provisional_rows,provisional_invoice_usd,rows_at_list_price,reconciled_at
""",
    "dark_share_by_provider": """\
provider,invoice_usd,dark_usd,dark_pct,background_usd,retry_usd,unlogged_usd
openai,17.748078620000,4.428261380000,24.95,3.434894760000,0.521151380000,0.472215240000
""",
}


def run_example(warehouse: Path, name: str, capsys) -> list[dict[str, str]]:
    capsys.readouterr()
    code = main(["sql", "--warehouse", str(warehouse), "--format", "csv", "-f", str(EXAMPLES / f"{name}.sql")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out == EXPECTED[name]
    return list(csv.DictReader(io.StringIO(out.out)))


# the last 7 reconciled days, as the examples define them
LAST_7 = "usage_date in (select distinct usage_date from fct_spend_reconciliation order by usage_date desc limit 7)"


def marts(warehouse: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_every_example_is_tested_and_none_reads_the_clock():
    assert sorted(p.stem for p in EXAMPLES.glob("*.sql")) == sorted(EXPECTED)
    for path in EXAMPLES.glob("*.sql"):
        text = path.read_text().lower()
        assert not any(clock in text for clock in ("current_date", "now()", "today()", "current_timestamp")), path


def test_the_readme_shows_every_example_as_it_is_on_disk():
    readme = (REPO / "README.md").read_text()
    for path in sorted(EXAMPLES.glob("*.sql")):
        assert f"sql/examples/{path.name}" in readme
        assert f"```sql\n{path.read_text()}```" in readme, f"README's copy of {path.name} differs from the file"


def test_top_dark_job_types(samples_warehouse, capsys):
    rows = run_example(samples_warehouse, "top_dark_job_types", capsys)
    # every job type's dollars are its rows of fct_dark_compute, to the picodollar
    for row in rows:
        (total,), = marts(samples_warehouse, "select sum(cost_usd) from fct_dark_compute "
                           f"where job_type = '{row['job_type']}' and {LAST_7}")
        assert Decimal(row["cost_usd"]) == total


def test_unlogged_trend(samples_warehouse, capsys):
    rows = run_example(samples_warehouse, "unlogged_trend", capsys)
    for row in rows:
        (unlogged,), = marts(samples_warehouse, "select sum(unlogged_cost_usd) from fct_spend_reconciliation "
                             f"where usage_date = '{row['usage_date']}' and provider = '{row['provider']}'")
        assert Decimal(row["unlogged_usd"]) == unlogged
    assert Decimal(rows[2]["change_usd"]) == Decimal(rows[2]["unlogged_usd"]) - Decimal(rows[1]["unlogged_usd"])


def test_retries_by_job_type(samples_warehouse, capsys):
    rows = run_example(samples_warehouse, "retries_by_job_type", capsys)
    (retry,), = marts(samples_warehouse, f"select sum(retry_cost_usd) from fct_spend_reconciliation where {LAST_7}")
    assert sum(Decimal(r["retry_cost_usd"]) for r in rows) == retry  # every retry dollar, once


def test_provisional_days(samples_warehouse, capsys):
    rows = run_example(samples_warehouse, "provisional_days", capsys)
    (provisional,), = marts(samples_warehouse, "select count(*) from fct_spend_reconciliation where status = 'provisional'")
    assert sum(int(r["provisional_rows"]) for r in rows) == provisional


def test_dark_share_by_provider(samples_warehouse, capsys):
    rows = run_example(samples_warehouse, "dark_share_by_provider", capsys)
    for row in rows:
        assert Decimal(row["dark_usd"]) == sum(Decimal(row[c]) for c in ("background_usd", "retry_usd", "unlogged_usd"))
        (invoice,), = marts(samples_warehouse, "select sum(invoice_cost_usd) from fct_spend_reconciliation "
                            f"where provider = '{row['provider']}' and {LAST_7}")
        assert Decimal(row["invoice_usd"]) == invoice
