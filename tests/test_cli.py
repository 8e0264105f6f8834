"""The command line: bad flags say what was expected; a run prints the summary table."""

import pytest

from pipelines.cli import main

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["reconcile", "--date", "2026-13-01"], "expected a date as YYYY-MM-DD, got '2026-13-01'"),
        (["reconcile"], "one of the arguments --date --all is required"),
        (["simulate", "--out", "x", "--start", "2026-11-01", "--days", "0"], "expected a positive whole number"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_flags_print_what_was_expected(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err


def test_to_before_date_is_refused(capsys, tmp_path):
    code = main(["reconcile", "--date", "2026-11-03", "--to", "2026-11-01", "--warehouse", str(tmp_path / "w.duckdb")])
    assert code == 2
    assert "--to 2026-11-01 is before --date 2026-11-03" in capsys.readouterr().err


def test_sql_without_a_warehouse_says_how_to_make_one(capsys, tmp_path):
    assert main(["sql", "select 1", "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    assert "run `darkcompute reconcile`" in capsys.readouterr().err


def test_summary_says_how_each_providers_invoice_was_priced(tmp_path, capsys):
    """Under each provider's table, the invoice's dollars by allocation_basis, largest first, with
    their shares: a coarse cost export's share is visible without SQL."""
    from datetime import date

    import duckdb

    from pipelines.cli import print_summary

    path = str(tmp_path / "w.duckdb")
    con = duckdb.connect(path)
    con.execute("""
        create table fct_spend_reconciliation as select * from (values
            (date '2026-11-02', 'openai', 'final', 'cost_line', 3.00::decimal(38, 12)),
            (date '2026-11-02', 'openai', 'final', 'catalog_weights', 1.00::decimal(38, 12)),
            (date '2026-11-02', 'anthropic', 'provisional', 'catalog_price', 2.50::decimal(38, 12))
        ) v(usage_date, provider, status, allocation_basis, invoice_cost_usd)""")
    con.execute("""alter table fct_spend_reconciliation add column user_cost_usd decimal(38, 12) default 0;
                   alter table fct_spend_reconciliation add column background_cost_usd decimal(38, 12) default 0;
                   alter table fct_spend_reconciliation add column retry_cost_usd decimal(38, 12) default 0;
                   alter table fct_spend_reconciliation add column unlogged_cost_usd decimal(38, 12) default 0;
                   alter table fct_spend_reconciliation add column non_token_cost_usd decimal(38, 12) default 0;
                   create table fct_dark_compute (usage_date date, provider varchar, dark_class varchar,
                                                  job_type varchar, cost_usd decimal(38, 12))""")
    con.close()

    assert print_summary(path, date(2026, 11, 2), date(2026, 11, 2)) is None
    out = capsys.readouterr().out.splitlines()
    lines = [line for i, line in enumerate(out)
             if line.startswith("invoice priced by") or (line.startswith("    ") and "priced by" in out[i - 1])]
    assert lines == [  # within 100 columns: the next line goes on
        "invoice priced by: list prices (provisional) 2.50 (100.0%)",
        "invoice priced by: its own cost lines 3.00 (75.0%),",
        "    coarser cost lines shared by list-price weights 1.00 (25.0%)",
    ]


def test_reconcile_says_which_groupings_the_pulls_ask_for():
    """The demo names the pulls' groupings, from the pulls' own settings."""
    from pipelines.cli import pull_groupings

    assert pull_groupings() == [
        "OpenAI (OPENAI_ADMIN_KEY): usage/completions by project_id, model, batch, service_tier; "
        "usage/embeddings by project_id, model; costs by project_id, line_item",
        "Anthropic (ANTHROPIC_ADMIN_KEY): usage_report by workspace_id, model, service_tier, context_window, "
        "inference_geo; cost_report by workspace_id, description",
    ]
