"""`darkcompute report`: the report page (and its PNG copy) of the days up to a day, from the warehouse."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pipelines.cli.output import console, shown, warn


def report(args) -> int:
    from pipelines.defs.settings import report_folder, report_name, setting
    from pipelines.lib.report import NoReconciledDays, headline, latest_day, write_report

    warehouse = args.warehouse or setting("DARKCOMPUTE_WAREHOUSE")
    if not Path(warehouse).exists():
        warn(f"darkcompute report: no warehouse at {warehouse}: run `darkcompute reconcile` first")
        return 2
    day = args.date or latest_day(warehouse)
    if day is None:
        warn(f"darkcompute report: the warehouse {warehouse} holds no reconciled day")
        return 2
    out = args.out or Path(report_folder(setting("DARKCOMPUTE_REPORT_DIR"), warehouse)) / report_name(day)
    try:
        written = write_report(warehouse, day, out, days=args.days)
    except NoReconciledDays as exc:
        warn(f"darkcompute report: {exc}")
        return 2
    console.print(f"{shown(written.first_reconciled)} to {shown(day)}: {headline(written)}", soft_wrap=True)
    if written.not_final:
        days = ", ".join(f"{d} {p} ({s})" for d, p, s in written.not_final)
        console.print(textwrap.fill(f"not final: {shown(days)}", 100, subsequent_indent="  "), soft_wrap=True)
    console.print(f"PNG copy: {written.png_path.resolve()}", soft_wrap=True)
    console.print(f"report: {written.html_path.resolve()}", soft_wrap=True)
    return 0
