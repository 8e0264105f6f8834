"""Run the SQL layers for one day: bronze (Parquet) -> staging -> intermediate -> marts.

Pure orchestration of `sql/` files on a DuckDB connection; no Dagster. Python only resolves
the handful of distinct model names against the price catalog (tens of rows, not calls).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import pyarrow as pa

from pipelines.lib import bronze, sql
from pipelines.lib.bronze import aws
from pipelines.lib.lake import Lake
from pipelines.lib.prices import TOKEN_CLASSES, canonical_model, catalog_rates

# A delivery folder may hold records of the day before (late lines) and the day after (clock
# skew, log rotation racing midnight); a day's reconciliation reads the folders around it.
LOOKBEHIND_DAYS = 1
LOOKAHEAD_DAYS = 1

STAGING = (
    "staging/anthropic_price_tier",
    "staging/stg_openai_usage",
    "staging/stg_openai_costs",
    "staging/stg_openai_source_status",
    "staging/stg_anthropic_usage",
    "staging/stg_anthropic_costs",
    "staging/stg_anthropic_source_status",
    "staging/stg_bedrock_usage",
    "staging/stg_bedrock_costs",
    "staging/stg_bedrock_source_status",
    "staging/stg_model_calls",
    "staging/stg_bedrock_calls",
)
INTERMEDIATE = (
    "intermediate/tier_pct",
    "intermediate/int_source_status",
    "intermediate/int_provider_usage",
    "intermediate/int_grain",
    "intermediate/int_provider_costs",
    "intermediate/int_calls",
    "intermediate/int_logged_classes",
    "intermediate/int_cell_rates",
    "intermediate/int_cost_shares",
    "intermediate/int_cell_classes",
    "intermediate/int_allocations",
    "intermediate/int_cells",
)
MARTS = ("fct_spend_reconciliation", "fct_dark_compute")

DIM_MODEL = pa.schema([("provider", pa.string()), ("model_name", pa.string()), ("canonical_model", pa.string())])
DIM_PRICE = pa.schema(
    [("provider", pa.string()), ("canonical_model", pa.string()), ("token_class", pa.string()),
     ("rate_mtok", pa.decimal128(18, 9))]
)


def delivery_days(day: date) -> list[date]:
    """The delivery folders that can hold records of `day`."""
    return [day + timedelta(days=i) for i in range(-LOOKBEHIND_DAYS, LOOKAHEAD_DAYS + 1)]


def register_bronze(con: duckdb.DuckDBPyConnection, lake: Lake, day: date) -> dict[str, int]:
    """Create `bronze_*` views over the lake partitions that can hold `day`'s records.

    Returns the number of partition files each view reads (0 means an empty view).
    """
    days = delivery_days(day)
    period = [aws.billing_period_start(day)]  # CUR restates whole billing periods
    counts = {}
    views = {
        "bronze_openai_usage": ("openai_usage", bronze.OPENAI_USAGE, days),
        "bronze_openai_costs": ("openai_costs", bronze.OPENAI_COSTS, days),
        "bronze_openai_costs_files": ("openai_costs_files", bronze.FILES, days),
        "bronze_openai_costs_rejects": ("openai_costs_rejects", bronze.REJECTS, days),
        "bronze_anthropic_usage": ("anthropic_usage", bronze.ANTHROPIC_USAGE, days),
        "bronze_anthropic_costs": ("anthropic_costs", bronze.ANTHROPIC_COSTS, days),
        "bronze_anthropic_costs_files": ("anthropic_costs_files", bronze.FILES, days),
        "bronze_anthropic_costs_rejects": ("anthropic_costs_rejects", bronze.REJECTS, days),
        "bronze_bedrock_invocations": ("bedrock_invocations", bronze.BEDROCK_INVOCATIONS, days),
        "bronze_cur_lines": ("cur_lines", bronze.CUR_LINES, period),
        "bronze_app_calls": ("app_calls", bronze.MODEL_CALLS, days),
        "bronze_worker_calls": ("worker_calls", bronze.MODEL_CALLS, days),
    }
    for view, (table, schema, view_days) in views.items():
        files = lake.existing("bronze", table, view_days)
        counts[view] = len(files)
        if files:
            rel = con.read_parquet(files, hive_partitioning=True, union_by_name=True)  # older partitions may lack new columns
            if "date" in rel.columns and "folder_date" not in rel.columns:
                rel = rel.select("*, date::date as folder_date")
            if any(name not in rel.columns for name in schema.names):
                # every partition predates a column: it is null, typed as today's schema says
                rel.create_view(f"{view}__partitions", replace=True)
                con.from_arrow(schema.empty_table()).create_view(f"{view}__schema", replace=True)
                rel = con.sql(f"select * from {view}__schema union all by name select * from {view}__partitions")
        else:
            empty = schema.empty_table()
            if "folder_date" not in schema.names:
                empty = empty.append_column("folder_date", pa.array([], pa.date32()))
            rel = con.from_arrow(empty)
        rel.create_view(view, replace=True)
    con.sql("select * from bronze_app_calls union all by name select * from bronze_worker_calls").create_view(
        "bronze_model_calls", replace=True
    )
    return counts


def register_catalog(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """`dim_model` and `dim_price` for the model names the day's staging mentions."""
    names = sql.table(con, "intermediate/model_names").to_pylist()
    models, prices, seen = [], [], set()
    for row in names:
        canonical = canonical_model(row["provider"], row["model"])
        models.append({"provider": row["provider"], "model_name": row["model"], "canonical_model": canonical})
        rates = catalog_rates(row["provider"], row["model"], day)
        if rates is None or (row["provider"], canonical) in seen:
            continue
        seen.add((row["provider"], canonical))
        for token_class in TOKEN_CLASSES:
            prices.append(
                {"provider": row["provider"], "canonical_model": canonical, "token_class": token_class,
                 "rate_mtok": Decimal(getattr(rates, token_class))}
            )
    con.from_arrow(pa.Table.from_pylist(models, schema=DIM_MODEL)).create_view("dim_model", replace=True)
    con.from_arrow(pa.Table.from_pylist(prices, schema=DIM_PRICE)).create_view("dim_price", replace=True)


def reconcile_day(
    con: duckdb.DuckDBPyConnection, lake: Lake, day: date, reconciled_at: datetime,
    settle_days: dict[str, int] | None = None,
) -> dict[str, pa.Table]:
    """The marts for one day, as Arrow tables keyed by mart name.

    `reconciled_at` is the run's "as of" time: a provider's day is final only once its cost
    export arrived and `settle_days[provider]` whole days have passed after the day by then.
    """
    register_bronze(con, lake, day)
    settle = pa.table({"provider": list((settle_days or {}).keys()),
                       "settle_days": pa.array(list((settle_days or {}).values()), pa.int32())})
    con.from_arrow(settle).create_view("settle_days", replace=True)
    for name in STAGING:
        sql.run(con, name, usage_date=day)
    register_catalog(con, day)
    for name in INTERMEDIATE:
        sql.run(con, name, usage_date=day, as_of=reconciled_at)
    out = {}
    for name in MARTS:
        sql.run(con, f"marts/{name}", reconciled_at=reconciled_at)
        out[name] = con.table(name).to_arrow_table()
    return out
