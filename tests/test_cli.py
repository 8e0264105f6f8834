"""The command line: bad flags say what was expected; a run prints the summary table."""

import pytest

from pipelines.cli import main


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
