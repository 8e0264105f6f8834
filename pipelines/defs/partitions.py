"""Daily partitions in UTC: one partition per usage day (and per delivery folder)."""

import dagster as dg

from pipelines.lib.dbt import WINDOW_DAYS

daily = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")

# A day's reconciliation reads the deliveries of the WINDOW_DAYS days before and after it (late log
# lines, clock skew, re-pulled pages): the one constant the dbt run's file list also comes from.
around_day = dg.TimeWindowPartitionMapping(start_offset=-WINDOW_DAYS, end_offset=WINDOW_DAYS,
                                           allow_nonexistent_upstream_partitions=True)
