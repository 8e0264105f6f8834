"""The report's metric sections: one table per mart beyond the split (issue 14's marts).

Each `Section` is a titled table under the charts, read from the warehouse by one query file
`sql/reports/sections/<key>.sql` over `$date_from` .. `$date_to` (and `$top`, the rows shown).
A section whose mart the warehouse does not hold yet (a warehouse written before the mart
existed) is left out, never an error. A mart adds its section by adding one `Section` to
`SECTIONS` and its query file.

Cells are formatted by column name: `*_usd` as dollars (exact, from the decimals), `*_share` and
`*_rate` as percentages, `*_ratio` with two decimals, other numbers as they are. A table wider
than the page (cells do not wrap) scrolls inside its section.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from . import sql

TOP_ROWS = 15  # rows shown per section


@dataclass(frozen=True)
class Section:
    key: str  # element id, and the query file sql/reports/sections/<key>.sql
    title: str
    how_to_read: str  # one line: what the numbers mean and what to look for (HTML allowed)
    mart: str  # the warehouse table the section needs; no table, no section


SECTIONS: tuple[Section, ...] = (
    Section("job_type_jumps", "Job types above their usual day",
            "Each row is a job type whose dark cost on a day, at one provider, was above its median over the 7 "
            "days before (a day without it counts $0), the largest jumps in dollars first. The "
            "<code>job_type_cost_within_factor</code> check warns when <code>jump_ratio</code> is above "
            "<code>DARKCOMPUTE_ANOMALY_FACTOR</code> (3) and the day cost at least "
            "<code>DARKCOMPUTE_ANOMALY_MIN_USD</code> ($5); empty ratio: the job type was absent the days before.",
            "fct_dark_compute"),
    Section(
        key="retry_amplification",
        title="Retry amplification: requests on the wire per logged call",
        how_to_read=(
            "Per account and model, the requests the provider counted against the calls the logs recorded. "
            "<b>amplification_ratio</b> 1.00 means every request on the wire was logged once; 3.00 means two "
            "requests no log saw (SDK-internal retries, fallbacks) behind each logged call. <b>unseen_cost_usd</b> "
            "is what the invoice charged for those requests. – where the provider counts no requests (Anthropic) "
            "or no log recorded a call (a service that logs nothing)."),
        mart="fct_retry_amplification",
    ),
    Section("cost_tail", "The tail of the cost per call",
            "Per day and spender with at least 100 calls: the median, 99th percentile and costliest call, "
            "and <b>top_share</b>, the share of the spend in its costliest 1% of calls (about 1% when calls "
            "cost alike; far more means an expensive query class hides in the blended bill).",
            "fct_cost_tail"),
    Section("savings", "Savings: batch tiers and reasoning",
            "Background job types nobody waits for (only ever scheduled) billed at real-time rates: what they "
            "cost, what the provider's batch tier would have charged, and <b>savings_usd</b>, the difference; "
            "and the share of output spent on reasoning tokens with its cost.",
            "fct_savings_opportunities"),
    Section("cache_efficiency", "Prompt cache",
            "Per model and account over the period: <b>cache_hit_rate</b> is the share of input read from the "
            "cache (a cell far below its usual rate is thrashing); <b>cache_savings_usd</b> what those reads saved "
            "against the uncached list price; <b>unread_write_cost_usd</b> the write premium of cache writes the "
            "day's reads could not have paid back; <b>net_cache_savings_usd</b> the savings after every write's "
            "premium (negative: caching costs more than it saves).",
            "fct_cache_efficiency"),
    Section("cost_growth", "Cost against users, per week",
            "The latest whole ISO week of the period (fct_cost_growth): each feature with the background work its "
            "requests triggered, each background job type against the whole product's users, and the total. "
            "<code>cost_growth_4w_ratio</code> is this week's cost over the cost 4 weeks earlier; well above "
            "<code>users_growth_4w_ratio</code> is the cost curve detaching from the usage curve (the "
            "<code>cost_growth_within_users</code> check warns past DARKCOMPUTE_COST_GROWTH_WARN_FACTOR). Empty growth: "
            "no whole week to compare with.",
            "fct_cost_growth"),
    Section("user_action_cost", "What a user action costs, per feature",
            "Each row is a feature over the period: its user actions (distinct request ids), the model calls "
            "behind its median and its largest action (retries and the background calls it triggered "
            "included; the period's worst day), what its median and 99th-percentile action cost, its user "
            "dollars at the invoice's rates, and the dark compute linked back to its actions "
            "(<code>parent_request_id</code>). A median in the tens is fan-out; the features' user dollars "
            "+ dark compute + non-token charges are the invoice.",
            "fct_user_action_cost"),
)


@dataclass(frozen=True)
class Rendered:
    section: Section
    columns: list[str]
    rows: list[tuple]


def gather(con: duckdb.DuckDBPyConnection, first, last, sections=None) -> list[Rendered]:
    """Each section's rows over the period, for the sections whose mart the warehouse holds."""
    tables = {name for (name,) in con.execute("select table_name from duckdb_tables()").fetchall()}
    tables |= {name for (name,) in con.execute("select view_name from duckdb_views()").fetchall()}
    shown = []
    for section in SECTIONS if sections is None else sections:
        if section.mart not in tables:
            continue
        result = sql.run(con, f"reports/sections/{section.key}", date_from=first, date_to=last, top=TOP_ROWS)
        shown.append(Rendered(section, [d[0] for d in result.description], result.fetchall()))
    return shown


def cell(column: str, value) -> str:
    """One value as the table shows it."""
    from .report import percent, usd

    if value is None:
        return "–"
    if column.endswith("_usd") and isinstance(value, Decimal):
        return usd(value)
    if column.endswith(("_share", "_rate")) and isinstance(value, (Decimal, float)):
        return percent(Decimal(str(value)))
    if column.endswith("_ratio") and isinstance(value, (Decimal, float)):
        return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"
    return html.escape(str(value))


def render(shown: list[Rendered]) -> str:
    """The sections as HTML, in `SECTIONS` order."""
    e = html.escape
    parts = []
    for r in shown:
        head = "".join(f"<th>{e(c)}</th>" for c in r.columns)
        if r.rows:
            body = "\n".join("<tr>" + "".join(
                (f"<th scope=row>{cell(c, v)}</th>" if i == 0 else f"<td>{cell(c, v)}</td>")
                for i, (c, v) in enumerate(zip(r.columns, row, strict=True))) + "</tr>" for row in r.rows)
        else:
            body = f"<tr><td colspan={len(r.columns)} style='text-align:left'>nothing in this period</td></tr>"
        parts.append(f"<section id=section-{e(r.section.key)}>\n<h2>{e(r.section.title)}</h2>\n"
                     f"<p>{r.section.how_to_read}</p>\n<div class=section-table><table id=table-{e(r.section.key)}>\n"
                     f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table></div>\n</section>")
    return "\n\n".join(parts)
