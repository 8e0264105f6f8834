"""Daily partitions in UTC: one partition per usage day (and per delivery folder)."""

import dagster as dg

daily = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")

# A day's reconciliation reads the deliveries of the day before, the day and the day after
# (late log lines, clock skew, re-pulled pages).
around_day = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=1, allow_nonexistent_upstream_partitions=True)
