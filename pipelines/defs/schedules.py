"""The nightly reconciliation: yesterday, plus the two days before it again (providers restate,
logs arrive late), as three partitioned runs of every asset."""


from datetime import timedelta

import dagster as dg

from .partitions import daily

TRAILING_DAYS = 3  # yesterday and the two days before it

nightly_reconciliation = dg.define_asset_job(
    "nightly_reconciliation",
    selection=dg.AssetSelection.all(),
    partitions_def=daily,
    description="Ingest every source and reconcile one day (a partition).",
)


@dg.schedule(job=nightly_reconciliation, cron_schedule="0 4 * * *", execution_timezone="UTC")
def nightly(context: dg.ScheduleEvaluationContext):
    """At 04:00 UTC: reconcile yesterday and re-run the two days before it."""
    today = context.scheduled_execution_time.date()
    for back in range(1, TRAILING_DAYS + 1):
        key = (today - timedelta(days=back)).isoformat()
        yield dg.RunRequest(
            run_key=f"{key}@{today.isoformat()}",
            partition_key=key,
            tags={"darkcompute/as_of": context.scheduled_execution_time.isoformat()},
        )
