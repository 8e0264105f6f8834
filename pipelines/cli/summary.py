"""The summary `reconcile` prints: per provider, where the invoice went and how much of it was
dark compute; then the rejected lines and the checks that warned or failed."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
from rich import box
from rich.table import Table

from pipelines.cli.output import console, first_line, shown
from pipelines.lib import sql

WIDTH = 100  # the summary fits this many columns (wider only when its numbers would not fit)
ZERO = Decimal(0)
CENT = Decimal("0.01")
LEGEND = "status: final = invoiced and settled; provisional = can still change; estimated = partly list-priced"
# rich's SIMPLE_HEAD, with a rule above a table's last section (its totals) too
RULES = box.Box("    \n    \n ── \n    \n ── \n ── \n    \n    \n")
# allocation_basis, as the summary names it
BASES = {"cost_line": "its own cost lines", "catalog_weights": "coarser cost lines shared by list-price weights",
         "catalog_price": "list prices (provisional)"}
COLUMNS = ("invoice", "user", "background", "retry", "unlogged", "dark", "dark %", "non-token")


@dataclass(frozen=True)
class Day:
    """One provider's day, in dollars (dark = background + retry + unlogged)."""
    day: date | None  # None: the total over the days
    status: str
    invoice: Decimal
    user: Decimal
    background: Decimal
    retry: Decimal
    unlogged: Decimal
    non_token: Decimal

    @property
    def dark(self) -> Decimal:
        return self.background + self.retry + self.unlogged


def amount(value: Decimal | None) -> str:
    """Dollars to the cent, with thousands separators; a non-zero amount that rounds to 0.00 is
    shown to two significant digits instead (0.00029, never 0.00); zero is `0`."""
    value = ZERO if value is None else value
    if not value:
        return "0"  # exactly nothing (a non-zero amount is never shown as 0 or 0.00)
    cents = value.quantize(CENT)
    if cents:
        return f"{cents:,}"
    return f"{value.quantize(Decimal(1).scaleb(value.adjusted() - 1)):f}"


def share(part: Decimal, whole: Decimal) -> str:
    """`part` as a percentage of `whole` to 0.1 (two significant digits when that shows 0.0%)."""
    if not whole:
        return "n/a"
    pct = part * 100 / whole
    rounded = pct.quantize(Decimal("0.1"))
    if rounded or not pct:
        return f"{rounded}%"
    return f"{pct.quantize(Decimal(1).scaleb(pct.adjusted() - 1)):f}%"


def print_summary(warehouse: str, first: date, last: date, checks: list | None = None) -> str | None:
    """Per provider: its days (rows) with the invoice, user, dark compute (total, share, and by
    class) and non-token; its dark compute by job type; how its invoice was priced. Then the
    status legend, the rejected lines of the days' deliveries, and `checks` when given (the run's
    (day, Dagster check evaluation) pairs that did not pass). Returns why the warehouse could not be read, if
    it could not."""
    if not Path(warehouse).exists():
        console.print(f"no warehouse at {warehouse}: nothing was published", style="yellow")
        return None
    rejected: list[tuple] | None = None
    try:
        con = duckdb.connect(warehouse, read_only=True)
        try:
            days = sql.run(con, "reports/summary", date_from=first, date_to=last).fetchall()
            dark = sql.run(con, "reports/summary_dark", date_from=first, date_to=last).fetchall()
            bases = sql.run(con, "reports/allocation_basis", date_from=first, date_to=last).fetchall()
            try:
                rejected = sql.run(con, "reports/summary_rejected", date_from=first, date_to=last).fetchall()
            except duckdb.CatalogException:  # a warehouse without the table: said below, not hidden
                rejected = None
        finally:
            con.close()
    except duckdb.CatalogException:
        days, dark, bases = [], [], []
    except duckdb.Error as exc:
        return f"cannot read the warehouse {warehouse} for the summary: {first_line(exc)}"
    by_provider: dict[str, list[Day]] = defaultdict(list)
    for provider, day, status, *usd in days:
        by_provider[provider].append(Day(day, status, *(v or ZERO for v in usd)))
    if not by_provider:
        console.print(f"no reconciled rows between {first} and {last}", style="yellow")
    else:
        totals = [total(rows) for rows in by_provider.values()]
        invoice, dark_usd = sum((t.invoice for t in totals), ZERO), sum((t.dark for t in totals), ZERO)
        console.print(f"Dark compute {first} to {last}: {amount(dark_usd)} USD of {amount(invoice)} invoiced "
                      f"({share(dark_usd, invoice)}) by {len(by_provider)} provider(s)", style="bold", soft_wrap=True)
    for provider, rows in by_provider.items():
        console.print()
        _print(_days_table(provider, rows))
        for table in _dark_tables(provider, [r for r in dark if r[0] == provider], rows):
            console.print()
            _print(table)
        priced = [(basis, usd) for p, basis, usd in bases if p == provider]
        invoiced = sum((usd for _, usd in priced), ZERO)
        if invoiced:
            _print_parts("invoice priced by:", [f"{BASES.get(b, shown(b))} {amount(usd)} ({usd / invoiced:.1%})"
                                                 for b, usd in priced])
    if by_provider:
        console.print(LEGEND, soft_wrap=True)
    _print_rejected(rejected)
    _print_checks(checks)
    return None


def total(rows: list[Day]) -> Day:
    """The provider's days added up; its status is the worst of theirs."""
    statuses = {r.status for r in rows}
    status = next((s for s in ("provisional", "estimated") if s in statuses), "final")
    fields = ("invoice", "user", "background", "retry", "unlogged", "non_token")
    return Day(None, status, *(sum((getattr(r, f) for r in rows), ZERO) for f in fields))


def _print_parts(head: str, parts: list[str], sep: str = ",") -> None:
    """`head` and the parts, each but the last followed by `sep`, in lines of at most WIDTH
    columns (a part is never split; the next lines are indented by four)."""
    lines, line = [], head.rstrip()
    for i, part in enumerate(parts):
        piece = part + (sep if i < len(parts) - 1 else "")
        if line.strip() and len(line) + 1 + len(piece) > WIDTH:
            lines.append(line)
            line = "    " + piece
        else:
            line = f"{line} {piece}" if line.strip() else line + piece
    lines.append(line)
    for text in lines:
        console.print(text, soft_wrap=True)


def natural(table: Table) -> int:
    """The columns a table takes when nothing is squeezed."""
    return console.measure(table, options=console.options.update_width(10_000)).maximum


def _print(table: Table) -> None:
    """A table at its natural width: WIDTH columns or fewer for the summary's tables (wider only if
    its numbers need it: cells are never cut, even when the output is piped)."""
    if table.title:  # on a line of its own, left, not padded to the table's width
        console.print(table.title, style="bold", soft_wrap=True)
        table.title = None
    width = natural(table)
    if width > console.width:  # e.g. piped (80 columns): as wide as it needs, not squeezed
        table.width = width
    console.print(table, crop=False)


def _days_table(provider: str, rows: list[Day]) -> Table:
    whole = total(rows)
    table = Table(title=f"{shown(provider)}: dark compute {amount(whole.dark)} of the {amount(whole.invoice)} "
                        f"invoice ({share(whole.dark, whole.invoice)}), USD",
                  box=RULES, show_edge=False, pad_edge=False, padding=(0, 0, 0, 1))
    table.add_column("day", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for name in COLUMNS:
        table.add_column(name, justify="right", no_wrap=True, style="bold" if name in ("dark", "dark %") else None)
    for r in rows:
        table.add_row(*_day_cells(r))
    if len(rows) > 1:
        table.add_section()
        table.add_row(*_day_cells(whole), style="bold")
    return table


def _day_cells(r: Day) -> list[str]:
    return [str(r.day) if r.day else "total", r.status if r.day else "", amount(r.invoice), amount(r.user),
            amount(r.background), amount(r.retry), amount(r.unlogged), amount(r.dark), share(r.dark, r.invoice),
            amount(r.non_token)]


def _dark_tables(provider: str, rows: list[tuple], days: list[Day]) -> list[Table]:
    """Dark compute by class and job type, with each class's subtotal and the dark total; days
    as columns, in as many tables as it takes to fit WIDTH columns, the last with the total."""
    jobs: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(dict)
    for _, day, dark_class, job_type, usd in rows:
        jobs[(dark_class, job_type)][day] = usd or ZERO
    lines: list[tuple[str, dict[date, Decimal], bool]] = []  # (label, usd by day, a subtotal?)
    for dark_class in ("background", "retry"):
        lines.append((dark_class, {d.day: getattr(d, dark_class) for d in days}, True))
        lines += [(f"  {shown(job)}", jobs[(c, job)], False) for c, job in sorted(jobs) if c == dark_class]
    lines.append(("unlogged", {d.day: d.unlogged for d in days}, True))
    lines.append(("dark compute", {d.day: d.dark for d in days}, True))
    dates = [d.day for d in days]
    tables, start, size = [], 0, len(dates)
    while start < len(dates):
        chunk = dates[start:start + size]
        table = _dark_table(provider, lines, chunk, dates if start + size >= len(dates) and len(dates) > 1 else None)
        if size > 1 and natural(table) > WIDTH:
            size -= 1
            continue
        tables.append(table)
        start += size
    return tables


def _dark_table(provider: str, lines: list, chunk: list[date], total_over: list[date] | None) -> Table:
    span = f"{chunk[0]}" if len(chunk) == 1 else f"{chunk[0]} to {chunk[-1]}"
    table = Table(title=f"{shown(provider)}: dark compute by class and job type, {span} (USD)", box=RULES,
                  show_edge=False, pad_edge=False, padding=(0, 0, 0, 1))
    table.add_column("class / job type", max_width=32, overflow="fold")
    for day in chunk:
        table.add_column(str(day), justify="right", no_wrap=True)
    if total_over:
        table.add_column("total", justify="right", no_wrap=True)
    for label, values, subtotal in lines:
        cells = [amount(values.get(d, ZERO)) for d in chunk]
        if total_over:
            cells.append(amount(sum((values.get(d, ZERO) for d in total_over), ZERO)))
        if label == "dark compute":
            table.add_section()
        table.add_row(label, *cells, style="bold" if subtotal else None)
    return table


def _print_rejected(rejected: list[tuple] | None) -> None:
    console.print()
    if rejected is None:
        console.print("rejected lines: the warehouse has no rejected_records table", style="yellow")
        return
    count = sum(n for _, _, n in rejected)
    if not count:
        console.print("rejected lines: none")
        return
    console.print(f"rejected lines: {count:,} (rows of rejected_records, by source and reason)", style="bold")
    table = Table(box=RULES, show_edge=False, pad_edge=False, padding=(0, 0, 0, 1))
    table.add_column("source", max_width=30, overflow="fold")
    table.add_column("reason", max_width=60, overflow="fold")
    table.add_column("lines", justify="right", no_wrap=True)
    for source, reason, lines in rejected:
        table.add_row(shown(source), shown(reason), f"{lines:,}")
    _print(table)


# the checks whose description is an alert naming the cell and its numbers (reconcile/assets.py)
ALERTING = ("job_type_cost_within_factor", "dark_share_within_factor", "job_types_within_budget",
            "features_within_budget")


def _print_checks(checks: list | None) -> None:
    """Each check that warned or failed, once: on how many days, its counts added up over them,
    and each day's own (or its description, for a check without numbers)."""
    if checks is None:
        return
    failed: dict[tuple[str, str, str], list[tuple[date, dict, str]]] = defaultdict(list)
    for day, evaluation in checks:
        if evaluation.passed:
            continue
        severity = str(getattr(evaluation.severity, "value", evaluation.severity)).lower()
        key = (evaluation.check_name, evaluation.asset_key.to_user_string(), "warned" if severity == "warn" else "failed")
        failed[key].append((day, check_numbers(evaluation), first_line(evaluation.description or "")))
    if not failed:
        console.print()
        console.print("asset checks: none warned or failed")
        return
    console.print()
    console.print("asset checks that warned or failed:", style="bold")
    for (name, asset, verdict), days in failed.items():
        counts = [k for k, v in days[0][1].items()
                  if isinstance(v, int) and all(isinstance(n.get(k), int) for _, n, _ in days)]
        added = ", ".join(f"{k}={sum(n[k] for _, n, _ in days):,}" for k in counts)
        head = f"  {shown(name)} on {shown(asset)} {verdict} on {len(days)} day(s)" + (f", {added} in all" if added else "")
        single = len(counts) == 1 and all(list(n) == counts for _, n, _ in days)  # one count: the days show its value
        parts = [f"{day} ({n[counts[0]]:,})" if single
                 else f"{day} ({', '.join(_number(k, v) for k, v in n.items())})" if n
                 else f"{day}" + (f" ({shown(text)})" if text else "") for day, n, text in days]
        _print_parts(head + ":", parts, sep=";")
        if name in ALERTING:  # an anomaly or budget check: each day's alert (it starts with the day) says where to look
            for _, n, text in days:
                if n and text:
                    console.print(textwrap.fill(shown(text), WIDTH, initial_indent="    ",
                                                subsequent_indent="      ", break_on_hyphens=False), soft_wrap=True)


def check_numbers(evaluation) -> dict:
    """A check evaluation's numbers by metadata key (a dbt test's: its failing rows)."""
    metadata = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
    if str(metadata.get("unique_id", "")).startswith("test."):  # a dbt test
        rows = metadata.get("dagster_dbt/failed_row_count")
        return {"failed_rows": rows} if isinstance(rows, int) else {}
    return {shown(k): v for k, v in metadata.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _number(key: str, value) -> str:
    return f"{key}={value:,}" if isinstance(value, int) else f"{key}={value}"


def pull_groupings() -> list[str]:
    """What the Admin API pulls ask for, one line per provider (from the pulls' own settings)."""
    from pipelines.defs.anthropic import pull as anthropic_pull
    from pipelines.defs.openai import pull as openai_pull

    lines = []
    for name, module in (("OpenAI", openai_pull), ("Anthropic", anthropic_pull)):
        asks = "; ".join(f"{prefix.split('/', 1)[1]} by {', '.join(group_by)}" for prefix, _, group_by in module.ENDPOINTS)
        lines.append(f"{name} ({module.KEY_ENV}): {asks}")
    return lines
