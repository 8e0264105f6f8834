"""Run the SQL models for one day: bronze (Parquet) -> staging -> intermediate -> marts, as one
`dbt build` of the project in `sql/` (see `pipelines/lib/dbt.py`)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pyarrow as pa

from pipelines.lib import dbt as dbt_run
from pipelines.lib.lake import Lake
from pipelines.lib.prices import catalog_table


def reconcile_day(
    con: duckdb.DuckDBPyConnection, lake: Lake, day: date, reconciled_at: datetime,
    settle_days: dict[str, int] | None = None,
) -> dict[str, pa.Table]:
    """The marts for one day, as Arrow tables keyed by mart name.

    `reconciled_at` is the run's "as of" time: a provider's day is final only once its cost
    export arrived and `settle_days[provider]` whole days have passed after the day by then.
    """
    ensure_catalog(lake, day)
    result = dbt_run.build(lake, day, reconciled_at, settle_days)
    if not result.success:
        raise RuntimeError("dbt build failed: " + "; ".join(result.failures))
    return result.marts


def ensure_catalog(lake: Lake, day: date) -> bool:
    """The day's price catalog in the lake (the `price_catalog` asset's partition), written when
    it is not there yet. Returns whether it was written now."""
    if lake.partition_file("catalog", "model_prices", day).exists():
        return False
    lake.write("catalog", "model_prices", day, catalog_table(day))
    return True
