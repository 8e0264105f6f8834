"""Application and queue-worker model-call logs (JSONL, optionally gzipped) into bronze."""


import dagster as dg
import pyarrow.compute as pc

from ..bronze import write_bronze
from ..partitions import daily
from ..resources import LakeStore, SourceStore, Warehouse, partition_day
from .parse import parse_log_files

PREVIEW = ["ts", "provider", "model", "input_tokens", "output_tokens", "attempt", "feature", "job_type"]


def _ingest(context, sources: SourceStore, lake: LakeStore, warehouse: Warehouse, log_source: str, table: str):
    day = partition_day(context)
    files = sources.day_files(f"{log_source}_logs", day)
    ingested = parse_log_files(files, log_source=log_source, folder_date=day, con=warehouse.compute())
    records = ingested.records
    extra = {
        "usage_unknown_calls": int(pc.sum(pc.invert(records["usage_known"])).as_py() or 0),
        "input_tokens": int(pc.sum(records["input_tokens"]).as_py() or 0),
        "output_tokens": int(pc.sum(records["output_tokens"]).as_py() or 0),
    }
    return write_bronze(lake.lake(), table, day, ingested, extra, PREVIEW)


@dg.asset(partitions_def=daily, group_name="logs", kinds={"duckdb", "parquet"})
def app_calls(
    context: dg.AssetExecutionContext, sources: SourceStore, lake: LakeStore, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Model calls the application logged while serving users (`app_logs/<day>/`), one row per
    call, partitioned by delivery folder; `usage_date` is the call's own UTC day."""
    return _ingest(context, sources, lake, warehouse, "app", "app_calls")


@dg.asset(partitions_def=daily, group_name="logs", kinds={"duckdb", "parquet"})
def worker_calls(
    context: dg.AssetExecutionContext, sources: SourceStore, lake: LakeStore, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Model calls the queue workers logged (`worker_logs/<day>/`), with job type, queue and
    trigger, one row per call; job lifecycle lines are counted and skipped."""
    return _ingest(context, sources, lake, warehouse, "worker", "worker_calls")
