"""OpenAI Usage and Costs API pages, as delivered under the source root, into bronze."""


import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lib.ingest import Ingested

from ..bronze import write_bronze
from ..partitions import daily
from ..resources import LakeStore, SourceStore, partition_day
from .parse import parse_cost_pages, parse_usage_pages

USAGE_ENDPOINTS = ("completions", "embeddings")


@dg.asset(partitions_def=daily, group_name="openai", kinds={"python", "parquet"}, deps=["openai_api_pages"])
def openai_usage(context: dg.AssetExecutionContext, sources: SourceStore, lake: LakeStore) -> dg.MaterializeResult:
    """Token usage OpenAI reports per bucket, project and model (Usage API pages for
    completions and embeddings), one row per result. `input_tokens` includes cached tokens."""
    day = partition_day(context)
    parts = [
        parse_usage_pages(sources.day_files(f"openai/usage/{e}", day), endpoint=e, folder_date=day)
        for e in USAGE_ENDPOINTS
    ]
    ingested = Ingested(
        records=pa.concat_tables([p.records for p in parts]),
        rejects=pa.concat_tables([p.rejects for p in parts]),
        files=pa.concat_tables([p.files for p in parts]),
    )
    totals = {
        "input_tokens": int(pc.sum(ingested.records["input_tokens"]).as_py() or 0),
        "output_tokens": int(pc.sum(ingested.records["output_tokens"]).as_py() or 0),
        "num_model_requests": int(pc.sum(ingested.records["num_model_requests"]).as_py() or 0),
    }
    return write_bronze(
        lake.lake(), "openai_usage", day, ingested, totals,
        ["usage_date", "project_id", "model", "input_tokens", "output_tokens", "num_model_requests"],
    )


@dg.asset(partitions_def=daily, group_name="openai", kinds={"python", "parquet"}, deps=["openai_api_pages"])
def openai_costs(context: dg.AssetExecutionContext, sources: SourceStore, lake: LakeStore) -> dg.MaterializeResult:
    """Dollars OpenAI invoices per day, project and line item (Costs API pages), one row per
    result, `amount` as exact DECIMAL dollars. The invoice side of the reconciliation."""
    day = partition_day(context)
    ingested = parse_cost_pages(sources.day_files("openai/costs", day), folder_date=day)
    total = pc.sum(ingested.records["amount"]).as_py()
    return write_bronze(
        lake.lake(), "openai_costs", day, ingested, {"amount_usd": str(total or 0)},
        ["usage_date", "project_id", "line_item", "amount"],
    )
