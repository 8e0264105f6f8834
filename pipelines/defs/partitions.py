"""Daily partitions in UTC: one partition per usage day (and per delivery folder)."""

import dagster as dg

daily = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")

# A day's reconciliation also reads the next day's deliveries (late log lines, re-pulled pages).
with_next_day = dg.TimeWindowPartitionMapping(start_offset=0, end_offset=1, allow_nonexistent_upstream_partitions=True)
