"""Anthropic Admin API report pages (usage_report/messages, cost_report), as delivered under the
source root, into bronze."""


import dagster as dg
import pyarrow.compute as pc

from ..bronze import write_bronze
from ..partitions import daily
from ..resources import LakeStore, SourceStore, partition_day
from .parse import parse_cost_pages, parse_usage_pages

TOKEN_COLUMNS = ("uncached_input_tokens", "cache_read_input_tokens", "cache_creation_5m_input_tokens",
                 "cache_creation_1h_input_tokens", "output_tokens", "web_search_requests")


@dg.asset(partitions_def=daily, group_name="anthropic", kinds={"python", "parquet"}, deps=["anthropic_api_pages"])
def anthropic_usage(context: dg.AssetExecutionContext, sources: SourceStore, lake: LakeStore) -> dg.MaterializeResult:
    """Token usage Anthropic reports per bucket, workspace, model, service tier and context window
    (`usage_report/messages` pages), one row per result. `uncached_input_tokens` EXCLUDES cache
    tokens; a null `workspace_id` is the default workspace."""
    day = partition_day(context)
    ingested = parse_usage_pages(sources.day_files("anthropic/usage_report", day), folder_date=day)
    totals = {c: int(pc.sum(ingested.records[c]).as_py() or 0) for c in TOKEN_COLUMNS}
    return write_bronze(
        lake.lake(), "anthropic_usage", day, ingested, totals,
        ["usage_date", "workspace_id", "model", "service_tier", "uncached_input_tokens", "output_tokens"],
    )


@dg.asset(partitions_def=daily, group_name="anthropic", kinds={"python", "parquet"}, deps=["anthropic_api_pages"])
def anthropic_costs(context: dg.AssetExecutionContext, sources: SourceStore, lake: LakeStore) -> dg.MaterializeResult:
    """Dollars Anthropic invoices per day, workspace and description (`cost_report` pages), one
    row per result, `amount_usd` = the report's cents / 100 as exact DECIMAL dollars. The invoice
    side of the reconciliation; Priority Tier usage is never in it."""
    day = partition_day(context)
    ingested = parse_cost_pages(sources.day_files("anthropic/cost_report", day), folder_date=day)
    total = pc.sum(ingested.records["amount_usd"]).as_py()
    return write_bronze(
        lake.lake(), "anthropic_costs", day, ingested, {"amount_usd": str(total or 0)},
        ["usage_date", "workspace_id", "description", "token_type", "amount_usd"],
    )
