"""The reconciliation: marts computed by the SQL layers, their checks, and the warehouse."""


from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lib import sql
from pipelines.lib.bronze.aws import billing_period_start
from pipelines.lib.ingest import REJECTS_SCHEMA
from pipelines.lib.lake import Lake
from pipelines.lib.preview import markdown

from ..partitions import around_day, daily
from ..resources import LakeStore, Warehouse, partition_day
from ..settings import setting, settle_days, storage_errors
from . import checks
from .model import reconcile_day
from .publish import RESTATEMENTS, publish, restatement_file_name, restatement_rows

BRONZE = ("openai_usage", "openai_costs", "anthropic_usage", "anthropic_costs", "bedrock_invocations", "app_calls",
          "worker_calls")
PERIODIC = ("cur_lines",)  # partitioned by billing period (dated the period's first day)
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


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "fct_spend_reconciliation",
            deps=[dg.AssetDep(b, partition_mapping=around_day) for b in BRONZE] + list(PERIODIC),
            description="Every invoice dollar of the day in exactly one class (user, background, retry, "
            "unlogged, non_token), one row per day, provider, billing account and model.",
            group_name="reconcile",
            kinds={"duckdb", "parquet"},
        ),
        dg.AssetSpec(
            "fct_dark_compute",
            deps=[dg.AssetDep(b, partition_mapping=around_day) for b in BRONZE] + list(PERIODIC),
            description="The invoice dollars no waiting user caused: background job types, retries and "
            "the unlogged residual, one row per day, provider, billing account, model and job type.",
            group_name="reconcile",
            kinds={"duckdb", "parquet"},
        ),
    ],
    partitions_def=daily,
)
def marts(context: dg.AssetExecutionContext, lake: LakeStore, warehouse: Warehouse):
    """Run staging -> intermediate -> marts for the day over the bronze lake and write both marts.

    What the new fct_spend_reconciliation changes against the day's previous one is recorded
    in the lake (`marts/restatements/date=<day>/restated-<as of>-<digest>.parquet`, written
    together with the mart), so the warehouse's `restatements` can always be rebuilt. A previous
    mart file that cannot be read (truncated) counts as changed and is overwritten."""
    day = partition_day(context)
    the_lake = lake.lake()
    with storage_errors("reconciling"):
        con = warehouse.compute()
        out = reconcile_day(con, the_lake, day, as_of(context), settle_days())
        recon, dark = out["fct_spend_reconciliation"], out["fct_dark_compute"]
        previous, unreadable = the_lake.read_previous("marts", "fct_spend_reconciliation", day)
        if unreadable:
            context.log.warning(f"{unreadable}: overwritten with the recomputed mart (no restatement can be "
                                "recorded against it)")
        restated = restatement_rows(con, previous, recon, as_of(context))
        # a re-run that changes no number keeps the published file (and its reconciled_at) as is
        recon_changed = the_lake.differs("marts", "fct_spend_reconciliation", day, recon, ignore=["reconciled_at"])
        if recon_changed:
            with the_lake.replace_together() as batch:
                if restated is not None and restated.num_rows:
                    batch.write("marts", RESTATEMENTS, day, restated, name=restatement_file_name(restated, as_of(context)))
                batch.write("marts", "fct_spend_reconciliation", day, recon)
        the_lake.write_if_changed("marts", "fct_dark_compute", day, dark)
    statuses = sorted(set(recon["status"].to_pylist()))
    yield dg.MaterializeResult(
        asset_key="fct_spend_reconciliation",
        metadata={
            "dagster/row_count": recon.num_rows,
            **{c: _total(recon, c) for c in MONEY_COLUMNS},
            "status": ", ".join(statuses) or "no rows",
            "changed": recon_changed,
            "restated_rows": restated.num_rows if restated is not None else 0,
            **({"healed": unreadable} if unreadable else {}),
            "preview": dg.MetadataValue.md(
                markdown(recon, ["provider", "billing_account", "model", *MONEY_COLUMNS[:5], "status"])
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key="fct_dark_compute",
        metadata={
            "dagster/row_count": dark.num_rows,
            "dark_cost_usd": _total(dark, "cost_usd"),
            "preview": dg.MetadataValue.md(
                markdown(dark, ["provider", "billing_account", "model", "job_type", "calls", "cost_usd"])
            ),
        },
    )


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
    with storage_errors("collecting rejected records"):
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
    with storage_errors("computing source status"):
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
    deps=["fct_spend_reconciliation", "fct_dark_compute", "rejected_records", "source_status"],
    group_name="reconcile",
    kinds={"duckdb"},
    pool="duckdb_warehouse",
)
def warehouse_tables(
    context: dg.AssetExecutionContext, lake: LakeStore, warehouse: Warehouse
) -> dg.MaterializeResult:
    """The DuckDB file for ad-hoc SQL: the day's rows of both marts, rejected_records,
    source_status, the per-file line counts and the lake's restatements. Published by rename (a
    new file: a copy of the old one with the day applied, checkpointed, renamed over it), so a
    reader with the warehouse open never blocks it and never sees half a day; a warehouse that
    cannot be opened is rebuilt from every day the lake holds. Runs only when the blocking
    identity check passed, so a wrong number never reaches it."""
    day = partition_day(context)
    the_lake = lake.lake()
    out = publish(warehouse.path, the_lake, [day], connect=warehouse.session,
                  day_files=lambda d: bronze_files(the_lake, "_files", d), temp_directory=warehouse.temp_directory)
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
def invoice_coverage(context: dg.AssetCheckExecutionContext, lake: LakeStore, warehouse: Warehouse):
    """For each provider, the share of its token invoice the logs attribute is at least
    DARKCOMPUTE_MIN_COVERAGE (each provider's share is in the metadata)."""
    outcome = checks.coverage(
        warehouse.compute(), _mart_path(context, lake, "fct_spend_reconciliation"),
        Decimal(setting("DARKCOMPUTE_MIN_COVERAGE")),
    )
    metadata = {**outcome.metadata, "by_provider": dg.MetadataValue.md(outcome.metadata["by_provider"])}
    return dg.AssetCheckResult(passed=outcome.passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)


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
