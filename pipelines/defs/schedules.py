"""The nightly reconciliation: yesterday, plus the two days before it again (providers restate,
logs arrive late), as three partitioned runs of every asset. It starts stopped unless
`DARKCOMPUTE_SCHEDULE_DEFAULT=running` (read when the code location loads); a state set in the UI
is kept in the Dagster instance and wins over the default."""


from datetime import timedelta

import dagster as dg

from .partitions import daily
from .settings import parse_schedule_default, setting

TRAILING_DAYS = 3  # yesterday and the two days before it

nightly_reconciliation = dg.define_asset_job(
    "nightly_reconciliation",
    selection=dg.AssetSelection.all(),
    partitions_def=daily,
    description="Ingest every source and reconcile one day (a partition).",
)


DEFAULT_STATE = parse_schedule_default(setting("DARKCOMPUTE_SCHEDULE_DEFAULT"))


@dg.schedule(
    job=nightly_reconciliation, cron_schedule="0 4 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING if DEFAULT_STATE == "running" else dg.DefaultScheduleStatus.STOPPED,
    description=("At 04:00 UTC: reconcile yesterday and re-run the two days before it. Default state: "
                 f"{DEFAULT_STATE} (DARKCOMPUTE_SCHEDULE_DEFAULT=running|stopped, read when the code location "
                 "loads; a state set here, with the toggle, wins over it)."),
)
def nightly(context: dg.ScheduleEvaluationContext):
    today = context.scheduled_execution_time.date()
    for back in range(1, TRAILING_DAYS + 1):
        key = (today - timedelta(days=back)).isoformat()
        yield dg.RunRequest(
            run_key=f"{key}@{today.isoformat()}",
            partition_key=key,
            tags={"darkcompute/as_of": context.scheduled_execution_time.isoformat()},
        )
