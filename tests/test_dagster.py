"""The Dagster layer: definitions load, one partition materializes in process, the schedule asks
for the right partitions, and each asset check fails on a fixture built to break it."""

from datetime import date, datetime, timezone
from decimal import Decimal

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.definitions import defs
from pipelines.defs.anthropic.pull import AnthropicAdminAPI
from pipelines.defs.openai.pull import OpenAIAdminAPI
from pipelines.defs.reconcile import checks
from pipelines.defs.resources import (
    IngestLimits,
    LakeStore,
    LiteLLMAttribution,
    Reconciliation,
    SourceStore,
    Warehouse,
)
from pipelines.defs.schedules import nightly
from pipelines.lib import sql
from pipelines.lib.dbt import manifest
from pipelines.lib.lake import Lake

from .fixtures import DAY
from .test_sql_models import APP, COSTS, MODEL, USAGE, WORKER

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

D = Decimal


@pytest.fixture(scope="module")
def definitions():
    return defs()


def write_sources(root):
    folder = DAY.isoformat()
    files = {
        f"openai/usage/completions/{folder}/page-001.json": USAGE,
        f"openai/costs/{folder}/page-001.json": COSTS,
        f"app_logs/{folder}/app-00.jsonl": "\n".join(APP + ['{"timestamp": "2026-11-02T10:00:09Z", "gen_ai.pro']),
        f"worker_logs/{folder}/worker-00.jsonl": "\n".join(WORKER),
    }
    for key, text in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def materialize(definitions, tmp_path, selection, day=DAY):
    resources = {
        "sources": SourceStore(uri=str(tmp_path / "sources"), pulled=str(tmp_path / "landing" / "api")),
        "openai_admin": OpenAIAdminAPI(landing=str(tmp_path / "landing" / "api")),  # no key: pulls nothing
        "anthropic_admin": AnthropicAdminAPI(landing=str(tmp_path / "landing" / "api")),
        "lake": LakeStore(root=str(tmp_path / "lake")),
        "warehouse": Warehouse(path=str(tmp_path / "warehouse.duckdb")),
        "ingest_limits": IngestLimits(),
        "litellm": LiteLLMAttribution(),
        "reconciliation": Reconciliation(),
    }
    return dg.materialize(
        list(definitions.assets) + list(definitions.asset_checks), selection=selection,
        partition_key=day.isoformat(), resources=resources, instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_definitions_load(definitions):
    keys = {k.to_user_string() for k in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert keys >= {"openai_usage", "openai_costs", "anthropic_usage", "anthropic_costs", "bedrock_invocations",
                    "cur_lines", "app_calls", "worker_calls",
                    "fct_spend_reconciliation",
                    "fct_dark_compute", "fct_spend_diagnosis", "rejected_records", "source_status", "warehouse_tables"}
    check_names = {c.name for spec in definitions.asset_checks for c in spec.check_specs}
    assert check_names == {"identity_holds", "invoice_coverage", "invoice_not_missing", "no_rejected_lines",
                           "lines_conserved", "no_unrecognized_files", "price_gap_within_share",
                           "job_type_cost_within_factor", "dark_share_within_factor", "job_types_within_budget",
                           "features_within_budget", "retry_amplification_within_factor",
                           "cache_hit_rate_steady", "tenant_cache_hit_rate_steady",
                           "cost_growth_within_users"}
    # every dbt test on a model is a check of the dbt assets, named as dbt names it
    tests = {n["name"] for n in manifest()["nodes"].values() if n["resource_type"] == "test"
             and any(p.startswith("model.") for p in n["depends_on"]["nodes"])}
    graph = definitions.resolve_asset_graph()
    assert {k.name for k in graph.asset_check_keys} == check_names | tests
    assert definitions.resolve_job_def("nightly_reconciliation").partitions_def.start == datetime(
        2024, 1, 1, tzinfo=timezone.utc)


def test_nightly_schedule_requests_yesterday_and_the_two_days_before():
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc))
    requests = list(nightly(context))
    assert [r.partition_key for r in requests] == ["2026-11-22", "2026-11-21", "2026-11-20"]
    assert len({r.run_key for r in requests}) == 3
    assert {r.tags["darkcompute/as_of"] for r in requests} == {"2026-11-23T04:00:00+00:00"}


def test_one_partition_materializes_in_process(definitions, tmp_path):
    write_sources(tmp_path / "sources")
    ingest = materialize(definitions, tmp_path, ["openai_api_pages", "anthropic_api_pages", "openai_usage",
                                                 "openai_costs", "app_calls", "worker_calls"])
    assert ingest.success
    result = materialize(definitions, tmp_path, dg.AssetSelection.kind("dbt") | dg.AssetSelection.assets(
        "price_catalog", "rejected_records", "source_status", "warehouse_tables"))
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    dbt_tests = {n["name"] for n in manifest()["nodes"].values() if n["resource_type"] == "test"}
    assert {k: v for k, v in evaluations.items() if k not in dbt_tests} == {
        "identity_holds": True, "invoice_coverage": True, "invoice_not_missing": True, "no_rejected_lines": False,
        "lines_conserved": True, "no_unrecognized_files": True,
        # the fixture's cost lines are 80% of gpt-4o-mini's list price: a price gap of 20% > 5% warns
        "price_gap_within_share": False,
        # one day in the lake: too little history for the anomaly checks; no budgets in config/budgets.csv
        "job_type_cost_within_factor": True, "dark_share_within_factor": True, "job_types_within_budget": True,
        "features_within_budget": True,
        # the fixture's OpenAI cells: requests counted against calls logged, none above 1.5 per logged call
        "retry_amplification_within_factor": True,
        # a first day has no history to compare its cache hit rates with
        "cache_hit_rate_steady": True, "tenant_cache_hit_rate_steady": True,
        # one day: no whole week to compare
        "cost_growth_within_users": True}
    # every dbt test ran as a check of the dbt assets, and passed
    assert {k: v for k, v in evaluations.items() if k in dbt_tests} == dict.fromkeys(dbt_tests, True)
    assert len(dbt_tests) >= 25

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute(
        "select model, invoice_cost_usd, user_cost_usd, unlogged_cost_usd, status from fct_spend_reconciliation "
        "order by model").fetchall() == [
        ("__non_token__", D("0.06"), 0, 0, "final"), (MODEL, D("0.00252"), D("0.00084"), D("0.00048"), "final")]
    assert con.execute("select job_type, cost_usd from fct_dark_compute order by job_type").fetchall() == [
        ("__unlogged__", D("0.00048")), ("ingest_summarization", D("0.00084")), ("retry:chat", D("0.00036"))]
    assert con.execute("select source, file, line, reason from rejected_records").fetchall() == [
        ("app_logs", "app_logs/2026-11-02/app-00.jsonl", 4, "invalid JSON (truncated or malformed line)")]
    assert con.execute(
        "select sum(lines_read), sum(records), sum(skipped), sum(rejected) from ingest_files "
        "where source in ('app_logs', 'worker_logs')").fetchone() == (6, 4, 1, 1)
    # sources that never delivered (Anthropic, embeddings here) are not reported as missing
    assert con.execute("select source, status, files, records from source_status order by source").fetchall() == [
        ("app_logs", "ok", 1, 3), ("openai/costs", "ok", 1, 4), ("openai/usage/completions", "ok", 1, 1),
        ("worker_logs", "ok", 1, 1)]
    by_key = {m.asset_key.to_user_string(): m.metadata for m in result.asset_materializations_for_node("dbt_models")}
    assert set(by_key) == {n["name"] for n in manifest()["nodes"].values() if n["resource_type"] == "model"}
    metadata = by_key["fct_spend_reconciliation"]
    assert metadata["dagster/row_count"].value == 2
    assert metadata["invoice_cost_usd"].value == "0.062520000000"


def test_blocking_identity_check_keeps_a_wrong_number_out_of_the_warehouse(definitions, tmp_path):
    write_sources(tmp_path / "sources")
    materialize(definitions, tmp_path, ["openai_usage", "openai_costs", "app_calls", "worker_calls"])
    materialize(definitions, tmp_path, ["price_catalog", "fct_spend_reconciliation", "fct_dark_compute",
                                        "rejected_records"])
    path = Lake(tmp_path / "lake").partition_file("marts", "fct_spend_reconciliation", DAY)
    table = pq.read_table(path)
    broken = table.set_column(
        table.schema.get_field_index("user_cost_usd"), "user_cost_usd",
        pa.array([v + D("0.01") for v in table["user_cost_usd"].to_pylist()], table.schema.field("user_cost_usd").type),
    )
    pq.write_table(broken, path)
    result = materialize(definitions, tmp_path, dg.AssetSelection.assets("warehouse_tables")
                         | dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey("fct_spend_reconciliation"),
                                                                     "identity_holds")))
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.metadata["violating_rows"].value == 2
    assert not result.asset_materializations_for_node("warehouse_tables")
    assert not (tmp_path / "warehouse.duckdb").exists()


# ---------- each check fails on a fixture built to break it (plain functions)

def mart_file(tmp_path, rows, provider="openai"):
    schema = pa.schema([(c, pa.decimal128(38, 12)) for c in
                        ("invoice_cost_usd", "user_cost_usd", "background_cost_usd", "retry_cost_usd",
                         "unlogged_cost_usd", "non_token_cost_usd")] + [("provider", pa.string())])
    path = tmp_path / "mart.parquet"
    pq.write_table(pa.Table.from_pylist([dict(zip(schema.names[:-1], map(D, r), strict=True), provider=provider) for r in rows],
                                        schema=schema), path)
    return path


def test_identity_check_passes_and_fails(tmp_path):
    con = sql.connect()
    good = mart_file(tmp_path, [("10", "4", "3", "1", "2", "0"), ("0.06", "0", "0", "0", "0", "0.06")])
    assert checks.identity(con, good).passed
    off_by_a_picodollar = mart_file(tmp_path, [("10", "4", "3", "1", "2.000000000001", "0")])
    outcome = checks.identity(con, off_by_a_picodollar)
    assert not outcome.passed and outcome.metadata == {"violating_rows": 1, "worst_gap_usd": "1E-12"}
    negative_residual = mart_file(tmp_path, [("10", "8", "3", "1", "-2", "0")])
    assert not checks.identity(con, negative_residual).passed


def test_coverage_check_fails_below_the_minimum(tmp_path):
    con = sql.connect()
    path = mart_file(tmp_path, [("10", "2", "1", "1", "6", "0"), ("5", "0", "0", "0", "0", "5")])
    assert checks.coverage(con, path, D("0.4")).passed
    outcome = checks.coverage(con, path, D("0.5"))
    assert not outcome.passed and outcome.metadata["coverage"] == 0.4


def test_rejected_check_fails_when_any_line_was_rejected(tmp_path):
    con = sql.connect()
    schema = pa.schema([("delivery_date", pa.date32()), ("source", pa.string()), ("file", pa.string()),
                        ("line", pa.int64()), ("reason", pa.string()), ("raw", pa.string())])
    path = tmp_path / "rejected.parquet"
    pq.write_table(schema.empty_table(), path)
    assert checks.rejected(con, path).passed
    pq.write_table(pa.Table.from_pylist([
        {"delivery_date": date(2026, 11, 2), "source": "app_logs", "file": "a.jsonl", "line": 3, "reason": "bad",
         "raw": "{"}] * 2, schema=schema), path)
    outcome = checks.rejected(con, path)
    assert not outcome.passed and outcome.metadata["rejected_lines"] == 2


def test_conservation_check_fails_when_a_file_loses_or_gains_lines(tmp_path):
    con = sql.connect()
    files_schema = pa.schema([("source", pa.string()), ("file", pa.string()), ("sha256", pa.string()),
                              ("bytes", pa.int64()), ("lines_read", pa.int64()), ("records", pa.int64()),
                              ("skipped", pa.int64()), ("rejected", pa.int64())])
    records = tmp_path / "records.parquet"
    # a.jsonl: two records from line 1 (an OTLP line with two spans) and one from line 2
    pq.write_table(pa.table({"source_file": ["a.jsonl", "a.jsonl", "a.jsonl", "b.jsonl"],
                             "source_line": [1, 1, 2, 1]}), records)

    def files_table(rows):
        path = tmp_path / "files.parquet"
        pq.write_table(pa.Table.from_pylist(
            [dict(zip(["source", "file", "lines_read", "records", "skipped", "rejected"], r, strict=True), sha256="",
                   bytes=0)
             for r in rows], schema=files_schema), path)
        return [str(path)]

    balanced = files_table([("app_logs", "a.jsonl", 4, 2, 1, 1), ("app_logs", "b.jsonl", 1, 1, 0, 0)])
    assert checks.conservation(con, balanced, [str(records)]).passed
    lost_a_line = files_table([("app_logs", "a.jsonl", 5, 2, 1, 1), ("app_logs", "b.jsonl", 1, 1, 0, 0)])
    outcome = checks.conservation(con, lost_a_line, [str(records)])
    assert not outcome.passed and outcome.metadata["unbalanced_files"] == 1
    counted_twice = files_table([("app_logs", "a.jsonl", 4, 2, 1, 1), ("app_logs", "b.jsonl", 2, 2, 0, 0)])
    assert not checks.conservation(con, counted_twice, [str(records)]).passed
