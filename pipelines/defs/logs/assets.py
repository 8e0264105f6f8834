"""Application and queue-worker model-call logs (JSONL, optionally gzipped) into bronze."""


import dagster as dg

from pipelines.lib import sql

from ..bronze import write_bronze_parsed
from ..partitions import daily
from ..resources import LakeStore, SourceStore, Warehouse, partition_day
from .parse import parse_log_files_into

PREVIEW = ["ts", "provider", "model", "input_tokens", "output_tokens", "attempt", "feature", "job_type"]


def _ingest(context, sources: SourceStore, lake: LakeStore, warehouse: Warehouse, log_source: str, table: str):
    """Parse the day's folder batch by batch into the DuckDB session, then have DuckDB write the
    records' partition: the day's calls never pass through Python, memory stays bounded."""
    day = partition_day(context)
    con = warehouse.compute()
    try:
        parsed = parse_log_files_into(con, sources.iter_day_files(f"{log_source}_logs", day), log_source=log_source,
                                      folder_date=day)
        totals = sql.table(con, "bronze/model_calls__totals").to_pylist()[0]
        extra = {k: int(totals[k]) for k in ("usage_unknown_calls", "input_tokens", "output_tokens")}
        return write_bronze_parsed(lake.lake(), table, day, parsed, extra, PREVIEW)
    finally:
        con.close()


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
