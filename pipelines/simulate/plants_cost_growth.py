"""Plant: a background job type whose cost grows faster than the users (`simulate(cost_growth=...)`).

Issue 14's "cost curve detaches from the usage curve": active users and user traffic grow by
`users_weekly` each ISO week, while one job type's calls grow by `job_weekly` each week (3x the
users' rate by default) for `weeks` weeks, then with the users. Week 0 is the ISO week (Monday to
Sunday) of the world's first day; every day of week `w` is scaled the same, so whole weeks grow by
exactly the planted factors (up to the draws: traffic is still random).

- Traffic: the day is generated with `calls_on(...)` calls instead of `calls_per_day`:
  `round(calls_per_day x (1 + users_weekly) ** w)`; every feature and job type grows with it.
- Users: every app request of week `w` is made by one of `active_users(w)` users,
  `round(first_week_users x (1 + users_weekly) ** w)`, chosen by a hash of its request id (the
  calls of a request keep one user). A week carries several times more requests than users, so
  every user of the pool is active in it: the week's distinct users are the pool.
- The planted job type: a job of it is kept when a hash of its job id falls under
  `keep(w) = ((1 + users_weekly) / (1 + job_weekly)) ** (weeks - 1 - w)` (1 from week `weeks - 1`
  on), its lifecycle lines with it; the job type's calls then grow by (1 + users_weekly) x
  (1 + job_weekly) / (1 + users_weekly) = 1 + job_weekly a week. Pick a job type that no user
  request triggers (the default, `proactive_suggestions`, runs on a schedule), so no feature's
  cost grows through `parent_request_id`.

No random draw (hashes of ids only): with the plant off, every world keeps its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from .world import JOB_TYPES, DayWorld, _mix64

SALT_USER, SALT_JOB = np.uint64(0x6C7573), np.uint64(0x6A6F62)


@dataclass(frozen=True)
class CostGrowth:
    users_weekly: float = 0.10  # active users and user traffic grow by this share each week
    job_type: str | None = "proactive_suggestions"  # the job type that outgrows them; None: none does
    job_weekly: float = 0.30  # that job type's calls grow by this share each week (3x the users' rate)
    weeks: int = 8  # for this many weeks from the first; then it grows with the users
    first_week_users: int = 40  # distinct active users in week 0

    def __post_init__(self):
        if self.job_type is not None and self.job_type not in {jt.name for jt in JOB_TYPES}:
            raise ValueError(f"cost_growth.job_type must be one of the world's job types, got {self.job_type!r}")
        if not (self.users_weekly > -1 and self.job_weekly > -1 and self.weeks >= 1 and self.first_week_users >= 1):
            raise ValueError("cost_growth: weekly growth above -100%, at least 1 week and 1 user")


def week_of(start: date, day: date) -> int:
    """The ISO week of `day`, counted from the ISO week of `start` (0)."""
    monday = start - timedelta(days=start.weekday())
    return (day - monday).days // 7


def calls_on(plant: CostGrowth, start: date, day: date, calls_per_day: int) -> int:
    """The day's billed calls: `calls_per_day` grown by the users' rate for each week since week 0."""
    return max(1, round(calls_per_day * (1 + plant.users_weekly) ** week_of(start, day)))


def active_users(plant: CostGrowth, week: int) -> int:
    """The users of week `week`'s requests (all of them active that week)."""
    return max(1, round(plant.first_week_users * (1 + plant.users_weekly) ** week))


def keep(plant: CostGrowth, week: int) -> float:
    """The share of the planted job type's jobs kept in week `week`."""
    return ((1 + plant.users_weekly) / (1 + plant.job_weekly)) ** max(0, plant.weeks - 1 - week)


def _hash(ids: pl.Series, salt: np.uint64) -> np.ndarray:
    """uint64 hashes of `<prefix>_<16 hex>` ids (request and job ids; their first 60 bits), stable across versions."""
    digits = ids.str.split("_").list.last().str.slice(0, 15).str.to_integer(base=16, strict=True)
    with np.errstate(over="ignore"):
        return _mix64(digits.cast(pl.UInt64).to_numpy() + salt)


def apply(plant: CostGrowth, start: date, day_world: DayWorld) -> DayWorld:
    """The day's calls with the plant's users and the planted job type thinned to its week's share."""
    week = week_of(start, day_world.day)
    calls = day_world.calls
    app = (calls["origin"] == "app").to_numpy()
    users = calls["user_id"]
    if app.any():
        pool = np.uint64(active_users(plant, week))
        index = _hash(calls.filter(pl.Series(app))["request_id"], SALT_USER) % pool
        chosen = "u_" + pl.Series(index.astype(np.int64)).cast(pl.String).str.zfill(6)
        users = users.scatter(np.flatnonzero(app), chosen)
    calls = calls.with_columns(user_id=users)
    lifecycle = day_world.lifecycle
    if plant.job_type is not None and (share := keep(plant, week)) < 1:
        planted = calls.filter(pl.col("job_type") == plant.job_type)["job_id"].unique().sort()
        limit = np.uint64(int(share * 2**64))
        dropped = planted.filter(pl.Series(_hash(planted, SALT_JOB) >= limit)) if planted.len() else planted
        calls = calls.filter(~pl.col("job_id").is_in(dropped.implode()).fill_null(False))
        if lifecycle.height:
            lifecycle = lifecycle.filter(~pl.col("job_id").is_in(dropped.implode()))
    return DayWorld(day=day_world.day, calls=calls, lifecycle=lifecycle, non_token=day_world.non_token)
