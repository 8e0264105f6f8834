"""The summary `reconcile` prints: per provider, where the invoice went."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
from rich.table import Table

from pipelines.cli.output import console, dollars, first_line, shown
from pipelines.lib import sql


def print_summary(warehouse: str, first: date, last: date) -> str | None:
    """One table per provider: rows are the invoice and its classes, columns the days. Returns
    why the warehouse could not be read, if it could not."""
    if not Path(warehouse).exists():
        console.print(f"no warehouse at {warehouse}: nothing was published", style="yellow")
        return None
    try:
        con = duckdb.connect(warehouse, read_only=True)
        try:
            rows = sql.run(con, "reports/summary", date_from=first, date_to=last).fetchall()
            bases = sql.run(con, "reports/allocation_basis", date_from=first, date_to=last).fetchall()
        finally:
            con.close()
    except duckdb.CatalogException:
        rows = []
    except duckdb.Error as exc:
        return f"cannot read the warehouse {warehouse} for the summary: {first_line(exc)}"
    by_provider: dict[str, dict] = defaultdict(lambda: {"lines": {}, "days": set(), "status": {}})
    for provider, _order, line, day, usd, status in rows:
        block = by_provider[provider]
        block["lines"].setdefault(line, {})[day] = usd or Decimal(0)
        block["days"].add(day)
        block["status"][day] = status
    for provider, block in by_provider.items():
        days = sorted(block["days"])
        table = Table(title=f"{shown(provider)}: where the invoice went (USD)", title_justify="left")
        table.add_column("class / job type")
        for d in days:
            table.add_column(f"{d}\n{block['status'][d]}", justify="right")
        table.add_column("total", justify="right")
        for line, values in block["lines"].items():
            style = "bold" if line == "invoice" else None
            cells = [dollars(values.get(d, Decimal(0))) for d in days]
            table.add_row(shown(line), *cells, dollars(sum(values.values(), Decimal(0))), style=style)
        console.print(table)
        priced = [(basis, usd) for p, basis, usd in bases if p == provider]
        total = sum((usd for _, usd in priced), Decimal(0))
        if total:
            parts = ", ".join(f"{BASES.get(b, b)} {dollars(usd)} ({usd / total:.1%})" for b, usd in priced)
            console.print(f"invoice priced by: {parts}", soft_wrap=True)
    if not by_provider:
        console.print(f"no reconciled rows between {first} and {last}", style="yellow")
    return None


# allocation_basis, as the summary names it
BASES = {"cost_line": "its own cost lines", "catalog_weights": "coarser cost lines shared by list-price weights",
         "catalog_price": "list prices (provisional)"}


def pull_groupings() -> list[str]:
    """What the Admin API pulls ask for, one line per provider (from the pulls' own settings)."""
    from pipelines.defs.anthropic import pull as anthropic_pull
    from pipelines.defs.openai import pull as openai_pull

    lines = []
    for name, module in (("OpenAI", openai_pull), ("Anthropic", anthropic_pull)):
        asks = "; ".join(f"{prefix.split('/', 1)[1]} by {', '.join(group_by)}" for prefix, _, group_by in module.ENDPOINTS)
        lines.append(f"{name} ({module.KEY_ENV}): {asks}")
    return lines
