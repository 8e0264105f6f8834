"""The dbt data tests of `sql/` (issue 11): they pass on a clean day, each one on the marts fails on
a deliberately broken row, and a failing test fails the day's build.

The marts are computed exactly, so no input makes the identity or conservation fail. The module
builds the day of tests/test_sql_models.py once (`dbt run` on the in-memory DuckDB of this
process), then, per case, rewrites a mart's Parquet file (which the mart's relation reads) with
one row broken and runs `dbt test` on the marts against it; the file is restored after each case.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.reconcile.model import ensure_catalog, reconcile_day
from pipelines.lib import dbt

from .fixtures import DAY, write_day
from .test_sql_models import APP, COSTS, MODEL, RECONCILED_AT, USAGE, WORKER

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

MARTS = ("fct_spend_reconciliation", "fct_dark_compute", "focus_costs", "fct_spend_diagnosis", "fct_retry_amplification",
         "fct_cost_tail", "fct_savings_opportunities")
PICO = "0.000000000001"


def _lake(root: Path):
    lake = write_day(root, DAY, usage_pages=[USAGE], cost_pages=[COSTS], app_lines=APP, worker_lines=WORKER)
    ensure_catalog(lake, DAY)
    return lake


def _results(events: list[dict]) -> dict[str, tuple[str, int]]:
    """Test name -> (status, failing rows) from dbt's result events."""
    return {e["data"]["node_info"]["node_name"]: (e["data"]["status"], int(e["data"].get("num_failures", 0)))
            for e in events if e["info"]["name"] == "LogTestResult"}


class MartTests:
    """The day's models built once in this process, in dbt's in-memory database; `run(broken)`
    replaces marts with broken rows (`{mart: select over the relation named like the mart}`), runs
    `dbt test` on the marts and restores them."""

    def __init__(self, args: list[str]):
        self.args = args
        for mart in MARTS:
            self.execute(f"create table saved_{mart} as select * from {mart}")

    @staticmethod
    def rows(mart: str, where: str = "true") -> int:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        cursor = DuckDBConnectionManager.env().handle().cursor()
        return cursor.execute(f"select count(*) from saved_{mart} where {where}").fetchone()[0]

    @staticmethod
    def execute(statement: str) -> None:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        DuckDBConnectionManager.env().handle().cursor().execute(statement)

    def run(self, broken: dict[str, str]) -> dict[str, tuple[str, int]]:
        for mart, select in broken.items():
            self.execute(f"create or replace table {mart} as with {mart} as (select * from saved_{mart}) {select}")
        events: list[dict] = []
        try:
            result = dbt._runner(events).invoke(["test", "--quiet", "--select", *MARTS, *self.args])
            assert result.exception is None, result.exception
            return _results(events)
        finally:
            for mart in MARTS:
                self.execute(f"create or replace table {mart} as select * from saved_{mart}")


@pytest.fixture(scope="module")
def mart_tests(tmp_path_factory):
    lake = _lake(tmp_path_factory.mktemp("lake"))
    with dbt.workspace() as target:
        args = dbt._project_args(target)
        parameters = dbt.run_parameters(lake, DAY, RECONCILED_AT, None)
        with dbt.environment(dbt.run_env(parameters, None, None, None)):
            try:
                result = dbt._runner([]).invoke(["run", "--quiet", *args])
                assert result.success, result.exception
                yield MartTests(args)
            finally:
                dbt._close()


def _test_nodes(model: str | None = None) -> set[str]:
    nodes = dbt.manifest()["nodes"].values()
    return {n["name"] for n in nodes if n["resource_type"] == "test"
            and (model is None or f"model.darkcompute.{model}" in n["depends_on"]["nodes"])}


def test_every_test_passes_on_a_clean_day(tmp_path):
    build = dbt.build(_lake(tmp_path / "lake"), DAY, RECONCILED_AT)
    results = _results(build.events)
    assert build.success and build.failures == []
    assert set(results) == _test_nodes()
    # 3 of them fct_gateway_estimate's (grain, not null, parts sum), 1 int_call_costs' (sums to the allocations),
    # 4 fct_retry_amplification's (grain, not null, status values, counts add up), 3 fct_cost_tail's (grain, not
    # null, ordered), 3 fct_savings_opportunities' (grain, not null, parts)
    # 2 fct_cache_efficiency's and 2 fct_cache_efficiency_tenant's (grain, not null)
    # + 2 fct_feature_users' (grain, not null), 3 fct_user_action_cost's (grain, not null, the features + dark +
    # non-token = invoice identity)
    assert len(results) == 58
    assert {status for status, _ in results.values()} == {"pass"}
    assert {"assert_reconciliation_identity", "assert_dark_compute_conservation",
            "fct_spend_reconciliation_grain_unique", "fct_dark_compute_grain_unique"} <= set(results)


def test_the_marts_tests_pass_on_the_unbroken_marts(mart_tests):
    results = mart_tests.run({})
    assert set(results) == (_test_nodes("fct_spend_reconciliation") | _test_nodes("fct_dark_compute")
                            | _test_nodes("focus_costs") | _test_nodes("fct_spend_diagnosis")
                            | _test_nodes("fct_retry_amplification")
                            | _test_nodes("fct_cost_tail") | _test_nodes("fct_savings_opportunities"))
    assert len(results) == 30  # with the user-action identity, which reads the reconciliation and fct_dark_compute
    assert {status for status, _ in results.values()} == {"pass"}


def failed(results: dict[str, tuple[str, int]]) -> dict[str, int]:
    return {name: n for name, (status, n) in results.items() if status != "pass"}


def test_identity_fails_on_a_row_a_picodollar_off(mart_tests):
    results = mart_tests.run({"fct_spend_reconciliation": f"""
        select * replace (case when model = '{MODEL}' then (user_cost_usd + {PICO})::decimal(38, 12)
                               else user_cost_usd end as user_cost_usd)
        from fct_spend_reconciliation"""})
    assert failed(results) == {"assert_reconciliation_identity": 1}
    assert results["assert_reconciliation_identity"][0] == "fail"  # severity error, not warn


def test_identity_fails_on_a_negative_unlogged_residual_even_when_the_sum_holds(mart_tests):
    results = mart_tests.run({"fct_spend_reconciliation": f"""
        select * replace (
            case when model = '{MODEL}' then (user_cost_usd + unlogged_cost_usd + 0.01)::decimal(38, 12)
                 else user_cost_usd end as user_cost_usd,
            case when model = '{MODEL}' then -0.01::decimal(38, 12) else unlogged_cost_usd end as unlogged_cost_usd)
        from fct_spend_reconciliation"""})
    # the cell's background + retry + unlogged moved too, so conservation sees it as well, and the
    # retry amplification's unlogged dollars are no longer the reconciliation's
    assert failed(results) == {"assert_reconciliation_identity": 1, "assert_dark_compute_conservation": 1,
                               "assert_retry_amplification_counts_add_up": 1}


def test_diagnosis_fails_on_a_part_a_picodollar_off_and_on_a_missing_row(mart_tests):
    results = mart_tests.run({"fct_spend_diagnosis": f"""
        select * replace (case when model = '{MODEL}' then (quantity_gap_usd + {PICO})::decimal(38, 12)
                               else quantity_gap_usd end as quantity_gap_usd)
        from fct_spend_diagnosis"""})
    assert failed(results) == {"assert_diagnosis_parts_sum_to_the_difference": 1}
    assert results["assert_diagnosis_parts_sum_to_the_difference"][0] == "fail"  # severity error
    results = mart_tests.run({"fct_spend_diagnosis": "select * from fct_spend_diagnosis where model <> '__non_token__'"})
    assert failed(results) == {"assert_diagnosis_parts_sum_to_the_difference": 1}


def test_retry_amplification_fails_on_a_count_or_dollar_that_does_not_add_up(mart_tests):
    results = mart_tests.run({"fct_retry_amplification": """
        select * replace (logged_retries + 1 as logged_retries) from fct_retry_amplification"""})
    assert failed(results) == {"assert_retry_amplification_counts_add_up": 1}
    assert results["assert_retry_amplification_counts_add_up"][0] == "fail"  # severity error
    results = mart_tests.run({"fct_retry_amplification": f"""
        select * replace ((unlogged_cost_usd + {PICO})::decimal(38, 12) as unseen_cost_usd)
        from fct_retry_amplification"""})
    assert failed(results) == {"assert_retry_amplification_counts_add_up": 1}
    results = mart_tests.run({"fct_retry_amplification": """
        select * replace ('settled' as status) from fct_retry_amplification union all
        select * replace ('final' as status) from fct_retry_amplification"""})
    # a repeated cell: each copy still agrees with the reconciliation, the grain test sees it
    assert failed(results) == {"fct_retry_amplification_grain_unique": 1, "fct_retry_amplification_status_values": 1}


def test_conservation_fails_when_a_dark_dollar_is_made_up(mart_tests):
    results = mart_tests.run({"fct_dark_compute": f"""
        select * replace (case when job_type = 'retry:chat' then (cost_usd + {PICO})::decimal(38, 12)
                               else cost_usd end as cost_usd)
        from fct_dark_compute"""})
    # a made-up dark dollar breaks the features + dark compute + non-token = invoice identity too
    assert failed(results) == {"assert_dark_compute_conservation": 1, "assert_user_action_cost_identity": 1}
    assert results["assert_dark_compute_conservation"][0] == "fail"


def test_conservation_fails_when_user_dollars_are_counted_as_retries(mart_tests):
    # the identity still holds (a dollar moved between two classes), the dark mart disagrees
    results = mart_tests.run({"fct_spend_reconciliation": """
        select * replace (
            case when model <> '__non_token__' then (user_cost_usd - 0.0001)::decimal(38, 12)
                 else user_cost_usd end as user_cost_usd,
            case when model <> '__non_token__' then (retry_cost_usd + 0.0001)::decimal(38, 12)
                 else retry_cost_usd end as retry_cost_usd)
        from fct_spend_reconciliation"""})
    assert failed(results) == {"assert_dark_compute_conservation": 1}


def test_grain_tests_fail_on_a_repeated_row(mart_tests):
    results = mart_tests.run({
        "fct_spend_reconciliation": "select * from fct_spend_reconciliation union all "
                                    "select * from fct_spend_reconciliation where model = '__non_token__'",
        "fct_dark_compute": "select * from fct_dark_compute union all "
                            "select * from fct_dark_compute where dark_class = 'retry'",
    })
    # the repeated rows add up to themselves, so only the grain tests, conservation, the FOCUS export
    # (whose BilledCost no longer matches the doubled invoice) and the user-action identity (dark
    # compute doubled) see them
    assert failed(results) == {"fct_spend_reconciliation_grain_unique": 1, "fct_dark_compute_grain_unique": 1,
                               "assert_dark_compute_conservation": 1, "assert_focus_billed_cost_is_the_invoice": 1,
                               "assert_user_action_cost_identity": 1}


def test_not_null_and_accepted_values_fail_on_a_bad_row(mart_tests):
    results = mart_tests.run({
        "fct_spend_reconciliation": "select * replace ('settled' as status, null::timestamptz as reconciled_at) "
                                    "from fct_spend_reconciliation",
        "fct_dark_compute": "select * replace (case when dark_class = 'retry' then 'user' else dark_class end "
                            "as dark_class, 'guessed' as allocation_basis) from fct_dark_compute",
    })
    assert failed(results) == {
        "fct_spend_reconciliation_not_null": 1,
        "fct_spend_reconciliation_status_values": 1,
        "fct_dark_compute_dark_class_values": 1,
        "fct_dark_compute_allocation_basis_values": 1,
    }


def test_focus_billed_cost_a_picodollar_off_fails_the_invoice_and_the_line(mart_tests):
    results = mart_tests.run({"focus_costs": f"""
        select * replace (case when "x_DarkClass" = 'retry' and "x_TokenClass" = 'output'
                               then ("BilledCost" + {PICO})::decimal(38, 12) else "BilledCost" end as "BilledCost")
        from focus_costs"""})
    # the day's openai total and the output line are off; EffectiveCost no longer matches BilledCost there
    assert failed(results) == {"assert_focus_billed_cost_is_the_invoice": 1,
                               "assert_focus_allocated_rows_sum_to_their_line": 1}


def test_focus_quantity_outside_usage_and_a_missing_required_value_fail(mart_tests):
    results = mart_tests.run({"focus_costs": """
        select * replace (
            case when "x_TokenClass" = 'output' then 'Credit' else "ChargeCategory" end as "ChargeCategory",
            case when "x_DarkClass" = 'user' then null else "ServiceName" end as "ServiceName")
        from focus_costs"""})
    # the output line's 4 allocated rows (user, background, retry, unlogged) keep their tokens as a Credit
    assert failed(results) == {"assert_focus_quantity_rules": 4, "focus_costs_required_not_null": 1}


def test_focus_rows_that_do_not_add_up_to_their_line_fail(mart_tests):
    results = mart_tests.run({"focus_costs": """
        select * replace (case when "x_DarkClass" = 'unlogged' then "ConsumedQuantity" + 1
                               else "ConsumedQuantity" end as "ConsumedQuantity")
        from focus_costs
        union all
        select * from focus_costs where "x_DarkClass" = 'non_token'"""})
    # two token lines with an unlogged row, one token too many each (and PricingQuantity no longer
    # their tokens in millions), and the non-token line twice: its dollars doubled
    assert failed(results) == {"assert_focus_allocated_rows_sum_to_their_line": 3, "focus_costs_grain_unique": 1,
                               "assert_focus_billed_cost_is_the_invoice": 1}


def test_the_tail_and_savings_tests_fail_on_broken_rows(mart_tests):
    # a p99 above the costliest call; a top 1% costlier than the whole spender
    results = mart_tests.run({"fct_cost_tail": """
        select * replace ((max_cost_usd + 0.000000000001)::decimal(38, 12) as p99_cost_usd) from fct_cost_tail"""})
    assert failed(results) == {"assert_cost_tail_ordered": mart_tests.rows("fct_cost_tail")}
    assert results["assert_cost_tail_ordered"][0] == "fail"
    # savings a picodollar off the difference; real-time dollars on a user feature
    results = mart_tests.run({"fct_savings_opportunities": f"""
        select * replace (case when spender_kind = 'feature' then (savings_usd + {PICO})::decimal(38, 12)
                               else savings_usd end as savings_usd)
        from fct_savings_opportunities"""})
    features = mart_tests.rows("fct_savings_opportunities", "spender_kind = 'feature'")
    assert failed(results) == {"assert_savings_parts": features}
    results = mart_tests.run({"fct_savings_opportunities": """
        select * replace (case when spender_kind = 'feature' then cost_usd else realtime_cost_usd end
                          as realtime_cost_usd,
                          case when spender_kind = 'feature' then cost_usd else savings_usd end as savings_usd)
        from fct_savings_opportunities"""})
    assert failed(results) == {"assert_savings_parts": features}


def test_a_price_listed_twice_in_the_catalog_fails_the_days_build(tmp_path):
    # a catalog partition holding one price twice would double the day's catalog weights: the grain
    # test of dim_price stops the build there, before any mart is written, and the day fails
    lake = _lake(tmp_path / "lake")
    catalog = lake.partition_file("catalog", "model_prices", DAY)
    doubled = tmp_path / "doubled.parquet"
    con = duckdb.connect()
    try:
        con.execute(f"""copy (select * from read_parquet('{catalog}') union all
                              select * from read_parquet('{catalog}')
                              where canonical_model = 'gpt-4o-mini' and token_class = 'output')
                        to '{doubled}' (format parquet)""")
    finally:
        con.close()
    shutil.copy(doubled, catalog)

    build = dbt.build(lake, DAY, RECONCILED_AT)
    results = _results(build.events)
    assert not build.success and build.marts == {}
    # three duplicated keys: the text rate, and the audio and image rates that fall back to it
    assert failed(results) == {"dim_price_grain_unique": 3}
    assert [f.split(":")[0] for f in build.failures] == ["test dim_price_grain_unique"]
    models = {e["data"]["node_info"]["node_name"]: e["data"]["status"] for e in build.events
              if e["info"]["name"] == "LogModelResult"}
    assert "fct_spend_reconciliation" not in models and "dim_price" in models  # skipped downstream
    with pytest.raises(RuntimeError, match="dim_price_grain_unique"):
        reconcile_day(None, lake, DAY, RECONCILED_AT)

