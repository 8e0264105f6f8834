"""Application and queue-worker model-call logs (JSONL, optionally gzipped) into bronze."""


import dagster as dg

from pipelines.lib import bronze, sql

from ..bronze import write_bronze_streamed
from ..partitions import daily
from ..resources import (
    IngestLimits,
    LakeStore,
    LiteLLMAttribution,
    SourceStore,
    Warehouse,
    partition_day,
)
from .parse import parse_log_files_into

PREVIEW = ["ts", "provider", "model", "input_tokens", "output_tokens", "attempt", "feature", "job_type"]


def _ingest(context, sources: SourceStore, lake: LakeStore, warehouse: Warehouse, limits: IngestLimits,
            litellm: LiteLLMAttribution, log_source: str, table: str):
    """Parse the day's folder batch by batch, each batch's records written straight into the
    partition's Parquet file: the day's calls never pile up in memory."""
    day = partition_day(context)
    options = {"max_record_tokens": limits.record_tokens(), "max_line_bytes": limits.line_bytes(),
               "max_file_bytes": limits.file_bytes(), "attribution": litellm.rule()}
    con = warehouse.compute()
    try:
        files = sources.iter_day_files(f"{log_source}_logs", day)
        return write_bronze_streamed(
            lake.lake(), table, day, bronze.MODEL_CALLS,
            lambda sink: parse_log_files_into(con, files, sink, log_source=log_source, folder_date=day, **options),
            lambda path: sql.table(con, "ingest/model_calls__totals", path=str(path)).to_pylist()[0], PREVIEW,
            errors=warehouse.storage_errors,
        )
    finally:
        con.close()


@dg.asset(partitions_def=daily, group_name="logs", kinds={"duckdb", "parquet"})
def app_calls(
    context: dg.AssetExecutionContext, sources: SourceStore, lake: LakeStore, warehouse: Warehouse,
    ingest_limits: IngestLimits, litellm: LiteLLMAttribution,
) -> dg.MaterializeResult:
    """Model calls the application logged while serving users (`app_logs/<day>/`), one row per
    call, partitioned by delivery folder; `usage_date` is the call's own UTC day."""
    return _ingest(context, sources, lake, warehouse, ingest_limits, litellm, "app", "app_calls")


@dg.asset(partitions_def=daily, group_name="logs", kinds={"duckdb", "parquet"})
def worker_calls(
    context: dg.AssetExecutionContext, sources: SourceStore, lake: LakeStore, warehouse: Warehouse,
    ingest_limits: IngestLimits, litellm: LiteLLMAttribution,
) -> dg.MaterializeResult:
    """Model calls the queue workers logged (`worker_logs/<day>/`), with job type, queue and
    trigger, one row per call; job lifecycle lines are counted and skipped."""
    return _ingest(context, sources, lake, warehouse, ingest_limits, litellm, "worker", "worker_calls")
