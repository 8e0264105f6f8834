"""The reconciliation: the dbt project's models (one asset each, `sql/models/`), the price catalog
they read, the checks on the marts, and the warehouse."""


from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import dagster as dg
import dagster_dbt
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from pipelines.lib import dbt as dbt_run
from pipelines.lib import sql
from pipelines.lib.bronze.aws import billing_period_start
from pipelines.lib.budgets import load_budgets
from pipelines.lib.ingest import REJECTS_SCHEMA
from pipelines.lib.lake import Lake
from pipelines.lib.preview import markdown

from ..partitions import around_day, daily
from ..resources import LakeStore, Reconciliation, Warehouse, partition_day
from . import checks
from .model import ensure_catalog
from .publish import RESTATEMENTS, publish, restatement_file_name, restatement_rows

# The bronze tables, from the registry of sources (sql/models/staging/_sources.yml): those partitioned
# by delivery day, and those by billing period (CUR, dated the period's first day). Each also has its
# `_files` and `_rejects` tables in the lake.
_TABLES = [(table, partitioned_by) for source, table, partitioned_by in dbt_run.lake_sources()
           if source == "bronze" and not table.endswith(("_files", "_rejects"))]
BRONZE = tuple(table for table, partitioned_by in _TABLES if partitioned_by == "day")
PERIODIC = tuple(table for table, partitioned_by in _TABLES if partitioned_by == "billing_period")
MONEY_COLUMNS = ("invoice_cost_usd", "user_cost_usd", "background_cost_usd", "retry_cost_usd",
                 "unlogged_cost_usd", "non_token_cost_usd")


AS_OF_TAG = "darkcompute/as_of"


def as_of(context: dg.AssetExecutionContext) -> datetime:
    """The run's "as of" time: the schedule tick or `reconcile --as-of` (run tag), else now.
    It becomes `reconciled_at`, so re-running the same inputs as of the same time is identical."""
    tag = context.run.tags.get(AS_OF_TAG)
    return datetime.fromisoformat(tag) if tag else datetime.now(timezone.utc)


def bronze_files(lake: Lake, suffix: str, day: date) -> list[str]:
    """The existing bronze partition files of `day` for every source table + `suffix` (`""`,
    `"_files"`, `"_rejects"`); CUR's come from its billing period's partition."""
    return lake.existing_tables("bronze", [b + suffix for b in BRONZE], day) + lake.existing_tables(
        "bronze", [p + suffix for p in PERIODIC], billing_period_start(day))


def _total(table, column) -> str:
    return str(pc.sum(table[column]).as_py() or Decimal(0))


class Translator(dagster_dbt.DagsterDbtTranslator):
    """How the dbt project's nodes appear in Dagster: a model is the asset named after it, in the
    group of its layer (`staging`, `intermediate`, `marts`); a source is the ingest asset its
    `meta.dagster.asset_key` names (`sql/models/staging/_sources.yml`). A bronze source is read
    over the delivery window around the day (`WINDOW_DAYS`), CUR from its billing period's
    partition and the price catalog from the day's own."""

    def __init__(self):
        super().__init__(dagster_dbt.DagsterDbtTranslatorSettings(
            enable_asset_checks=True,  # every dbt test on a model is an asset check; error severity blocks
            enable_duplicate_source_asset_keys=True,  # a table, its _files and its _rejects: one ingest asset
        ))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return dg.AssetKey(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["fqn"][1]  # models/<layer>/...
        return super().get_group_name(dbt_resource_props)

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        # the YAML's description alone (the model's SQL is one click away in the project)
        return dbt_resource_props.get("description") or ""

    def get_partition_mapping(self, dbt_resource_props: Mapping[str, Any],
                              dbt_parent_resource_props: Mapping[str, Any]) -> dg.PartitionMapping | None:
        parent = dbt_parent_resource_props
        if parent["resource_type"] == "source" and parent["source_name"] == "bronze" \
                and parent.get("meta", {}).get("partitioned_by", "day") == "day":
            return around_day
        return None  # CUR (dated its billing period's first day), the catalog, and model to model: the day


TRANSLATOR = Translator()


def _mart_metadata(recon: pa.Table, dark: pa.Table, focus: pa.Table, diagnosis: pa.Table, gateway: pa.Table,
                   changed: bool, restated, unreadable, amplification: pa.Table,
                   cache: dict[str, pa.Table], users: pa.Table,
                   actions: pa.Table) -> dict[str, dict]:
    statuses = sorted(set(recon["status"].to_pylist()))
    return {
        "fct_spend_reconciliation": {
            "dagster/row_count": recon.num_rows,
            **{c: _total(recon, c) for c in MONEY_COLUMNS},
            "status": ", ".join(statuses) or "no rows",
            "changed": changed,
            "restated_rows": restated.num_rows if restated is not None else 0,
            **({"healed": unreadable} if unreadable else {}),
            "preview": dg.MetadataValue.md(
                markdown(recon, ["provider", "billing_account", "model", *MONEY_COLUMNS[:5], "status"])
            ),
        },
        "fct_dark_compute": {
            "dagster/row_count": dark.num_rows,
            "dark_cost_usd": _total(dark, "cost_usd"),
            "preview": dg.MetadataValue.md(
                markdown(dark, ["provider", "billing_account", "model", "job_type", "calls", "cost_usd"])
            ),
        },
        "focus_costs": {
            "dagster/row_count": focus.num_rows,
            "billed_cost_usd": _total(focus, "BilledCost"),
            "lines": len(set(focus["x_LineId"].to_pylist())),
        },
        "fct_spend_diagnosis": {
            "dagster/row_count": diagnosis.num_rows,
            **{c: _total(diagnosis, c) for c in ("difference_usd", "quantity_gap_usd", "price_gap_usd",
                                                 "non_token_usd", "credits_usd")},
            "unpriced_rows": sum(d == "__unpriced__" for d in diagnosis["diagnosis"].to_pylist()),
        },
        "fct_user_action_cost": {
            "dagster/row_count": actions.num_rows,
            **{c: _total(actions, c) for c in ("user_cost_usd", "retry_cost_usd", "background_cost_usd")},
            "actions": sum(a or 0 for a in actions["actions"].to_pylist()),
        },
        "fct_gateway_estimate": {
            "dagster/row_count": gateway.num_rows,
            **{c: _total(gateway, c) for c in ("gateway_cost_usd", "invoice_cost_usd", "quantity_gap_usd",
                                               "price_gap_usd")},
        },
        "fct_feature_users": {
            "dagster/row_count": users.num_rows,
            "active_users": pc.count_distinct(users["user_id"]).as_py(),  # non-null users of the day
            **{c: _total(users, c) for c in ("user_cost_usd", "retry_cost_usd", "background_cost_usd")},
        },
        "fct_retry_amplification": {
            "dagster/row_count": amplification.num_rows,
            "unseen_requests": int(pc.sum(amplification["unseen_requests"]).as_py() or 0),
            **{c: _total(amplification, c) for c in ("unseen_cost_usd", "retry_cost_usd")},
        },
        **{name: {"dagster/row_count": table.num_rows,
                  **{c: _total(table, c) for c in ("cache_read_tokens", "cache_savings_usd", "unread_write_cost_usd")}}
           for name, table in cache.items()},
    }


def _write_tail_and_savings(the_lake, day, marts: dict[str, pa.Table]) -> dict[str, dict]:
    """fct_cost_tail and fct_savings_opportunities to the lake (rewritten only when a number moved:
    they carry no run time) and their Dagster metadata."""
    tail, savings = marts["fct_cost_tail"], marts["fct_savings_opportunities"]
    the_lake.write_if_changed("marts", "fct_cost_tail", day, tail)
    the_lake.write_if_changed("marts", "fct_savings_opportunities", day, savings)
    return {
        "fct_cost_tail": {"dagster/row_count": tail.num_rows, "cost_usd": _total(tail, "cost_usd"),
                          "top_cost_usd": _total(tail, "top_cost_usd")},
        "fct_savings_opportunities": {
            "dagster/row_count": savings.num_rows,
            **{c: _total(savings, c) for c in ("realtime_cost_usd", "batch_cost_usd", "savings_usd")},
        },
    }


@dagster_dbt.dbt_assets(manifest=dbt_run.manifest(), partitions_def=daily, dagster_dbt_translator=TRANSLATOR,
                        name="dbt_models", backfill_policy=dg.BackfillPolicy.multi_run(1))
def dbt_models(context: dg.AssetExecutionContext, lake: LakeStore, warehouse: Warehouse, reconciliation: Reconciliation):
    # One in-process `dbt build` of the day (`pipelines/lib/dbt.py`): every staging, intermediate and
    # mart model and their tests, on an in-memory DuckDB, so the whole project runs whatever part of it
    # is selected. dbt's result events become materializations and check results through dagster-dbt's
    # own translation; then both marts are written to the lake. (A comment, not a docstring: Dagster
    # would give a docstring to every model the YAML leaves undescribed.)
    #
    # What the new fct_spend_reconciliation changes against the day's previous one is recorded in the
    # lake (`marts/restatements/date=<day>/restated-<as of>-<digest>.parquet`, written together with
    # the mart), so the warehouse's `restatements` can always be rebuilt. A previous mart file that
    # cannot be read (truncated) counts as changed and is overwritten.
    day = partition_day(context)
    the_lake = lake.lake()
    manifest = dbt_run.manifest()
    with warehouse.storage_errors("reconciling"):
        # a run that selects only some models runs the whole project all the same, but Dagster orders
        # it only after the upstream of what was selected: the catalog the models read is written here
        # when price_catalog has not been materialized for the day
        if ensure_catalog(the_lake, day):
            context.log.info(f"wrote the price catalog of {day} (price_catalog was not materialized for it)")
        result = dbt_run.build(the_lake, day, as_of(context), reconciliation.settle(), threads=warehouse.threads or None,
                               memory_limit=warehouse.memory_limit or None,
                               temp_directory=warehouse.spill_dir() or None,
                               price_overrides=reconciliation.price_overrides or None)
    selected = {key.to_python_identifier() for key in context.selected_asset_keys}
    events = []
    for raw in result.events:
        message = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
        for event in message.to_default_asset_events(manifest=manifest, dagster_dbt_translator=TRANSLATOR,
                                                     context=context):
            # the whole project runs every time (its tables live in one in-memory database); only
            # what was selected is reported, and a test outside the selection is not an observation
            if (isinstance(event, dg.Output) and event.output_name in selected) \
                    or isinstance(event, dg.AssetCheckResult):
                events.append(event)
    # a model that failed fails the step; a test that failed is its check's result (error severity blocks)
    errors = [dbt_run.describe(e) for e in result.events if e["data"].get("status") == "error"
              and e["data"].get("node_info", {}).get("resource_type") != "test"]
    # the marts reach the lake together or not at all (a failed test upstream of one skips it in dbt)
    extra: dict[str, dict] = {}
    if not errors and set(dbt_run.MARTS) <= set(result.marts):
        recon, dark = result.marts["fct_spend_reconciliation"], result.marts["fct_dark_compute"]
        focus, diagnosis = result.marts["focus_costs"], result.marts["fct_spend_diagnosis"]
        gateway, amplification = result.marts["fct_gateway_estimate"], result.marts["fct_retry_amplification"]
        users = result.marts["fct_feature_users"]
        actions = result.marts["fct_user_action_cost"]
        with warehouse.storage_errors("reconciling"):
            previous, unreadable = the_lake.read_previous("marts", "fct_spend_reconciliation", day)
            if unreadable:
                context.log.warning(f"{unreadable}: overwritten with the recomputed mart (no restatement can be "
                                    "recorded against it)")
            restated = restatement_rows(warehouse.compute(), previous, recon, as_of(context))
            # a re-run that changes no number keeps the published file (and its reconciled_at) as is
            recon_changed = the_lake.differs("marts", "fct_spend_reconciliation", day, recon, ignore=["reconciled_at"])
            if recon_changed:
                with the_lake.replace_together() as batch:
                    if restated is not None and restated.num_rows:
                        batch.write("marts", RESTATEMENTS, day, restated,
                                    name=restatement_file_name(restated, as_of(context)))
                    batch.write("marts", "fct_spend_reconciliation", day, recon)
            the_lake.write_if_changed("marts", "fct_dark_compute", day, dark)
            the_lake.write_if_changed("marts", "focus_costs", day, focus)
            for name in ("fct_cache_efficiency", "fct_cache_efficiency_tenant"):
                the_lake.write_if_changed("marts", name, day, result.marts[name])
            the_lake.write_if_changed("marts", "fct_feature_users", day, users)
            the_lake.write_if_changed("marts", "fct_user_action_cost", day, actions)
            # these carry the reconciliation's reconciled_at: rewritten with it, else only when a number moved
            for name, table in (("fct_spend_diagnosis", diagnosis), ("fct_gateway_estimate", gateway),
                                ("fct_retry_amplification", amplification)):
                if recon_changed:
                    the_lake.write("marts", name, day, table)
                else:
                    the_lake.write_if_changed("marts", name, day, table, ignore=["reconciled_at"])
        extra = _mart_metadata(recon, dark, focus, diagnosis, gateway, recon_changed, restated, unreadable,
                               amplification,
                               {n: result.marts[n] for n in ("fct_cache_efficiency", "fct_cache_efficiency_tenant")}, users,
                               actions)
        with warehouse.storage_errors("reconciling"):
            extra.update(_write_tail_and_savings(the_lake, day, result.marts))
    for event in events:
        if isinstance(event, dg.Output) and event.output_name in dbt_run.MARTS:
            if event.output_name not in extra:
                continue  # not written to the lake: not materialized
            event = dg.Output(value=event.value, output_name=event.output_name,
                              metadata={**event.metadata, **extra[event.output_name]})
        yield event
    if errors:
        raise RuntimeError("dbt build failed: " + "; ".join(errors))


@dg.asset(partitions_def=daily, group_name="catalog", kinds={"python", "parquet"})
def price_catalog(context: dg.AssetExecutionContext, lake: LakeStore) -> dg.MaterializeResult:
    """List prices per provider, canonical model, token class and modality (text, and audio and
    image where the catalog prices them; USD per million tokens) in force on the day, from
    genai-prices: the dbt source `catalog.model_prices`. Written once per day
    (`lake/catalog/model_prices/date=<day>/data.parquet`) and kept, so a re-run prices the day as
    the first run did."""
    day = partition_day(context)
    the_lake = lake.lake()
    with lake.storage_errors("writing the price catalog"):
        written = ensure_catalog(the_lake, day)
        table = pq.read_table(the_lake.partition_file("catalog", "model_prices", day))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": table.num_rows, "written": written,
        "models": len(set(zip(table["provider"].to_pylist(), table["canonical_model"].to_pylist(), strict=True))),
    })


@dg.asset(
    partitions_def=daily,
    deps=list(BRONZE),
    group_name="reconcile",
    kinds={"duckdb", "parquet"},
)
def rejected_records(context: dg.AssetExecutionContext, lake: LakeStore, warehouse: Warehouse) -> dg.MaterializeResult:
    """Every delivered line of the day that could not be used, from every source: source, file,
    line (1-based), reason and `raw`: the line's JSON shape with the contract's fields, never its
    text (a line that is not JSON: its length; a refused file: empty). Nothing is dropped silently."""
    day = partition_day(context)
    the_lake = lake.lake()
    paths = bronze_files(the_lake, "_rejects", day)
    with warehouse.storage_errors("collecting rejected records"):
        con = warehouse.compute()
        if paths:
            table = sql.table(con, "ingest/rejected_records", paths=paths, delivery_date=day)
        else:
            table = REJECTS_SCHEMA.empty_table().add_column(0, "delivery_date", pa.array([], pa.date32()))
        the_lake.write("marts", "rejected_records", day, table)
    return dg.MaterializeResult(
        metadata={"dagster/row_count": table.num_rows,
                  "preview": dg.MetadataValue.md(markdown(table, ["source", "file", "line", "reason"]))}
    )


@dg.asset(partitions_def=daily, deps=list(BRONZE), group_name="reconcile", kinds={"duckdb", "parquet"})
def source_status(context: dg.AssetExecutionContext, lake: LakeStore, warehouse: Warehouse) -> dg.MaterializeResult:
    """Each source's delivery for the day: ok, empty, failed (every line rejected), unrecognized
    (JSON lines, none of them a call or a known event) or missing (no file, though the source
    delivered within the past week), with files, lines and records; plus a row for each
    unrecognized file, with the keys it held."""
    day = partition_day(context)
    the_lake = lake.lake()
    week = [day - timedelta(days=i) for i in range(8)]
    recent = sorted({p for d in week for p in bronze_files(the_lake, "_files", d)})
    today = bronze_files(the_lake, "_files", day)
    with warehouse.storage_errors("computing source status"):
        if recent:
            # before the day's ingest has run at all, every recent source counts as missing
            table = sql.table(warehouse.compute(), "ingest/source_status", day_files=today or recent,
                              delivered=bool(today), recent_files=recent, delivery_date=day)
        else:
            table = pa.table({"delivery_date": pa.array([], pa.date32()), "source": pa.array([], pa.string()),
                              "status": pa.array([], pa.string())})
        the_lake.write("marts", "source_status", day, table)
    statuses = {r["source"]: r["status"] for r in table.to_pylist() if r.get("file") is None}
    return dg.MaterializeResult(metadata={"dagster/row_count": table.num_rows, **statuses})


@dg.asset(
    partitions_def=daily,
    deps=["fct_spend_reconciliation", "fct_dark_compute", "focus_costs", "fct_spend_diagnosis", "fct_gateway_estimate",
          "fct_retry_amplification", "fct_cost_tail", "fct_savings_opportunities", "fct_cache_efficiency",
          "fct_cache_efficiency_tenant", "fct_feature_users", "fct_user_action_cost",
          "rejected_records",
          "source_status"],
    group_name="reconcile",
    kinds={"duckdb"},
    pool="duckdb_warehouse",
)
def warehouse_tables(
    context: dg.AssetExecutionContext, lake: LakeStore, warehouse: Warehouse
) -> dg.MaterializeResult:
    """The DuckDB file for ad-hoc SQL: the day's rows of the marts (focus_costs included), rejected_records,
    source_status, the per-file line counts and the lake's restatements. Published by rename (a
    new file: a copy of the old one with the day applied, checkpointed, renamed over it), so a
    reader with the warehouse open never blocks it and never sees half a day; a warehouse that
    cannot be opened is rebuilt from every day the lake holds. Runs only when the blocking
    identity check passed, so a wrong number never reaches it."""
    day = partition_day(context)
    the_lake = lake.lake()
    out = publish(warehouse.path, the_lake, [day], connect=warehouse.session,
                  day_files=lambda d: bronze_files(the_lake, "_files", d), temp_directory=warehouse.spill_dir())
    if out.notice:
        context.log.warning(out.notice)
    con = duckdb.connect(warehouse.path, read_only=True)
    try:
        rows = con.execute("select count(*) from fct_spend_reconciliation where usage_date = $d", {"d": day}).fetchall()[0]
    finally:
        con.close()
    return dg.MaterializeResult(metadata={
        "path": warehouse.path, "reconciliation_rows": rows[0], "restatements": out.restatements,
        "seconds_copying_old_file": round(out.seconds_copy, 3),
        **({"rebuilt": out.notice} if out.rebuilt else {}),
    })


def _mart_path(context, lake: LakeStore, table: str):
    return lake.lake().partition_file("marts", table, partition_day(context))


@dg.asset_check(asset="fct_spend_reconciliation", blocking=True, partitions_def=daily)
def identity_holds(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse):
    """invoice = user + background + retry + unlogged + non_token on every row, exactly."""
    outcome = checks.identity(warehouse.compute(), _mart_path(context, lake, "fct_spend_reconciliation"))
    return dg.AssetCheckResult(passed=outcome.passed, metadata=outcome.metadata)


@dg.asset_check(asset="fct_spend_reconciliation", partitions_def=daily)
def invoice_coverage(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse,
                     reconciliation: Reconciliation):
    """For each provider, the share of its token invoice the logs attribute is at least
    DARKCOMPUTE_MIN_COVERAGE (each provider's share is in the metadata)."""
    outcome = checks.coverage(
        warehouse.compute(), _mart_path(context, lake, "fct_spend_reconciliation"),
        reconciliation.coverage(),
    )
    metadata = {**outcome.metadata, "by_provider": dg.MetadataValue.md(outcome.metadata["by_provider"])}
    return dg.AssetCheckResult(passed=outcome.passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)


@dg.asset_check(asset="fct_spend_diagnosis", partitions_def=daily)
def price_gap_within_share(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse,
                           reconciliation: Reconciliation):
    """No cell's price gap (its invoice against list price times its billed tokens) is larger than
    DARKCOMPUTE_PRICE_GAP_WARN_SHARE of its invoice: a wrong catalog is a bug to fix, not noise.
    The cells over the share are in the metadata, largest gap first."""
    outcome = checks.price_gap(warehouse.compute(), _mart_path(context, lake, "fct_spend_diagnosis"),
                               reconciliation.price_gap_share())
    metadata = {**outcome.metadata, "cells": dg.MetadataValue.md(outcome.metadata["cells"])}
    return dg.AssetCheckResult(passed=outcome.passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)


@dg.asset_check(asset="fct_retry_amplification", partitions_def=daily)
def retry_amplification_within_factor(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse,
                                      reconciliation: Reconciliation):
    """No cell's amplification (the requests the provider counted per call the logs recorded) is
    above DARKCOMPUTE_RETRY_AMPLIFICATION_WARN: requests no log saw, such as SDK-internal retries.
    The cells over the factor are in the metadata, with their counts and unseen dollars."""
    outcome = checks.retry_amplification(warehouse.compute(), _mart_path(context, lake, "fct_retry_amplification"),
                                         reconciliation.retry_amplification_factor())
    metadata = {**outcome.metadata, "cells": dg.MetadataValue.md(outcome.metadata["cells"])}
    return dg.AssetCheckResult(passed=outcome.passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
                               description=outcome.metadata.get("summary"))


def _cache_hit_check(context, lake: LakeStore, warehouse: Warehouse, reconciliation: Reconciliation, mart: str,
                     kind: str) -> dg.AssetCheckResult:
    the_lake, day = lake.lake(), partition_day(context)
    prior = [path for back in range(7, 0, -1)
             if (path := the_lake.partition_file("marts", mart, day - timedelta(days=back))).exists()]
    outcome = checks.cache_hit_drop(warehouse.compute(), day, the_lake.partition_file("marts", mart, day), prior,
                                    reconciliation.cache_hit_drop(), kind)
    metadata = {**outcome.metadata, "drops": dg.MetadataValue.md(outcome.metadata["drops"])}
    return dg.AssetCheckResult(passed=outcome.passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
                               description=outcome.metadata["worst"] or None)


@dg.asset_check(asset="fct_cache_efficiency", partitions_def=daily)
def cache_hit_rate_steady(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse,
                          reconciliation: Reconciliation):
    """No cell's prompt-cache hit rate is more than DARKCOMPUTE_CACHE_HIT_DROP_POINTS percentage
    points below its median over the trailing 7 days (the lake's previous partitions of the mart):
    the signature of cache thrash. Passes saying "not enough history" before 3 prior days; the
    metadata names each cell that dropped, with its rate, median and drop."""
    return _cache_hit_check(context, lake, warehouse, reconciliation, "fct_cache_efficiency", "cells")


@dg.asset_check(asset="fct_cache_efficiency_tenant", partitions_def=daily)
def tenant_cache_hit_rate_steady(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse,
                                 reconciliation: Reconciliation):
    """No tenant's prompt-cache hit rate (its logged calls, every cell added up) is more than
    DARKCOMPUTE_CACHE_HIT_DROP_POINTS percentage points below its median over the trailing 7 days:
    the tenant whose prefixes were evicted. Passes saying "not enough history" before 3 prior
    days; the metadata names each tenant that dropped, with its rate, median and drop."""
    return _cache_hit_check(context, lake, warehouse, reconciliation, "fct_cache_efficiency_tenant", "tenants")


@dg.asset_check(asset="fct_feature_users", partitions_def=daily)
def cost_growth_within_users(context: dg.AssetCheckExecutionContext, lake: LakeStore,
                             reconciliation: Reconciliation):
    """No feature's or job type's cost grew faster than its users by more than
    DARKCOMPUTE_COST_GROWTH_WARN_FACTOR over the trailing 4 weeks (the latest whole ISO week up to
    the day against the whole week 4 weeks before it, and by at least 50%): the cost curve
    detaching from the usage curve. Runs on the day's mart over the lake's partitions of the 5
    weeks before it (the lake holds every reconciled day; the warehouse's fct_cost_growth view is
    the same SQL). The metadata names each feature or job type and its numbers."""
    outcome = checks.cost_growth(lake.lake(), partition_day(context), reconciliation.cost_growth_factor())
    metadata = {**outcome.metadata, "by_subject": dg.MetadataValue.md(outcome.metadata["by_subject"])} \
        if "by_subject" in outcome.metadata else outcome.metadata
    return dg.AssetCheckResult(
        passed=outcome.passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
        description=None if outcome.passed else "cost outgrew users: " + outcome.metadata["subjects"])


@dg.asset_check(asset="fct_spend_reconciliation", blocking=True, partitions_def=daily)
def invoice_not_missing(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse):
    """No provider whose logs recorded calls on the day has a $0 invoice for it (no usage and no
    cost rows, or an empty export): such a day would publish every logged call at $0. Blocking;
    the metadata names the provider(s), their logged calls and what to do. A day whose cost export
    has not arrived but whose usage has is priced from the catalog (`provisional`) and passes."""
    outcome = checks.missing_money(warehouse.compute(), _mart_path(context, lake, "fct_spend_reconciliation"))
    return dg.AssetCheckResult(passed=outcome.passed, metadata=outcome.metadata,
                               description=outcome.metadata.get("what_to_do"))


@dg.asset_check(asset="rejected_records", partitions_def=daily)
def no_rejected_lines(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse):
    """No delivered line was rejected; the count and reasons are in the metadata."""
    outcome = checks.rejected(warehouse.compute(), _mart_path(context, lake, "rejected_records"))
    return dg.AssetCheckResult(
        passed=outcome.passed, severity=dg.AssetCheckSeverity.WARN,
        metadata={"rejected_lines": outcome.metadata["rejected_lines"],
                  "by_reason": dg.MetadataValue.md(outcome.metadata["by_reason"])},
    )


@dg.asset_check(asset="source_status", partitions_def=daily)
def no_unrecognized_files(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse):
    """No delivered file was made of JSON lines of which none is a model call or a known event
    (a logger writing a shape darkcompute does not read): warns, naming each file."""
    outcome = checks.unrecognized(warehouse.compute(), _mart_path(context, lake, "source_status"))
    return dg.AssetCheckResult(
        passed=outcome.passed, severity=dg.AssetCheckSeverity.WARN,
        description=("unrecognized: " + ", ".join(outcome.metadata["files"])) if not outcome.passed else None,
        metadata={"unrecognized_files": outcome.metadata["unrecognized_files"],
                  "by_file": dg.MetadataValue.md(outcome.metadata.get("by_file", ""))},
    )


@dg.asset_check(asset="rejected_records", blocking=True, partitions_def=daily)
def lines_conserved(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse):
    """Every line read is a record, a skipped non-model line or a rejected line, and every record
    counted is in the lake: `lines_read = records + skipped + rejected` for each file."""
    the_lake, day = lake.lake(), partition_day(context)
    outcome = checks.conservation(
        warehouse.compute(),
        bronze_files(the_lake, "_files", day),
        bronze_files(the_lake, "", day),
    )
    return dg.AssetCheckResult(passed=outcome.passed, metadata=outcome.metadata)


def _history(lake: LakeStore, day: date, *tables: str) -> dict:
    """{previous day: its partition file(s) of `tables`} for the HISTORY_DAYS days before `day`
    whose partitions of every table exist (one path, or a tuple of paths for several tables)."""
    the_lake, out = lake.lake(), {}
    for back in range(1, checks.HISTORY_DAYS + 1):
        d = day - timedelta(days=back)
        files = tuple(the_lake.partition_file("marts", t, d) for t in tables)
        if all(f.exists() for f in files):
            out[d] = files if len(files) > 1 else files[0]
    return out


def _anomaly_result(outcome: checks.Outcome, severity: str) -> dg.AssetCheckResult:
    metadata = {k: dg.MetadataValue.md(v) if k in ("cells", "by_budget") else v for k, v in outcome.metadata.items()}
    return dg.AssetCheckResult(
        passed=outcome.passed, metadata=metadata,
        severity=dg.AssetCheckSeverity.ERROR if severity == "block" else dg.AssetCheckSeverity.WARN,
        description=outcome.metadata.get("alert") or outcome.metadata.get("note"))


@dg.asset_check(asset="fct_dark_compute", blocking=True, partitions_def=daily)
def job_type_cost_within_factor(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse,
                                reconciliation: Reconciliation):
    """No job type's dark cost of the day at a provider is above DARKCOMPUTE_ANOMALY_FACTOR times
    its median over the previous 7 days' fct_dark_compute partitions (a runaway job), unless it is
    below DARKCOMPUTE_ANOMALY_MIN_USD. Warns (DARKCOMPUTE_ANOMALY_SEVERITY=block: fails, and the
    day's warehouse and report wait). The metadata names the provider, job type, accounts and
    models, the day's dollars, the median and the ratio; with fewer than 3 previous days in the
    lake it passes and says so."""
    day, settings = partition_day(context), reconciliation.anomaly()
    outcome = checks.job_type_anomalies(warehouse.compute(), day, _mart_path(context, lake, "fct_dark_compute"),
                                        _history(lake, day, "fct_dark_compute"), settings["factor"],
                                        settings["min_usd"])
    return _anomaly_result(outcome, settings["severity"])


@dg.asset_check(asset="fct_dark_compute", blocking=True, partitions_def=daily)
def dark_share_within_factor(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse,
                             reconciliation: Reconciliation):
    """No provider's dark-compute share of the day's invoice is above
    DARKCOMPUTE_ANOMALY_SHARE_FACTOR times its median over the previous 7 days, unless its dark
    compute of the day is below DARKCOMPUTE_ANOMALY_MIN_USD. Warns, or fails with
    DARKCOMPUTE_ANOMALY_SEVERITY=block; the metadata names the provider and the numbers."""
    day, settings = partition_day(context), reconciliation.anomaly()
    today = (_mart_path(context, lake, "fct_spend_reconciliation"), _mart_path(context, lake, "fct_dark_compute"))
    outcome = checks.dark_share_anomalies(warehouse.compute(), day, today,
                                          _history(lake, day, "fct_spend_reconciliation", "fct_dark_compute"),
                                          settings["share_factor"], settings["min_usd"])
    return _anomaly_result(outcome, settings["severity"])


@dg.asset_check(asset="fct_dark_compute", blocking=True, partitions_def=daily)
def job_types_within_budget(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse,
                            reconciliation: Reconciliation):
    """Each job type's cost of the day (its rows and retries in fct_dark_compute) is within its
    daily budget in the budgets file (DARKCOMPUTE_BUDGETS, else config/budgets.csv). An overrun
    warns, or fails with ERROR severity when its budget's severity is `block` (the day's warehouse
    and report are then not published). The metadata lists every budget with the day's dollars
    and the cells (provider, account, model, job type) that spent them."""
    outcome, blocking = checks.job_type_budgets(warehouse.compute(), partition_day(context),
                                                _mart_path(context, lake, "fct_dark_compute"),
                                                load_budgets(reconciliation.budgets or None))
    return _anomaly_result(outcome, "block" if blocking else "warn")


@dg.asset_check(asset="fct_user_action_cost", blocking=True, partitions_def=daily)
def features_within_budget(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse,
                           reconciliation: Reconciliation):
    """Each feature's cost of the day (its users' calls, and the retries and background work its
    actions triggered, in fct_user_action_cost) is within its daily budget in the budgets file
    (DARKCOMPUTE_BUDGETS, else config/budgets.csv). An overrun warns, or fails with ERROR severity
    when its budget's severity is `block` (the day's warehouse and report are then not published).
    The metadata lists every feature budget with the day's dollars and their parts."""
    outcome, blocking = checks.feature_budgets(warehouse.compute(), partition_day(context),
                                               _mart_path(context, lake, "fct_user_action_cost"),
                                               load_budgets(reconciliation.budgets or None))
    return _anomaly_result(outcome, "block" if blocking else "warn")
