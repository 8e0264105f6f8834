"""Daily budgets per job type and per feature: the budgets file (`config/budgets.csv`), validated.

The `job_types_within_budget` and `features_within_budget` asset checks compare each budget with the
day's cost: a job type's from `fct_dark_compute` (its background rows and its retries, `retry:<job type>`; a budget may name
`__unlogged__` too), a feature's from `fct_user_action_cost`. A budget whose `severity` is `block`
makes an overrun fail its check with ERROR severity, which keeps the downstream assets (the
warehouse, the report) from materializing; `warn` (the default) only warns.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .prices import CATALOG_PROVIDER

BUDGET_COLUMNS = ("scope", "name", "provider", "daily_usd", "severity", "note")
SCOPES = ("job_type", "feature")
SEVERITIES = ("warn", "block")
DEFAULT_BUDGETS = Path(__file__).resolve().parents[2] / "config" / "budgets.csv"
_MAX_USD = Decimal("1e15")


class BudgetsError(ValueError):
    """The budgets file is malformed: every problem, one a line, each naming file, line and field."""


@dataclass(frozen=True)
class Budget:
    """At most `daily_usd` a day for the job type or feature `name` (at `provider` only, when
    given; else over every provider). `origin` is `<file>:<line>`."""

    scope: str
    name: str
    provider: str | None
    daily_usd: Decimal
    severity: str
    origin: str
    note: str

    def parameter(self) -> dict:
        """As the check's SQL takes it (the dollars as text, so no float touches them)."""
        return {"scope": self.scope, "name": self.name, "provider": self.provider,
                "daily_usd": str(self.daily_usd), "severity": self.severity, "origin": self.origin}


def load_budgets(path: str | Path | None = None) -> list[Budget]:
    """The budgets file (`config/budgets.csv` unless `path` names another), validated.

    A CSV with the header `scope,name,provider,daily_usd,severity,note`; blank lines and lines
    starting with `#` are skipped. `provider` empty means every provider, `severity` empty means
    `warn`. Raises BudgetsError listing every problem as `<file> line <n>, field <name>: <what>`:
    an unknown scope, provider or severity, an empty name, a budget that is not a dollar amount
    (at most 12 decimals) or is negative, a feature budget that names a provider (a feature's cost
    is per feature over every provider), two budgets of one (scope, name, provider). A missing file
    is an error too (the default file is committed, without budgets)."""
    path = Path(path) if path else DEFAULT_BUDGETS
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BudgetsError(f"{path}: cannot read the budgets file ({exc.strerror or exc})") from exc
    errors: list[str] = []
    header: list[str] | None = None
    out: list[Budget] = []
    seen: dict[tuple, int] = {}
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([text]))]
        if header is None:
            header = fields
            if tuple(fields) != BUDGET_COLUMNS:
                errors.append(f"{path} line {number}, field header: expected the columns "
                              f"{','.join(BUDGET_COLUMNS)}, got {','.join(fields)}")
                break
            continue
        if len(fields) != len(BUDGET_COLUMNS):
            errors.append(f"{path} line {number}, field row: expected {len(BUDGET_COLUMNS)} fields, got {len(fields)}")
            continue
        row = dict(zip(BUDGET_COLUMNS, fields, strict=True))
        where = f"{path} line {number}, field"
        bad = len(errors)
        if row["scope"] not in SCOPES:
            errors.append(f"{where} scope: expected one of {', '.join(SCOPES)}, got {row['scope']!r}")
        if not row["name"]:
            errors.append(f"{where} name: empty (the job type or feature the budget is for)")
        if row["provider"] and row["provider"] not in CATALOG_PROVIDER:
            errors.append(f"{where} provider: expected one of {', '.join(CATALOG_PROVIDER)} (empty: every "
                          f"provider), got {row['provider']!r}")
        if row["provider"] and row["scope"] == "feature":
            errors.append(f"{where} provider: a feature budget is over every provider (fct_user_action_cost is "
                          f"per feature), got {row['provider']!r}")
        try:
            usd = Decimal(row["daily_usd"])
            if not usd.is_finite() or usd.as_tuple().exponent < -12 or abs(usd) >= _MAX_USD:
                raise ValueError
        except (ArithmeticError, ValueError):
            errors.append(f"{where} daily_usd: expected dollars a day like '25.00' (at most 12 decimals), "
                          f"got {row['daily_usd']!r}")
            usd = None
        if usd is not None and usd < 0:
            errors.append(f"{where} daily_usd: negative ({row['daily_usd']})")
        severity = row["severity"] or "warn"
        if severity not in SEVERITIES:
            errors.append(f"{where} severity: expected one of {', '.join(SEVERITIES)} (empty: warn), "
                          f"got {row['severity']!r}")
        key = (row["scope"], row["name"], row["provider"] or None)
        if key in seen and len(errors) == bad:
            errors.append(f"{where} name: a second budget for {row['scope']} {row['name']!r} at "
                          f"{row['provider'] or 'every provider'} (line {seen[key]} has the first)")
        if len(errors) > bad:
            continue
        seen[key] = number
        out.append(Budget(row["scope"], row["name"], row["provider"] or None, usd, severity, f"{path}:{number}",
                          row["note"]))
    if header is None and not errors:
        errors.append(f"{path} line {len(lines) + 1}, field header: no header line ({','.join(BUDGET_COLUMNS)})")
    if errors:
        raise BudgetsError(f"invalid budgets ({len(errors)} problem(s)): " + "\n".join(errors))
    return out
