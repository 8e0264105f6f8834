"""The nightly report: one self-contained HTML page (and a PNG copy) of where the invoice went over
a period, read from the warehouse.

The page holds its own JavaScript (Vega, Vega-Lite and vega-embed, bundled by vl-convert) and its
data, and fetches nothing when it is opened (its Content-Security-Policy forbids it). It shows a
headline in text (the invoice, dark compute as a total and a share, each provider's split), the
days that are not final, and four charts made with altair: the day status strip, the invoice against
what the logs attribute against dark compute per day, stacked by class; dark compute by job type;
and the cells with the largest residual (unlogged dollars). Every figure printed is formatted
from the warehouse's decimals; the charts get doubles as plotting coordinates only.

No Dagster here: `darkcompute report` and the `dark_compute_report` asset call `write_report`.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import altair as alt
import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lib import report_sections, sql
from pipelines.lib.disk import write_atomic

DEFAULT_DAYS = 30
TOP_JOB_TYPES = 15  # job types shown; the rest are folded into one line
TOP_CELLS = 10  # cells shown by residual
PNG_SCALE = 1.5
NAMED_BARS_UP_TO = 10  # days: up to this many, each daily bar is labelled invoice / attributed / dark

# one colour per class, the same in every chart: the dark classes warm, the rest cool
CLASSES = ("background", "retry", "unlogged", "user", "non_token")
CLASS_NAMES = {"background": "background", "retry": "retry", "unlogged": "unlogged", "user": "user",
               "non_token": "non-token"}
CLASS_COLOURS = {"background": "#f28e2b", "retry": "#e15759", "unlogged": "#9c6fb6", "user": "#4e79a7",
                 "non_token": "#b7b0ac"}
STATUS_COLOURS = {"final": "#cfe3cf", "estimated": "#d9c8ec", "provisional": "#f7d774"}
BARS = ("invoice", "attributed", "dark")
# "2026-11-03" as "Nov 3" (the days are strings, so no time zone can shift them)
DAY_LABEL = ("['Jan','Feb','Mar','Apr','May','Jun','Jul','Aug','Sep','Oct','Nov','Dec']"
             "[toNumber(slice(datum.value, 5, 7)) - 1] + ' ' + toNumber(slice(datum.value, 8, 10))")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"


class NoReconciledDays(LookupError):
    """The warehouse holds no reconciled day in the period asked for."""


@dataclass
class ProviderLine:
    provider: str
    days: int
    invoice: Decimal
    user: Decimal
    background: Decimal
    retry: Decimal
    unlogged: Decimal
    non_token: Decimal
    dark: Decimal

    @property
    def dark_share(self) -> Decimal | None:
        return self.dark / self.invoice if self.invoice else None


@dataclass
class Report:
    """What a report shows in text, and where it was written."""

    first: date  # the first day of the period asked for
    last: date
    first_reconciled: date  # the first day of it the warehouse holds
    reconciled_days: int  # the days of it the warehouse holds (for any provider)
    providers: list[ProviderLine]
    not_final: list[tuple[str, str, str]]  # (usage day, provider, status) of every day not final
    reconciled_at: datetime | None
    html_path: Path | None = None
    png_path: Path | None = None
    charts: dict[str, dict] = field(default_factory=dict)  # Vega-Lite specs, by element id
    sections: list = field(default_factory=list)  # report_sections.Rendered: the metric sections

    @property
    def invoice(self) -> Decimal:
        return sum((p.invoice for p in self.providers), Decimal(0))

    @property
    def dark(self) -> Decimal:
        return sum((p.dark for p in self.providers), Decimal(0))

    def total(self, name: str) -> Decimal:
        return sum((getattr(p, name) for p in self.providers), Decimal(0))

    @property
    def dark_share(self) -> Decimal | None:
        return self.dark / self.invoice if self.invoice else None


# ---------- text figures, from decimals

def usd(value: Decimal) -> str:
    """Dollars to the cent with thousands separators; an amount under a cent (not zero) with two
    significant digits, so it never reads as $0.00."""
    if value and abs(value) < Decimal("0.01"):
        return f"${value.quantize(Decimal(1).scaleb(value.adjusted() - 1)):f}"
    return f"${value.quantize(Decimal('0.01')):,}"


def percent(share: Decimal | None) -> str:
    return "n/a" if share is None else f"{(share * 100).quantize(Decimal('0.1'))}%"


# ---------- reading the warehouse

def latest_day(warehouse: str | Path) -> date | None:
    """The last usage day the warehouse holds."""
    con = _open(warehouse)
    try:
        return con.execute("select max(usage_date) from fct_spend_reconciliation").fetchall()[0][0]
    finally:
        con.close()


def _open(warehouse: str | Path) -> duckdb.DuckDBPyConnection:
    if not Path(warehouse).exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run `darkcompute reconcile` first")
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("set timezone = 'UTC'")
    return con


def gather(con: duckdb.DuckDBPyConnection, first: date, last: date) -> tuple[Report, dict[str, pa.Table]]:
    """The report's figures (decimals) and the charts' data (Arrow, doubles for coordinates)."""
    window = {"date_from": first, "date_to": last}
    providers = [ProviderLine(*row) for row in sql.run(con, "reports/report_providers", **window).fetchall()]
    if not providers:
        raise NoReconciledDays(f"no reconciled days between {first} and {last} in the warehouse")
    days = sql.table(con, "reports/report_days", **window)
    not_final = days.filter(pc.field("status") != "final").sort_by([("usage_date", "ascending"),
                                                                      ("provider", "ascending")])
    not_final = list(zip(*(not_final[c].to_pylist() for c in ("usage_date", "provider", "status")), strict=True))
    ((first_reconciled, reconciled_at),) = con.execute(
        "select min(usage_date), max(reconciled_at) from fct_spend_reconciliation "
        "where usage_date between $date_from and $date_to", window).fetchall()
    data = {
        "days": days.drop_columns(["invoice_usd"]),
        "classes": sql.table(con, "reports/report_classes", **window).drop_columns(["usd"]),
        "job_types": sql.table(con, "reports/report_job_types", top=TOP_JOB_TYPES, **window).drop_columns(["usd"]),
        "residuals": sql.table(con, "reports/report_residuals", top=TOP_CELLS, **window).drop_columns(
            ["unlogged_usd", "invoice_usd"]),
    }
    report = Report(first=first, last=last, first_reconciled=first_reconciled,
                    reconciled_days=len(pc.unique(days["usage_date"])), providers=providers,
                    not_final=not_final, reconciled_at=reconciled_at)
    return report, data


# ---------- the charts (altair: Vega-Lite)

def _class_colour(classes=CLASSES) -> alt.Color:
    return alt.Color("cost_class:N", title="class", sort=list(classes),
                     scale=alt.Scale(domain=list(classes), range=[CLASS_COLOURS[c] for c in classes]),
                     legend=alt.Legend(orient="top", labelExpr=_names_expr(), symbolType="square"))


def _names_expr() -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in CLASS_NAMES.items()) + "}[datum.label] || datum.label"


def status_strip(days: pa.Table) -> alt.Chart:
    """One cell per provider and day, coloured by the day's status."""
    statuses = list(STATUS_COLOURS)
    return alt.Chart(days, title=alt.Title("Status of each day's invoice", anchor="start")).mark_rect(
        stroke="white", strokeWidth=2, cornerRadius=2,
    ).encode(
        x=alt.X("usage_date:O", title=None, axis=alt.Axis(labelExpr=DAY_LABEL, labelAngle=0, labelOverlap=True)),
        y=alt.Y("provider:N", title=None),
        color=alt.Color("status:N", scale=alt.Scale(domain=statuses, range=list(STATUS_COLOURS.values())),
                        legend=alt.Legend(orient="top", title="status", symbolType="square")),
        tooltip=[alt.Tooltip("provider:N"), alt.Tooltip("usage_date:N", title="day"), alt.Tooltip("status:N"),
                 alt.Tooltip("invoice_plot:Q", title="invoice", format="$,.2f")],
    ).properties(width="container", height=alt.Step(26))


def daily_split(classes: pa.Table, provider: str, named_bars: bool) -> alt.LayerChart:
    """Per day: the invoice, what the logs attribute and dark compute, side by side, each stacked
    by class (dark classes at the bottom); a day that is not final is shaded and labelled."""
    base = alt.Chart(classes).transform_filter(alt.datum.provider == provider)
    x = alt.X("usage_date:O", title=None, axis=alt.Axis(labelExpr=DAY_LABEL, labelAngle=0, labelOverlap=True))
    marked = base.transform_filter(alt.datum.status != "final").transform_aggregate(
        groupby=["usage_date", "status"], rows="count()")
    shade = marked.mark_rect(opacity=0.45).encode(
        x=x, fill=alt.Fill("status:N", scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values())),
                           legend=None))
    label = marked.mark_text(baseline="top", dy=3, fontSize=10, fontWeight="bold").encode(
        x=x, y=alt.value(0), text="status:N",
        color=alt.condition(alt.datum.status == "estimated", alt.value("#6b4f8a"), alt.value("#8a6d00")))
    bars = base.mark_bar(stroke="white", strokeWidth=0.4).encode(
        x=x,
        xOffset=alt.XOffset("bar:N", sort=list(BARS), scale=alt.Scale(paddingInner=0.12)),
        y=alt.Y("sum(usd_plot):Q", title="USD", stack="zero", axis=alt.Axis(format="$,.2~f", grid=True),
                scale=alt.Scale(domain=[0, _tallest_bar(classes, provider) * 1.15])),  # room for the labels
        color=_class_colour(),
        order=alt.Order("stack_order:Q"),
        tooltip=[alt.Tooltip("usage_date:N", title="day"), alt.Tooltip("bar:N"),
                 alt.Tooltip("cost_class:N", title="class"), alt.Tooltip("sum(usd_plot):Q", title="USD", format="$,.4f"),
                 alt.Tooltip("status:N")],
    )
    layers = [shade, label, bars]
    if named_bars:  # a few days: each bar says what it is (at 30 days the labels would overlap)
        layers.append(base.transform_aggregate(groupby=["usage_date", "bar"], total="sum(usd_plot)").mark_text(
            baseline="bottom", dy=-2, fontSize=9, color="#555",
        ).encode(x=x, xOffset=alt.XOffset("bar:N", sort=list(BARS)), y=alt.Y("total:Q"), text=alt.Text("bar:N")))
    return alt.layer(*layers).properties(
        width="container", height=230,
        title=alt.Title(provider, anchor="start", fontSize=13, subtitle=""),
    )


def _tallest_bar(classes: pa.Table, provider: str) -> float:
    """The provider's highest daily bar (its largest invoice), in plotting coordinates."""
    mine = classes.filter(pc.field("provider") == provider)
    bars = mine.group_by(["usage_date", "bar"]).aggregate([("usd_plot", "sum")])
    return pc.max(bars["usd_plot_sum"]).as_py() or 1.0


def job_types_chart(job_types: pa.Table) -> alt.LayerChart:
    """Dark compute by job type over the period, stacked by dark class, costliest first."""
    dark = ("background", "retry", "unlogged")
    y = alt.Y("job_type:N", title=None, sort=alt.EncodingSortField("job_rank", op="min"),
              axis=alt.Axis(labelLimit=260))
    base = alt.Chart(job_types).transform_calculate(class_order="indexof(['background', 'retry', 'unlogged'], "
                                                               "datum.dark_class)")
    bars = base.mark_bar(cornerRadiusEnd=2).encode(
        y=y,
        color=alt.Color("dark_class:N", title="class", scale=alt.Scale(
            domain=list(dark), range=[CLASS_COLOURS[c] for c in dark]), legend=alt.Legend(orient="top")),
        order=alt.Order("class_order:Q"),
        tooltip=[alt.Tooltip("job_type:N", title="job type"), alt.Tooltip("provider:N"),
                 alt.Tooltip("dark_class:N", title="class"), alt.Tooltip("sum(usd_plot):Q", title="USD", format="$,.4f")],
    )
    most = pc.max(job_types.group_by("job_type").aggregate([("usd_plot", "sum")])["usd_plot_sum"]).as_py() or 0
    bars = bars.encode(x=alt.X("sum(usd_plot):Q", title="USD over the period", axis=alt.Axis(format="$,.2~f", tickCount=8),
                               scale=alt.Scale(domain=[0, most * 1.12])))  # room for the labels
    totals = base.transform_aggregate(groupby=["job_type"], total="sum(usd_plot)", job_rank="min(job_rank)").mark_text(
        align="left", dx=4, fontSize=11, color="#333",
    ).transform_calculate(label=_usd_expr("datum.total")).encode(y=y, x="total:Q", text="label:N")
    return alt.layer(bars, totals).properties(width="container", height=alt.Step(22))


def residuals_chart(residuals: pa.Table) -> alt.LayerChart:
    """The cells with the most unlogged dollars, each with its share of the cell's invoice."""
    base = alt.Chart(residuals).transform_calculate(
        cell="datum.provider + ' · ' + datum.billing_account + ' · ' + datum.model + "
             "(indexof(['standard', '__all__'], datum.price_tier) >= 0 ? '' : ' · ' + datum.price_tier)",
        share="datum.invoice_plot ? datum.unlogged_plot / datum.invoice_plot : 0",
    )
    y = alt.Y("cell:N", title=None, sort=alt.EncodingSortField("unlogged_plot", op="max", order="descending"),
              axis=alt.Axis(labelLimit=380))
    most = pc.max(residuals["unlogged_plot"]).as_py() or 0
    x = alt.X("unlogged_plot:Q", title="unlogged USD over the period", axis=alt.Axis(format="$,.2~f", tickCount=8),
              scale=alt.Scale(domain=[0, most * 1.45]))  # room for the labels
    bars = base.mark_bar(color=CLASS_COLOURS["unlogged"], cornerRadiusEnd=2).encode(
        y=y, x=x,
        tooltip=[alt.Tooltip("provider:N"), alt.Tooltip("billing_account:N", title="account"), alt.Tooltip("model:N"),
                 alt.Tooltip("price_tier:N", title="tier"), alt.Tooltip("unlogged_plot:Q", title="unlogged", format="$,.4f"),
                 alt.Tooltip("invoice_plot:Q", title="cell invoice", format="$,.2f"),
                 alt.Tooltip("share:Q", title="share of the cell's invoice", format=".1%")],
    )
    labels = base.transform_calculate(
        text=f"{_usd_expr('datum.unlogged_plot')} + '  (' + format(datum.share, '.1%') + ' of '"
             f" + {_usd_expr('datum.invoice_plot')} + ')'",
    ).mark_text(align="left", dx=4, fontSize=11, color="#333").encode(y=y, x="unlogged_plot:Q", text="text:N")
    return alt.layer(bars, labels).properties(width="container", height=alt.Step(22))


def _usd_expr(value: str) -> str:
    """A Vega expression formatting dollars as `usd` does: cents, or two significant digits under a cent."""
    return f"({value} > 0 && {value} < 0.01 ? format({value}, '$.2r') : format({value}, '$,.2f'))"


def chart_specs(data: dict[str, pa.Table], providers: list[str]) -> dict[str, dict]:
    """The page's charts as Vega-Lite specs, by the id of the element each is drawn in."""
    named = len(set(data["days"]["usage_date"].to_pylist())) <= NAMED_BARS_UP_TO
    config = {"font": FONT, "view": {"stroke": None}, "axis": {"labelFontSize": 11, "titleFontSize": 11,
              "labelColor": "#444", "titleColor": "#444", "gridColor": "#eee", "domainColor": "#bbb"},
              "legend": {"labelFontSize": 11, "titleFontSize": 11}, "title": {"fontSize": 14, "color": "#222"}}
    charts = {
        "chart-status": status_strip(data["days"]),
        "chart-daily": alt.vconcat(*[daily_split(data["classes"], p, named) for p in providers], spacing=24).resolve_scale(
            y="independent"),
        "chart-job-types": job_types_chart(data["job_types"]),
        "chart-residuals": residuals_chart(data["residuals"]),
    }
    specs = {}
    for key, chart in charts.items():
        spec = chart.to_dict()
        spec["config"] = {**spec.get("config", {}), **config}
        spec["autosize"] = {"type": "fit-x", "contains": "padding"}
        specs[key] = spec
    return specs


PNG_TITLES = {"chart-daily": "Invoice, attributed and dark, per day (stacked by class)",
              "chart-job-types": "Dark compute by job type", "chart-residuals": "Cells with the largest residual (unlogged)"}


def png(specs: dict[str, dict], title: str, subtitle: str, width: int = 980) -> bytes:
    """The charts one under the other as one PNG, rendered by vl-convert (no browser), under the
    report's title and headline."""
    import vl_convert

    panels = []
    datasets = {}
    for key, spec in specs.items():
        spec = json.loads(json.dumps(spec))
        if key in PNG_TITLES:
            spec = {"vconcat": [spec], "title": {"text": PNG_TITLES[key], "anchor": "start", "fontSize": 15}}
        inner = spec["vconcat"][0] if key in PNG_TITLES else spec
        datasets.update(inner.pop("datasets", {}))
        config = inner.pop("config", None)
        inner.pop("$schema", None)
        inner.pop("autosize", None)
        _fix_width(spec, width)
        panels.append(spec)
    whole = {"$schema": "https://vega.github.io/schema/vega-lite/v6.json", "vconcat": panels, "spacing": 36,
             "title": {"text": title, "subtitle": subtitle, "anchor": "start", "fontSize": 20, "subtitleFontSize": 14,
                       "offset": 18},
             "resolve": {"scale": {"color": "independent", "fill": "independent", "x": "independent",
                                   "y": "independent", "opacity": "independent"},
                         "legend": {"color": "independent"}},
             "datasets": datasets, "config": config, "padding": 16, "background": "white"}
    return vl_convert.vegalite_to_png(whole, scale=PNG_SCALE)


def _fix_width(spec: dict, width: int) -> None:
    """A container width is the page's; the PNG has none: give every view a fixed one."""
    if spec.get("width") == "container":
        spec["width"] = width
    for key in ("vconcat", "layer"):
        for part in spec.get(key, []):
            _fix_width(part, width)


# ---------- the page

def write_report(warehouse: str | Path, last: date, out: str | Path, days: int = DEFAULT_DAYS,
                 png_copy: bool = True) -> Report:
    """Read the `days` days ending on `last` from the warehouse (read-only) and write the page to
    `out` and its PNG copy beside it (same name, `.png`). Each file is written whole and renamed
    into place, so a reader never sees half a report."""
    first = last - timedelta(days=days - 1)
    con = _open(warehouse)
    try:
        report, data = gather(con, first, last)
        report.sections = report_sections.gather(con, first, last)
    finally:
        con.close()
    providers = [p.provider for p in report.providers]
    report.charts = chart_specs(data, providers)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, page(report, Path(warehouse).name).encode())
    report.html_path = out
    if png_copy:
        report.png_path = out.with_suffix(".png")
        write_atomic(report.png_path, png(report.charts, _title(report), headline(report)))
    return report


def _script_json(value) -> str:
    """JSON safe inside a <script> element (no `</`, no `<!--`)."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


# vl-convert's bundle, kept once per vl-convert version: bundling takes 3 to 8 s, and every
# `darkcompute reconcile` process writes a report
BUNDLE_CACHE = Path(__file__).resolve().parents[2] / ".cache"


@lru_cache(maxsize=1)
def _bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script: from the cache, else bundled and cached."""
    import vl_convert

    cached = BUNDLE_CACHE / f"vega-bundle-{vl_convert.__version__}.js"
    try:
        script = cached.read_text(encoding="utf-8")
    except OSError:
        script = vl_convert.javascript_bundle()
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cached, script.encode("utf-8"))
        except OSError:
            pass  # a read-only checkout bundles again next time; the report is the same
    if "</script" in script.lower():  # would end the element early
        raise ValueError("vl-convert's JavaScript bundle contains '</script'; it cannot be inlined")
    return script


def _title(report: Report) -> str:
    shown = report.first_reconciled
    return f"Dark compute, {shown} to {report.last}" if shown != report.last else f"Dark compute, {shown}"


def headline(report: Report) -> str:
    """The headline in one line: the invoice, dark compute and its share (the CLI prints it too)."""
    return (f"invoice {usd(report.invoice)}, dark compute {usd(report.dark)} "
            f"({percent(report.dark_share)} of the invoice)")


def page(report: Report, source: str) -> str:
    """The whole HTML document."""
    e = html.escape
    dark_parts = (f"background jobs {usd(report.total('background'))}, retries {usd(report.total('retry'))}, "
                  f"unlogged usage {usd(report.total('unlogged'))}")
    window = (report.last - report.first).days + 1
    rows = "\n".join(
        f"<tr><th scope=row>{e(p.provider)}</th><td>{p.days}</td><td>{usd(p.invoice)}</td><td>{usd(p.user)}</td>"
        f"<td>{usd(p.background)}</td><td>{usd(p.retry)}</td><td>{usd(p.unlogged)}</td><td>{usd(p.non_token)}</td>"
        f"<td class=dark>{usd(p.dark)}</td><td class=dark>{percent(p.dark_share)}</td></tr>"
        for p in report.providers)
    if len(report.providers) > 1:
        rows += (f"\n<tr class=total><th scope=row>all providers</th><td></td><td>{usd(report.invoice)}</td>"
                 f"<td>{usd(report.total('user'))}</td><td>{usd(report.total('background'))}</td>"
                 f"<td>{usd(report.total('retry'))}</td><td>{usd(report.total('unlogged'))}</td>"
                 f"<td>{usd(report.total('non_token'))}</td><td class=dark>{usd(report.dark)}</td>"
                 f"<td class=dark>{percent(report.dark_share)}</td></tr>")
    if report.not_final:
        items = "".join(f"<li><span class='badge {e(status)}'>{e(status)}</span> {e(day)} · {e(provider)}</li>"
                        for day, provider, status in report.not_final)
        provisional = (f"<p>{len(report.not_final)} provider-day(s) are not final: their numbers may still change "
                       "(<b>provisional</b>: the cost export has not arrived, so the invoice is priced at list prices, "
                       "or the provider's settling window has not passed; <b>estimated</b>: part of the usage is "
                       f"priced from the catalog).</p><ul id=provisional-days>{items}</ul>")
    else:
        provisional = "<p id=provisional-days>Every day in the period is final.</p>"
    as_of = report.reconciled_at.strftime("%Y-%m-%d %H:%M UTC") if report.reconciled_at else "unknown"
    charts = "\n".join(f"<script type=application/json id={key}-spec>{_script_json(spec)}</script>"
                       for key, spec in report.charts.items())
    title = _title(report)
    return TEMPLATE.format(
        title=e(title), period=f"{report.reconciled_days} reconciled day(s) in the {window} days to {report.last}", as_of=e(as_of),
        source=e(source), invoice=usd(report.invoice), dark=usd(report.dark), share=percent(report.dark_share),
        user=usd(report.total("user")), non_token=usd(report.total("non_token")), dark_parts=dark_parts,
        rows=rows, provisional=provisional, specs=charts, bundle=_bundle(),
        top_jobs=TOP_JOB_TYPES, top_cells=TOP_CELLS, csp=CSP, sections=report_sections.render(report.sections),
    )


# nothing may be fetched: inline scripts (Vega compiles its expressions with `Function`, hence
# 'unsafe-eval') and styles only; images only as data (the export menu's PNG)
CSP = "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:"

TEMPLATE = """<!DOCTYPE html>
<html lang=en>
<head>
<meta charset=utf-8>
<meta name=viewport content="width=device-width, initial-scale=1">
<meta http-equiv=Content-Security-Policy content="{csp}">
<title>{title}</title>
<style>
  body {{ font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif; color: #222;
         margin: 0; background: #f6f6f4; }}
  main {{ max-width: 1080px; margin: 0 auto; padding: 28px 32px 48px; }}
  h1 {{ font-size: 24px; margin: 0 0 4px; }}
  h2 {{ font-size: 17px; margin: 0 0 4px; }}
  .meta {{ color: #666; font-size: 13px; margin: 0 0 20px; }}
  .cards {{ display: flex; gap: 14px; flex-wrap: wrap; margin-bottom: 10px; }}
  .card {{ background: white; border-radius: 8px; padding: 14px 18px; flex: 1 1 180px;
          box-shadow: 0 1px 2px rgba(0,0,0,.08); }}
  .card .label {{ font-size: 12px; color: #666; text-transform: uppercase; letter-spacing: .04em; }}
  .card .value {{ font-size: 28px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }}
  .card.dark .value {{ color: #c0501f; }}
  .lede {{ font-size: 15px; line-height: 1.5; margin: 14px 0 0; }}
  section {{ background: white; border-radius: 8px; padding: 18px 20px; margin-top: 18px;
            box-shadow: 0 1px 2px rgba(0,0,0,.08); }}
  section > p {{ color: #555; font-size: 13px; margin: 0 0 12px; line-height: 1.45; }}
  table {{ border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }}
  th, td {{ padding: 6px 8px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }}
  th:first-child {{ text-align: left; }}
  thead th {{ color: #666; font-weight: 600; font-size: 12px; }}
  td.dark {{ color: #c0501f; font-weight: 600; }}
  tr.total th, tr.total td {{ border-top: 2px solid #ddd; font-weight: 650; }}
  ul {{ margin: 0; padding-left: 18px; font-size: 13px; line-height: 1.7; }}
  .badge {{ display: inline-block; border-radius: 4px; padding: 0 6px; font-size: 11px; font-weight: 650; }}
  .badge.provisional {{ background: #f7d774; }}
  .badge.estimated {{ background: #d9c8ec; }}
  .chart {{ width: 100%; min-height: 60px; }}
  .section-table {{ overflow-x: auto; }}
  #chart-status {{ margin-top: 14px; }}
  .key {{ font-size: 12px; color: #555; }}
  .key b {{ color: #222; }}
  footer {{ color: #888; font-size: 12px; margin-top: 22px; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p class=meta>{period} · reconciled as of {as_of} · from {source}</p>

<div class=cards>
  <div class=card><div class=label>Invoice</div><div class=value id=invoice>{invoice}</div></div>
  <div class="card dark"><div class=label>Dark compute</div><div class=value id=dark>{dark}</div></div>
  <div class="card dark"><div class=label>Dark share of the invoice</div><div class=value id=dark-share>{share}</div></div>
  <div class=card><div class=label>A waiting user</div><div class=value id=user>{user}</div></div>
</div>
<p class=lede id=headline>Of <b>{invoice}</b> invoiced, <b>{dark}</b> ({share}) was dark compute, spend no waiting
user caused: {dark_parts}. Users' own calls cost {user}; non-token charges {non_token}.</p>

<section>
<h2>By provider</h2>
<table id=providers>
<thead><tr><th>provider</th><th>days</th><th>invoice</th><th>user</th><th>background</th><th>retry</th>
<th>unlogged</th><th>non-token</th><th>dark</th><th>dark share</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</section>

<section>
<h2>Days that are not final</h2>
{provisional}
<div class=chart id=chart-status></div>
</section>

<section>
<h2>Invoice, attributed and dark, per day</h2>
<p>Three bars a day, stacked by class: the <b>invoice</b>; what the logs <b>attributed</b> (a waiting user,
background jobs, retries); and <b>dark</b> compute (background jobs, retries, and usage no log accounts for).
The dark classes sit at the bottom of every bar. Shaded days are not final.</p>
<div class=chart id=chart-daily></div>
</section>

<section>
<h2>Dark compute by job type</h2>
<p>Background jobs by job type, retries by the job type or feature that retried (<code>retry:…</code>), and
unlogged usage, over the period; the {top_jobs} costliest, the rest folded into one line.</p>
<div class=chart id=chart-job-types></div>
</section>

<section>
<h2>Cells with the largest residual</h2>
<p>The {top_cells} cells (provider · account · model · tier) with the most unlogged dollars: usage the provider
billed that no log accounts for, with its share of the cell's invoice.</p>
<div class=chart id=chart-residuals></div>
</section>

{sections}

<footer>darkcompute report · every figure in text is exact to the cent from the warehouse's decimals; the
charts are drawn by Vega-Lite from the same numbers. This page loads nothing from the network.</footer>
</main>
{specs}
<script>{bundle}</script>
<script>
for (const element of document.querySelectorAll('.chart')) {{
  const spec = JSON.parse(document.getElementById(element.id + '-spec').textContent);
  vegaEmbed(element, spec, {{renderer: 'svg', actions: {{export: true, source: false, compiled: false, editor: false}}}})
    .then(() => {{ element.dataset.rendered = 'true'; }})
    .catch((error) => {{ element.dataset.rendered = 'error'; element.textContent = 'This chart could not be drawn: ' + error; }});
}}
</script>
</body>
</html>
"""
