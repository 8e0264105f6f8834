"""The checks on the marts, as plain functions over a partition's Parquet file.

The Dagster asset checks in `assets.py` call these; tests call them directly on fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.lib import sql
from pipelines.lib.lake import Lake


@dataclass(frozen=True)
class Outcome:
    passed: bool
    metadata: dict


def identity(con: duckdb.DuckDBPyConnection, path: Path) -> Outcome:
    """Every reconciliation row's classes sum to its invoice cost, to the picodollar, and no
    residual is negative."""
    violations, worst = sql.run(con, "checks/identity", path=str(path)).fetchone()
    return Outcome(violations == 0, {"violating_rows": violations, "worst_gap_usd": str(worst)})


def coverage(con: duckdb.DuckDBPyConnection, path: Path, minimum: Decimal) -> Outcome:
    """The logs attribute at least `minimum` of each provider's token invoice for the day, per
    provider (pooled, a well-logged provider would hide one whose logs explain nothing). A
    provider with no token invoice has no share (the `invoice_not_missing` check covers it)."""
    rows = sql.run(con, "checks/coverage", path=str(path)).fetchall()
    shares = {provider: (attributed / invoice) if invoice else None for provider, invoice, attributed, _ in rows}
    below = [p for p, share in shares.items() if share is not None and share < minimum]
    table = [f"| {p} | {'n/a' if shares[p] is None else round(shares[p], 6)} | {invoice} | {attributed} | {unlogged} |"
             for p, invoice, attributed, unlogged in rows]
    known = [share for share in shares.values() if share is not None]
    return Outcome(
        not below,
        {"coverage": float(round(min(known), 6)) if known else 1.0, "minimum": float(minimum),
         **{f"coverage_{p}": float(round(share, 6)) for p, share in shares.items() if share is not None},
         "below_minimum": ", ".join(below),
         "by_provider": "| provider | coverage | token invoice USD | attributed USD | unlogged USD |\n"
                        "|---|---|---|---|---|\n" + "\n".join(table)},
    )


def missing_money(con: duckdb.DuckDBPyConnection, path: Path) -> Outcome:
    """No provider's logs recorded calls on the day while its invoice for the day is $0 (no usage
    and no cost rows at all, or an export that came back empty). Publishing such a day would
    price every logged call at $0 and call it final."""
    rows = sql.run(con, "checks/missing_money", path=str(path)).fetchall()
    providers = ", ".join(p for p, *_ in rows)
    calls = sum(n for _, n, *_ in rows)
    metadata = {"providers": providers, "logged_calls": calls,
                **{f"logged_calls_{p}": n for p, n, *_ in rows}}
    if rows:
        metadata["what_to_do"] = (
            f"the logs recorded {calls:,} calls to {providers} but the invoice of the day is $0 (no usage and no "
            "cost export, or an empty one). Check that the export was delivered to the source root, or that the "
            "admin key belongs to the organization the calls were made in; then reconcile the day again.")
    return Outcome(not rows, metadata)


def rejected(con: duckdb.DuckDBPyConnection, path: Path) -> Outcome:
    """No delivered line was rejected (each rejected line is in `rejected_records`)."""
    rows = sql.run(con, "checks/rejected", path=str(path)).fetchall()
    total = sum(r[2] for r in rows)
    by_reason = "\n".join(f"| {s} | {r} | {n} |" for s, r, n in rows)
    return Outcome(
        total == 0,
        {"rejected_lines": total, "by_reason": "| source | reason | lines |\n|---|---|---|\n" + by_reason},
    )


def unrecognized(con: duckdb.DuckDBPyConnection, path: Path) -> Outcome:
    """No delivered file was a file of JSON lines that no rule recognizes (e.g. a new logger's
    format): each one is named with its line count and the keys it held."""
    if "file" not in sql.run(con, "checks/columns", path=str(path)).fetchone()[0]:
        return Outcome(True, {"unrecognized_files": 0})  # a partition written before files were named
    rows = sql.run(con, "checks/unrecognized", path=str(path)).fetchall()
    table = "\n".join(f"| {s} | {f} | {n} | {k} |" for s, f, n, k in rows)
    return Outcome(
        not rows,
        {"unrecognized_files": len(rows), "files": [f for _, f, _, _ in rows],
         "by_file": "| source | file | lines | keys seen |\n|---|---|---|---|\n" + table},
    )


def conservation(con: duckdb.DuckDBPyConnection, files: list[str], records: list[str]) -> Outcome:
    """For every file delivered that day: lines read = records + skipped + rejected, and the
    records it claims are exactly the bronze rows that carry its name. Nothing lost, nothing
    counted twice between the file and the lake."""
    if not files:
        return Outcome(True, {"files": 0})
    bad = sql.run(con, "checks/conservation", files=files, records=records).fetchall()
    (total,) = con.execute("select count(*) from read_parquet($f, union_by_name = true)", {"f": files}).fetchone()
    return Outcome(
        not bad,
        {"files": total, "unbalanced_files": len(bad),
         "first_unbalanced": str(bad[0]) if bad else ""},
    )


def price_gap(con: duckdb.DuckDBPyConnection, path: Path, share: Decimal) -> Outcome:
    """No token cell of fct_spend_diagnosis has a price gap (invoice against list price times its
    billed tokens) larger than `share` of its invoice: a wrong catalog is a bug to fix, not noise.
    The cells over the share are listed, largest gap first."""
    rows = sql.run(con, "checks/price_gap", path=str(path), share=share).fetchall()
    table = "\n".join(f"| {p} | {a} | {m} | {t} | {i} | {g} | {'n/a' if r is None else r} | {d} |"
                      for p, a, m, t, i, g, r, d in rows)
    return Outcome(
        not rows,
        {"cells_over_share": len(rows), "share": float(share),
         "worst_price_gap_usd": str(rows[0][5]) if rows else "0",
         "cells": "| provider | billing account | model | tier | invoice USD | price gap USD | invoice / list | "
                  "diagnosis |\n|---|---|---|---|---|---|---|---|\n" + table},
    )


# --- Anomalies and budgets ------------------------------------------------------------------------

HISTORY_DAYS = 7  # the trailing window of the anomaly checks' medians
MIN_HISTORY_DAYS = 3  # with fewer previous days in the lake, the anomaly checks pass and say so


def _usd(value) -> str:
    return f"{value:,.2f}" if value is not None else "n/a"


def _too_little_history(history: list, day) -> Outcome:
    return Outcome(True, {"day": str(day), "history_days": str(len(history)), "flagged": 0,
                          "note": f"too little history: {len(history)} of the previous {HISTORY_DAYS} days are in the "
                                  f"lake (at least {MIN_HISTORY_DAYS} needed); not checked"})


def job_type_anomalies(con: duckdb.DuckDBPyConnection, day, today: Path, history: dict, factor: Decimal,
                       min_usd: Decimal) -> Outcome:
    """No job type's dark cost of the day, per provider, is above `factor` times its median over
    the previous days' fct_dark_compute partitions (`history`: {day: path}, those that exist; a
    day without the job type counts $0), unless it is below `min_usd`. A median of $0 (a job type
    new to the window) counts as exceeded. Fewer than MIN_HISTORY_DAYS previous days: passes,
    saying so. Each flagged job type names its provider, accounts and models, the day's dollars,
    the median and the ratio."""
    if len(history) < MIN_HISTORY_DAYS:
        return _too_little_history(list(history), day)
    rows = sql.run(con, "checks/anomaly_job_types", files=[str(today), *map(str, history.values())], day=day,
                   history=sorted(history), factor=factor, min_usd=min_usd).fetchall()
    table = "\n".join(f"| {p} | {j} | {_usd(t)} | {_usd(m)} | {'new' if r is None else f'{r}x'} | {c} |"
                      for p, j, t, m, r, c in rows)
    metadata = {
        "day": str(day), "flagged": len(rows), "factor": str(factor), "min_usd": str(min_usd),
        "history_days": str(len(history)),
        "job_types": ", ".join(f"{p} {j}" for p, j, *_ in rows),
        "cells": "| provider | job type | day USD | 7-day median USD | ratio | accounts and models (day USD) |\n"
                 "|---|---|---|---|---|---|\n" + table,
    }
    if rows:
        p, j, t, m, r, c = rows[0]
        more = f" (and {len(rows) - 1} more: {', '.join(f'{q} {k}' for q, k, *_ in rows[1:])})" if len(rows) > 1 else ""
        metadata["alert"] = (f"{day} {p} {j}: ${_usd(t)} against a {len(history)}-day median of ${_usd(m)} "
                             f"({'new' if r is None else f'{r}x'}, over {factor}x); largest cells: "
                             f"{'; '.join(c.split('; ')[:3])}{more}")
        metadata.update({"provider": p, "job_type": j, "day_usd": str(t), "median_usd": str(m),
                         "ratio": "new" if r is None else str(r)})
    return Outcome(not rows, metadata)


def dark_share_anomalies(con: duckdb.DuckDBPyConnection, day, today: tuple[Path, Path],
                         history: dict[object, tuple[Path, Path]], factor: Decimal, min_usd: Decimal) -> Outcome:
    """No provider's dark-compute share of the day's invoice is above `factor` times its median
    over the previous days (`history`: {day: (fct_spend_reconciliation, fct_dark_compute)}, the
    days both partitions exist), unless its dark compute of the day is below `min_usd`."""
    if len(history) < MIN_HISTORY_DAYS:
        return _too_little_history(list(history), day)
    recon = [str(today[0]), *(str(r) for r, _ in history.values())]
    dark = [str(today[1]), *(str(d) for _, d in history.values())]
    rows = sql.run(con, "checks/anomaly_dark_share", recon_files=recon, dark_files=dark, day=day,
                   history=sorted(history), factor=factor, min_usd=min_usd,
                   min_history=MIN_HISTORY_DAYS).fetchall()
    table = "\n".join(f"| {p} | {_usd(d)} | {_usd(i)} | {s:.2%} | {m:.2%} | {'new' if r is None else f'{r}x'} |"
                      for p, d, i, s, m, _, r in rows)
    metadata = {
        "day": str(day), "flagged": len(rows), "factor": str(factor), "min_usd": str(min_usd),
        "history_days": str(len(history)), "providers": ", ".join(p for p, *_ in rows),
        "cells": "| provider | dark USD | invoice USD | dark share | 7-day median share | ratio |\n"
                 "|---|---|---|---|---|---|\n" + table,
    }
    if rows:
        p, d, i, s, m, _, r = rows[0]
        more = f" (and {', '.join(q for q, *_ in rows[1:])})" if len(rows) > 1 else ""
        metadata["alert"] = (f"{day} {p}: dark compute ${_usd(d)} is {s:.1%} of the ${_usd(i)} invoice against a "
                             f"{len(history)}-day median of {m:.1%} ({'new' if r is None else f'{r}x'}, over "
                             f"{factor}x){more}; fct_dark_compute by job type shows which")
        metadata.update({"provider": p, "dark_usd": str(d), "invoice_usd": str(i), "share": str(s),
                         "median_share": str(m)})
    return Outcome(not rows, metadata)


def job_type_budgets(con: duckdb.DuckDBPyConnection, day, path: Path, budgets: list) -> tuple[Outcome, bool]:
    """Each job-type budget (lib/budgets.py) against the day's cost in fct_dark_compute (the job
    type's rows and its retries, at the budget's provider or every provider). Returns the outcome
    and whether an overrun budget's severity is `block`."""
    return _budgets(con, day, "checks/budgets_job_types", path, [b for b in budgets if b.scope == "job_type"])


def feature_budgets(con: duckdb.DuckDBPyConnection, day, path: Path, budgets: list) -> tuple[Outcome, bool]:
    """Each feature budget against the day's cost of the feature in fct_user_action_cost: its
    users' calls plus the retries and background work its actions triggered, over every provider.
    Returns the outcome and whether an overrun budget's severity is `block`."""
    return _budgets(con, day, "checks/budgets_features", path, [b for b in budgets if b.scope == "feature"])


def _budgets(con, day, query: str, path: Path, budgets: list) -> tuple[Outcome, bool]:
    import pyarrow as pa

    if not budgets:
        return Outcome(True, {"day": str(day), "budgets": "0", "over_budget": 0,
                              "note": "no budgets of this scope in the budgets file"}), False
    con.register("budgets", pa.Table.from_pylist([b.parameter() for b in budgets], schema=pa.schema(
        [(name, pa.string()) for name in ("scope", "name", "provider", "daily_usd", "severity", "origin")])))
    try:
        rows = sql.run(con, query, path=str(path)).fetchall()
    finally:
        con.unregister("budgets")
    over = [r for r in rows if r[6]]
    blocking = any(r[4] == "block" for r in over)
    table = "\n".join(f"| {n} | {p or 'every provider'} | {_usd(c)} | {_usd(b)} | {'over' if o else 'within'} | "
                      f"{s} | {origin} | {cells or ''} |" for origin, n, p, b, s, c, o, cells in rows)
    metadata = {
        "day": str(day), "budgets": str(len(rows)), "over_budget": len(over), "blocking": blocking,
        "over": ", ".join(f"{n}{' at ' + p if p else ''}" for _, n, p, *_ in over),
        "by_budget": "| name | provider | day USD | budget USD | verdict | severity | budget line | cells (day USD) |\n"
                     "|---|---|---|---|---|---|---|---|\n" + table,
    }
    if over:
        origin, n, p, b, s, c, _, cells = over[0]
        more = f" (and {len(over) - 1} more: {', '.join(r[1] for r in over[1:])})" if len(over) > 1 else ""
        metadata["alert"] = (f"{day} {n}{' at ' + p if p else ''}: ${_usd(c)} over its ${_usd(b)} daily budget "
                             f"({s}, {origin}); largest cells: {'; '.join((cells or '').split('; ')[:3])}{more}")
        metadata.update({"name": n, "day_usd": str(c), "budget_usd": str(b)})
    return Outcome(not over, metadata), blocking


def retry_amplification(con: duckdb.DuckDBPyConnection, path: Path, factor: Decimal) -> Outcome:
    """No cell of fct_retry_amplification has more than `factor` requests on the wire (counted by
    the provider) per call the logs recorded: requests no log saw, such as SDK-internal retries.
    The cells over the factor are listed, most amplified first, with their counts and the invoice
    dollars of the requests no log saw."""
    rows = sql.run(con, "checks/retry_amplification", path=str(path), factor=factor).fetchall()
    table = "\n".join(f"| {p} | {a} | {m} | {req} | {logged} | {retries} | {unseen} | {ratio} | {cost} |"
                      for p, a, m, req, logged, retries, unseen, ratio, cost in rows)
    accounts = sorted({(p, a) for p, a, *_ in rows})
    return Outcome(
        not rows,
        {"cells_over_factor": len(rows), "factor": float(factor),
         "accounts": ", ".join(f"{p} {a}" for p, a in accounts),
         "unseen_requests": sum(r[6] for r in rows),
         "unseen_cost_usd": str(sum((r[8] or Decimal(0) for r in rows), Decimal(0))),
         **({"worst_amplification_ratio": float(rows[0][7]),
             "summary": f"{len(rows)} cell(s) above {factor} requests per logged call: "
                        + "; ".join(f"{p} {a} {m} x{ratio} ({req} requests, {logged} logged)"
                                    for p, a, m, req, logged, _, _, ratio, _ in rows[:5])} if rows else {}),
         "cells": "| provider | billing account | model | provider requests | logged calls | logged retries | "
                  "unseen requests | amplification | unseen USD |\n|---|---|---|---|---|---|---|---|---|\n" + table},
    )


CACHE_MIN_PRIOR_DAYS = 3  # prior days (of the trailing 7) with input a cell or tenant needs before it is judged
CACHE_HIT_SUBJECTS = {"cells": "cell", "tenants": "tenant"}


def cache_hit_drop(con: duckdb.DuckDBPyConnection, day, today: Path, prior: list[Path], points: Decimal,
                   kind: str = "cells") -> Outcome:
    """No cell (`kind="cells"`, fct_cache_efficiency) or tenant (`"tenants"`,
    fct_cache_efficiency_tenant, its cells added up) has a hit rate on `day` more than `points`
    percentage points below the median of its hit rates on the trailing 7 days (`prior`: those
    days' partitions of the same mart, from the lake). A subject with input on fewer than
    `CACHE_MIN_PRIOR_DAYS` of them is not judged; with fewer than that many prior partitions at all
    the check passes and says "not enough history". The metadata names each subject that dropped,
    with its rate, median and drop; the largest drop first."""
    subject = CACHE_HIT_SUBJECTS[kind]
    base = {"kind": kind, "day": str(day), "threshold_points": float(points), "prior_days": len(prior),
            "min_history_days": CACHE_MIN_PRIOR_DAYS}
    if len(prior) < CACHE_MIN_PRIOR_DAYS:
        return Outcome(True, {**base, "history": f"not enough history: {len(prior)} of the {CACHE_MIN_PRIOR_DAYS} prior "
                                                 f"days needed (of the trailing 7), nothing judged",
                              "dropped": 0, "worst": "", "drops": ""})
    sql.relation(con, f"checks/cache_hit_days_{kind}", paths=[str(p) for p in [*prior, today]]).create_view(
        "cache_hit_days", replace=True)
    rows = sql.run(con, "checks/cache_hit_drop", day=day).fetchall()
    judged = [r for r in rows if r[5] >= CACHE_MIN_PRIOR_DAYS]
    dropped = [r for r in judged if Decimal(str(r[6])) > points]
    table = "\n".join(f"| {s} | {hit} | {median} | {drop} | {days} | {read} | {inp} |"
                      for s, inp, read, hit, median, days, drop in dropped)
    worst = dropped[0] if dropped else None
    return Outcome(not dropped, {
        **base, "history": "enough", f"{subject}s_judged": len(judged),
        f"{subject}s_without_history": len(rows) - len(judged), "dropped": len(dropped),
        "worst": (f"{worst[0]}: hit rate {worst[3]}% on {day} against a trailing 7-day median of {worst[4]}% "
                  f"({worst[6]} points down)") if worst else "",
        "drops": (f"| {subject} | hit rate % | 7-day median % | drop (points) | prior days | cache read tokens | "
                  "input tokens |\n|---|---|---|---|---|---|---|\n" + table) if dropped else "",
    })


COST_GROWTH_TABLES = ("fct_spend_reconciliation", "fct_dark_compute", "fct_feature_users")
COST_GROWTH_MIN_RATE = Decimal("0.5")  # a cost that grew less than this in 4 weeks never warns
# what the view reads of a mart that has no partition in the weeks compared (no background work)
COST_GROWTH_EMPTY = {
    "fct_dark_compute": "select null::date as usage_date, null::varchar as dark_class, null::varchar as job_type, "
                        "null::bigint as calls, null::decimal(38, 12) as cost_usd limit 0",
    "fct_feature_users": "select null::date as usage_date, null::varchar as feature, null::varchar as user_id, "
                         "null::bigint as actions, null::bigint as calls, null::decimal(38, 12) as user_cost_usd, "
                         "null::decimal(38, 12) as retry_cost_usd, null::bigint as background_calls, "
                         "null::decimal(38, 12) as background_cost_usd limit 0",
}


def cost_growth(lake: Lake, day: date, factor: Decimal, min_rate: Decimal = COST_GROWTH_MIN_RATE) -> Outcome:
    """No feature or job type's cost grew faster than its users by more than `factor` over the
    trailing 4 weeks: in the latest whole ISO week ending on or before `day`, against the whole
    week 4 weeks earlier, cost growth - 1 > factor x (users' growth - 1) and >= `min_rate` warns.
    The weekly numbers are the warehouse's `fct_cost_growth` view (the same SQL,
    `publish/cost_growth_view.sql`), made here over the lake's partitions of the 5 weeks before
    `day` (the lake holds every reconciled day, whatever was published). The metadata names each
    subject and its numbers."""
    monday = day - timedelta(days=day.weekday())
    days = [monday - timedelta(days=35) + timedelta(days=i) for i in range((day - monday).days + 36)]
    files = {t: lake.existing("marts", t, days) for t in COST_GROWTH_TABLES}
    if not files["fct_spend_reconciliation"]:
        return Outcome(True, {"compared": f"nothing to compare: no day reconciled in the 5 weeks to {day}",
                              "subjects_over_factor": 0, "factor": float(factor)})
    con = duckdb.connect()
    try:
        for table, paths in files.items():
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            con.execute(f"create view {table} as " + (f"select * from read_parquet([{listed}], union_by_name = true)"
                                                      if paths else COST_GROWTH_EMPTY[table]))
        sql.run_script(con, "publish/cost_growth_view")
        week = con.execute("select max(week_start)::date from fct_cost_growth where whole_week and week_end <= $day",
                           {"day": day}).fetchone()[0]
        rows = sql.run(con, "checks/cost_growth", day=day, factor=factor, min_rate=min_rate).fetchall()
    finally:
        con.close()
    table = "\n".join(f"| {k} | {s} | {w} | {c} | {g} | {u} | {ug} | {p} |" for k, s, w, c, g, u, ug, p in rows)
    return Outcome(
        not rows,
        {"subjects_over_factor": len(rows), "factor": float(factor), "min_growth": float(min_rate),
         "week": str(week) if week else "no whole week yet",
         "compared_with": str(week - timedelta(days=28)) if week else "",
         "subjects": ", ".join(f"{k} {s}" for k, s, *_ in rows),
         **({"worst_subject": f"{rows[0][0]} {rows[0][1]}", "worst_cost_growth_4w": str(rows[0][4]),
             "worst_users_growth_4w": str(rows[0][6])} if rows else {}),
         "by_subject": "| kind | subject | week | cost USD | cost growth 4w | active users | users growth 4w | "
                       "cost per active user USD |\n|---|---|---|---|---|---|---|---|\n" + table},
    )
