"""sql/examples/: every example runs through `darkcompute sql -f` on the samples' warehouse and
gives the numbers below (exact text: DECIMAL sums with all 12 places), each cross-checked against
the marts; the README shows every example as it is on disk; none depends on today's date."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from itertools import pairwise
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
llm_judge_evaluation,background,4,204,2.011842220000,25.89
ingest_summarization,background,4,452,1.394014175000,17.94
proactive_suggestions,background,4,223,1.266812700000,16.30
__unlogged__,unlogged,4,149,0.943245180000,12.14
session_summarization,background,4,316,0.815896200000,10.50
retry:doc_qa,retry,4,20,0.566261325000,7.29
retry:search_answer,retry,4,33,0.212366160000,2.73
nightly_digest,background,4,20,0.169642000000,2.18
retry:llm_judge_evaluation,retry,4,15,0.127956260000,1.65
retry:chat,retry,4,25,0.096010240000,1.24
""",
    "unlogged_trend": """\
usage_date,provider,token_invoice_usd,unlogged_usd,unlogged_pct,change_usd
2026-11-01,anthropic,2.658585550000,0.147880050000,5.56,
2026-11-02,anthropic,2.150647300000,0.120088200000,5.58,-0.027791850000
2026-11-03,anthropic,2.662869650000,0.161134600000,6.05,0.041046400000
2026-11-04,anthropic,2.768600450000,0.112836050000,4.08,-0.048298550000
2026-11-01,aws.bedrock,1.785680380000,0.025751550000,1.44,
2026-11-02,aws.bedrock,1.287347050000,0.048706075000,3.78,0.022954525000
2026-11-03,aws.bedrock,1.551824560000,0.052148800000,3.36,0.003442725000
2026-11-04,aws.bedrock,2.083938890000,0.039484225000,1.89,-0.012664575000
2026-11-01,openai,1.767543890000,0.043854380000,2.48,
2026-11-02,openai,2.157169600000,0.029607780000,1.37,-0.014246600000
2026-11-03,openai,2.064844450000,0.032832800000,1.59,0.003225020000
2026-11-04,openai,1.827025860000,0.128920670000,7.06,0.096087870000
""",
    "retries_by_job_type": """\
retried,providers,retry_calls,retry_cost_usd,share_of_retries_pct
doc_qa,"anthropic, aws.bedrock, openai",20,0.566261325000,48.83
search_answer,"anthropic, aws.bedrock, openai",33,0.212366160000,18.31
llm_judge_evaluation,"anthropic, aws.bedrock, openai",15,0.127956260000,11.03
chat,"anthropic, aws.bedrock, openai",25,0.096010240000,8.28
proactive_suggestions,"anthropic, aws.bedrock, openai",10,0.084008050000,7.24
ingest_summarization,"anthropic, aws.bedrock, openai",27,0.046681900000,4.03
session_summarization,"anthropic, aws.bedrock, openai",8,0.023876170000,2.06
autocomplete,"anthropic, aws.bedrock, openai",7,0.001946400000,0.17
embedding_regeneration,openai,18,0.000614020000,0.05
""",
    "provisional_days": """\
usage_date,provider,days_before_latest,provisional_rows,provisional_invoice_usd,rows_at_list_price,reconciled_at
2026-11-04,anthropic,0,6,2.768600450000,6,2026-11-20 04:00:00+00:00
2026-11-04,aws.bedrock,0,5,2.083938890000,5,2026-11-20 04:00:00+00:00
2026-11-04,openai,0,9,1.827025860000,9,2026-11-20 04:00:00+00:00
""",
    "dark_share_by_provider": """\
provider,invoice_usd,dark_usd,dark_pct,background_usd,retry_usd,unlogged_usd
anthropic,10.800702950000,3.765675100000,34.87,2.833092050000,0.390644150000,0.541938900000
aws.bedrock,6.808790880000,2.339867090000,34.37,1.638744745000,0.535031695000,0.166090650000
openai,8.036583800000,1.666309790000,20.73,1.197049480000,0.234044680000,0.235215630000
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
    for before, row in pairwise(rows):
        if row["provider"] == before["provider"]:
            assert Decimal(row["change_usd"]) == Decimal(row["unlogged_usd"]) - Decimal(before["unlogged_usd"])
        else:
            assert row["change_usd"] == ""  # a provider's first day has nothing to change from


def test_retries_by_job_type(samples_warehouse, capsys):
    rows = run_example(samples_warehouse, "retries_by_job_type", capsys)
    (retry,), = marts(samples_warehouse, f"select sum(retry_cost_usd) from fct_spend_reconciliation where {LAST_7}")
    assert sum(Decimal(r["retry_cost_usd"]) for r in rows) == retry  # every retry dollar, once


def test_provisional_days(samples_warehouse, capsys):
    rows = run_example(samples_warehouse, "provisional_days", capsys)
    (provisional,), = marts(samples_warehouse, "select count(*) from fct_spend_reconciliation where status = 'provisional'")
    assert sum(int(r["provisional_rows"]) for r in rows) == provisional == 20
    # the samples' provisional day has no cost export yet: every row is at list prices
    assert all(r["rows_at_list_price"] == r["provisional_rows"] for r in rows)


def test_dark_share_by_provider(samples_warehouse, capsys):
    rows = run_example(samples_warehouse, "dark_share_by_provider", capsys)
    for row in rows:
        assert Decimal(row["dark_usd"]) == sum(Decimal(row[c]) for c in ("background_usd", "retry_usd", "unlogged_usd"))
        (invoice,), = marts(samples_warehouse, "select sum(invoice_cost_usd) from fct_spend_reconciliation "
                            f"where provider = '{row['provider']}' and {LAST_7}")
        assert Decimal(row["invoice_usd"]) == invoice
