"""The nightly report: the page of the 30 days up to the partition's day, written after the
warehouse is published (`pipelines/lib/report.py` builds it)."""

from pathlib import Path

import dagster as dg

from pipelines.lib.disk import explained
from pipelines.lib.report import DEFAULT_DAYS, NoReconciledDays, headline, percent, usd, write_report

from ..partitions import daily
from ..resources import Warehouse, partition_day
from ..settings import report_name


@dg.asset(partitions_def=daily, deps=["warehouse_tables"], group_name="reconcile", kinds={"html", "duckdb"})
def dark_compute_report(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Where the money went over the 30 days up to the day, for someone who would rather look than
    read SQL: one self-contained HTML page (it fetches nothing when opened) with the invoice, dark
    compute as a total and a share, each provider's split, the days that are not final, and charts
    (per day: the invoice against what the logs attribute against dark compute, stacked by class;
    dark compute by job type; the cells with the largest residual), plus a PNG copy beside it.
    Written to `DARKCOMPUTE_REPORT_DIR` (default: `reports/` beside the warehouse) as
    `dark-compute-<day>.html`, read from the warehouse just published; the materialization links both."""
    day = partition_day(context)
    folder = Path(warehouse.report_folder())
    out = folder / report_name(day)
    places = [(folder, "DARKCOMPUTE_REPORT_DIR", warehouse.report_dir or None),
              (warehouse.path, "DARKCOMPUTE_WAREHOUSE", warehouse.path)]
    try:
        with explained(places, during="writing the report"):
            written = write_report(warehouse.path, day, out, days=DEFAULT_DAYS)
    except NoReconciledDays as exc:
        context.log.warning(f"no report for {day}: {exc}")
        return dg.MaterializeResult(metadata={"written": False, "reason": str(exc)})
    html_path, png_path = written.html_path.resolve(), written.png_path.resolve()
    return dg.MaterializeResult(metadata={
        "written": True,
        "path": dg.MetadataValue.path(str(html_path)),
        "url": dg.MetadataValue.url(html_path.as_uri()),
        "png": dg.MetadataValue.path(str(png_path)),
        "period": f"{written.first_reconciled} to {written.last}",
        "headline": headline(written),
        "invoice_usd": str(written.invoice),
        "dark_usd": str(written.dark),
        "dark_share": percent(written.dark_share),
        "invoice": usd(written.invoice),
        "not_final_days": dg.MetadataValue.md(
            "\n".join(f"- {d} {p}: {s}" for d, p, s in written.not_final) or "none"),
    })
