"""The marts are identical row for row before and after the SQL layer becomes a dbt project
(issue 11): on the committed samples and on planted-truth worlds of all three providers.

Each world is simulated (fixed seed) into tmp_path, reconciled by the real CLI in a subprocess as
of a fixed time, dumped to CSV by `tests/golden/worlds.dump` and compared with the dump committed
under `tests/golden/<world>/`, written by the pre-dbt code. Regenerate those only when a change is
meant to change the numbers (`.venv/bin/python -m tests.golden.regenerate`, see its docstring).
"""

from decimal import Decimal

import pytest

from tests.golden.worlds import GOLDEN, REQUIRED_TABLES, WORLDS, build, differences, dump, totals

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("world", list(WORLDS))
def test_marts_equal_the_golden_dump(world, tmp_path):
    golden = GOLDEN / world
    expected = totals(golden)
    for table in REQUIRED_TABLES:
        assert (golden / f"{table}.csv").exists(), f"no golden {table} for {world}"
    assert expected["fct_spend_reconciliation rows"] > 0
    assert expected["fct_dark_compute rows"] > 0
    assert expected["source_status rows"] > 0
    assert expected["fct_spend_reconciliation.invoice_cost_usd"] > 0
    assert expected["fct_dark_compute.cost_usd"] > 0

    lake = build(world, tmp_path / "run")
    dump(lake, tmp_path / "dump")
    got = totals(tmp_path / "dump")

    assert got["fct_spend_reconciliation rows"] > 0
    assert got["fct_dark_compute rows"] > 0
    moved = {k: (expected.get(k), got.get(k)) for k in expected.keys() | got.keys() if expected.get(k) != got.get(k)}
    problems = differences(golden, tmp_path / "dump")
    report = (f"{world}: the marts differ from tests/golden/{world}/\n"
              + "".join(f"  {k}: golden {old} -> now {new}\n" for k, (old, new) in sorted(moved.items()))
              + "\n".join(problems))
    invoice = got["fct_spend_reconciliation.invoice_cost_usd"]
    assert isinstance(invoice, Decimal)
    assert invoice == expected["fct_spend_reconciliation.invoice_cost_usd"], (
        f"the invoice total moved from {expected['fct_spend_reconciliation.invoice_cost_usd']} to {invoice}\n"
        + report)
    assert not moved and not problems, report
