"""AWS Bedrock into bronze: the model invocation logs (the provider-side usage, per request) and
the CUR 2.0 data export (the invoice side)."""


import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lib import sql
from pipelines.lib.bronze.aws import BEDROCK_INVOCATIONS, billing_period_start
from pipelines.lib.ingest import Ingested

from ..bronze import write_bronze, write_bronze_streamed
from ..partitions import daily
from ..resources import IngestLimits, LakeStore, SourceStore, Warehouse, partition_day
from .cur import data_prefix, listed_keys, manifest_keys, manifest_period, parse_cur_delivery
from .parse import delivery_day, object_kind, parse_invocation_logs_into

LOGS_ROOT = "bedrock/AWSLogs"
CUR_ROOT = "cur"
INVOCATION_PREVIEW = ["ts", "billing_account", "model_id", "job_type", "input_tokens", "cache_read_tokens",
                      "cache_write_tokens", "output_tokens"]
CUR_PREVIEW = ["usage_date", "line_item_type", "usage_type", "token_class", "model", "billing_account",
               "unblended_cost"]


@dg.asset(partitions_def=daily, group_name="bedrock", kinds={"duckdb", "parquet"})
def bedrock_invocations(
    context: dg.AssetExecutionContext, sources: SourceStore, lake: LakeStore, warehouse: Warehouse,
    ingest_limits: IngestLimits,
) -> dg.MaterializeResult:
    """Bedrock model invocations, one row per logged request, from the invocation log objects
    delivered that day (`bedrock/AWSLogs/.../BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/`);
    `usage_date` is the request's own UTC day. Token counts, model, caller and requestMetadata
    only: request and response bodies are never read into the lake. Large-body objects (`/data/`)
    and permission checks are counted as skipped, not read."""
    day = partition_day(context)
    store = sources.store()
    keys = [key for key in store.list(LOGS_ROOT) if delivery_day(key) == day]
    skipped = [key for key in keys if object_kind(key) != "log"]
    # read one object at a time, never landed: invocation log objects carry prompt and response bodies
    objects = (store.read(key, land=False) for key in keys if object_kind(key) == "log")
    con = warehouse.compute()
    try:
        return write_bronze_streamed(
            lake.lake(), "bedrock_invocations", day, BEDROCK_INVOCATIONS,
            lambda sink: parse_invocation_logs_into(con, objects, sink, folder_date=day, skipped=skipped,
                                                    max_line_bytes=ingest_limits.line_bytes(),
                                                    max_file_bytes=ingest_limits.file_bytes()),
            lambda path: sql.table(con, "ingest/bedrock_invocations__totals", path=str(path)).to_pylist()[0],
            INVOCATION_PREVIEW, errors=warehouse.storage_errors,
        )
    finally:
        con.close()


@dg.asset(partitions_def=daily, group_name="bedrock", kinds={"duckdb", "parquet"})
def cur_lines(
    context: dg.AssetExecutionContext, sources: SourceStore, lake: LakeStore, warehouse: Warehouse
) -> dg.MaterializeResult:
    """AWS CUR 2.0 lines of the billing period containing the day, exactly the data files the
    period's manifest lists, costs as exact DECIMAL dollars, usage types parsed into token
    classes. Every delivery restates the month, so the period's partition (dated its first day)
    is replaced whole; until a manifest exists nothing is written and the period stays missing."""
    day = partition_day(context)
    period = billing_period_start(day)
    store = sources.store()
    keys = store.list(CUR_ROOT)
    manifests = manifest_keys(keys, period)
    if not manifests:
        return dg.MaterializeResult(metadata={"billing_period": period.isoformat(), "manifests": 0,
                                              "dagster/row_count": 0})
    con = warehouse.compute()
    parts = []
    for key in manifests:
        export, _ = manifest_period(key)
        manifest = store.read(key)
        prefix = data_prefix(export, period)
        delivered = [k for k in keys if k.startswith(prefix)]
        listed = set(listed_keys(manifest))
        files = [store.read(k) for k in delivered if k in listed]
        parts.append(parse_cur_delivery(manifest, files, delivered=delivered, con=con))
    ingested = Ingested(
        records=pa.concat_tables([p.records for p in parts]),
        rejects=pa.concat_tables([p.rejects for p in parts]),
        files=pa.concat_tables([p.files for p in parts]),
    )
    records = ingested.records
    by_type = {r["values"]: r["counts"] for r in pc.value_counts(records["line_item_type"]).to_pylist()}
    bedrock = records.filter(pc.fill_null(records["is_bedrock"], False))
    extra = {
        "billing_period": period.isoformat(),
        "manifests": len(manifests),
        "lines_by_type": dg.MetadataValue.json({str(k): v for k, v in sorted(by_type.items(), key=str)}),
        "total_usd": str(pc.sum(records["unblended_cost"]).as_py() or 0),
        "bedrock_usd": str(pc.sum(bedrock["unblended_cost"]).as_py() or 0),
    }
    return write_bronze(lake.lake(), "cur_lines", period, ingested, extra, CUR_PREVIEW)
