"""`darkcompute reconcile`: the same Dagster assets as the nightly run, in process, day by day."""

from __future__ import annotations

import json
import logging
import os
import textwrap
import time
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from pipelines.cli.output import console, first_line, warn
from pipelines.cli.sources import BadSource, dagster, export_days, survey
from pipelines.cli.summary import print_summary, pull_groupings
from pipelines.lib.runlock import EXIT_BUSY, LakeBusy, hold


@lru_cache(maxsize=1)
def _selections():
    """What a day's run materializes, selected from the asset graph: the ingest is everything
    upstream of the dbt models that is not a model or the price catalog (the bronze tables and the
    API pulls); the reconciliation is all the rest (the catalog, every model, rejected_records,
    source_status, the warehouse), with the checks on them. Dagster is imported here, after the
    source root was checked: a wrong --source fails without waiting for it."""
    dg = dagster()
    ingest = dg.AssetSelection.kind("dbt").upstream() - dg.AssetSelection.kind("dbt") - dg.AssetSelection.groups("catalog")
    return ingest, dg.AssetSelection.all() - ingest


def reconcile(args) -> int:
    overrides = {"DARKCOMPUTE_SOURCE_URI": args.source, "DARKCOMPUTE_LAKE_DIR": args.lake,
                 "DARKCOMPUTE_WAREHOUSE": args.warehouse}
    os.environ.update({k: str(v) for k, v in overrides.items() if v})
    from pipelines.defs.settings import setting

    if not args.all and (args.to or args.date) < args.date:
        warn(f"--to {args.to} is before --date {args.date}")
        return 2
    source = setting("DARKCOMPUTE_SOURCE_URI")
    try:  # before any Dagster work: a wrong --source fails at once, naming the path (exit 2)
        found = survey(source, every=args.all)
    except BadSource as bad:
        warn(f"darkcompute reconcile: {bad}; nothing was done (exit 2)")
        return 2
    if args.all:
        days = export_days(source, found)
        if not days:
            warn(f"darkcompute reconcile: no provider exports under {source} (only logs); nothing was done (exit 2)")
            return 2
    else:
        last = args.to or args.date
        days = [args.date + timedelta(days=i) for i in range((last - args.date).days + 1)]
    checks: list = []  # (day, evaluation) of every check that warned or failed: the summary lists them
    try:
        with hold(setting("DARKCOMPUTE_LAKE_DIR")):  # one run at a time per lake
            failures, seconds = run_days(days, quiet=args.quiet, as_of=args.as_of or datetime.now(timezone.utc),
                                         checks=checks)
    except LakeBusy as busy:
        warn(f"darkcompute reconcile: {busy}; nothing was done (exit {EXIT_BUSY}: try again when it ends)")
        return EXIT_BUSY
    if args.timings:
        args.timings.write_text(json.dumps({k: round(v, 3) for k, v in sorted(seconds.items())}, indent=1))
    unread = print_summary(setting("DARKCOMPUTE_WAREHOUSE"), days[0], days[-1], checks=checks)
    if not args.quiet:
        console.print("\nThe Admin API pulls (when a key is set) ask for the finest grouping that changes money:",
                      soft_wrap=True)
        for line in pull_groupings():  # in 100 columns, as the summary above
            console.print(textwrap.fill(line, 100, initial_indent="  ", subsequent_indent="      "), soft_wrap=True)
    if unread and not failures:  # when a step failed, its own message says why
        failures.append(unread)
    for failure in failures:
        warn(f"{failure}")
    if failures:
        warn(f"darkcompute reconcile: {len(failures)} failure(s); exit 1")
    return 1 if failures else 0


def run_days(days: list[date], quiet: bool = False, as_of: datetime | None = None,
             checks: list | None = None) -> tuple[list[str], dict[str, float]]:
    """Materialize the ingest assets for every day and the WINDOW_DAYS days either side (whose
    folders can hold records of the range), then the reconciliation for every day. Returns what failed,
    blocking checks included, and the seconds each Dagster step took, summed over the days; appends
    (day, evaluation) to `checks` for every asset check that did not pass (warned or failed)."""
    import dagster as dg

    INGEST, RECONCILE = _selections()  # first: it silences Dagster's beta warnings before the definitions load
    from pipelines.definitions import defs
    from pipelines.defs.resources import configured_resources
    from pipelines.lib.dbt import WINDOW_DAYS, delivery_days

    definitions = defs()
    assets = list(definitions.assets or []) + list(definitions.asset_checks or [])
    resources = configured_resources()  # read now: the flags may have changed the environment
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    # --quiet: no Dagster log at all (a failed step is reported once, in one line, by the caller)
    run_config = {"loggers": {"console": {"config": {"log_level": "CRITICAL" if quiet else "ERROR"}}}}
    tags = {"darkcompute/as_of": (as_of or datetime.now(timezone.utc)).isoformat()}
    logging.getLogger("dagster").setLevel(logging.CRITICAL if quiet else logging.ERROR)
    ingest_days = sorted({d for day in days for d in delivery_days(day)})
    failures: list[str] = []
    seconds: dict[str, float] = defaultdict(float)
    plan = [(INGEST, d) for d in ingest_days] + [(RECONCILE, d) for d in days]
    unread: set[date] = set()  # delivery days whose ingest failed: the days around them are not reconciled
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=quiet) as progress:
        task = progress.add_task("reconciling", total=len(plan))
        for selection, day in plan:
            step = f"{'ingest' if selection is INGEST else 'reconcile'} {day}"
            progress.update(task, description=step)
            started = time.perf_counter()
            blocked = sorted(d for d in unread if abs((d - day).days) <= WINDOW_DAYS) if selection is RECONCILE else []
            if blocked:
                failures.append(f"{day}: not reconciled: the ingest of {', '.join(map(str, blocked))} failed")
                progress.advance(task)
                continue
            if selection is RECONCILE and day != days[-1]:
                # the report covers the 30 days up to its day: a run of several days writes the last day's only
                selection = RECONCILE - dagster().AssetSelection.assets("dark_compute_report")
            result = dg.materialize(
                assets, selection=selection, partition_key=day.isoformat(), resources=resources,
                instance=instance, run_config=run_config, raise_on_error=False, tags=tags,
            )
            failures += _failures(result, day)
            if checks is not None:
                checks += [(day, e) for e in result.get_asset_check_evaluations() if not e.passed]
            if selection is INGEST and not result.success:
                unread.add(day)
            for event in result.all_events:
                if event.event_type_value == "STEP_SUCCESS":
                    seconds[event.step_key] += event.event_specific_data.duration_ms / 1000
            progress.advance(task)
            if not quiet and not console.is_terminal:  # piped: one plain line a step instead of the bar
                console.print(f"{step}: {time.perf_counter() - started:.1f} s{'' if result.success else ' (failed)'}")
    return failures, dict(seconds)


def _failures(result, day: date) -> list[str]:
    import dagster as dg

    out = []
    checks_failed_steps = False
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            if error and error.cls_name == "DagsterAssetCheckFailedError":
                checks_failed_steps = True  # a blocking check run in the step (a dbt test): reported below, once
                continue
            error = error.cause or error if error else None  # user code's own exception, not Dagster's wrapper
            out.append(f"{day}: step {event.step_key} failed: {first_line(error.message) if error else ''}")
    if not result.success and not out and not checks_failed_steps:  # the run failed before any step: its resources, say
        for event in result.all_events:
            error = getattr(event.event_specific_data, "error", None)
            if event.event_type_value in ("RESOURCE_INIT_FAILURE", "PIPELINE_FAILURE") and error:
                out.append(f"{day}: run failed: {first_line((error.cause or error).message)}")
                break
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            out.append(f"{day}: blocking check {evaluation.check_name} failed: {_check_detail(evaluation)}")
    return out


def _check_detail(evaluation) -> str:
    """A failed check in one line: its own account of what to do when it gives one, else its
    metadata as `key=value` (the values, not Dagster's wrappers)."""
    if evaluation.description:
        return first_line(evaluation.description)
    if str(getattr(evaluation.metadata.get("unique_id"), "value", "")).startswith("test."):  # a dbt test
        rows = getattr(evaluation.metadata.get("dagster_dbt/failed_row_count"), "value", None)
        status = getattr(evaluation.metadata.get("status"), "value", "failed")
        return f"dbt test {status}" + (f" on {rows:,} row(s)" if isinstance(rows, int) else "")
    return ", ".join(f"{key}={getattr(value, 'value', value)}" for key, value in evaluation.metadata.items())
