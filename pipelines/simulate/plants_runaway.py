"""A runaway job type: on one day, one job type's jobs run `factor` times over.

`simulate(..., runaway=Runaway("ingest_summarization", date(2026, 10, 8), 8))` makes every job of
that type on that day run `factor` times: each job is re-enqueued `factor - 1` times with the same
prompts, under new job ids, each call with its own response id (so no log de-duplication folds
the copies into the original). Every attempt of the job is copied (its logged retries too), and
each copy is billed and logged like the original (same provider, account, model, tokens,
timestamps and log format), so the job type's cost on that day is about `factor` times its usual
cost and the ground truth counts every copy. The copies write no job lifecycle lines. SDK-internal
hidden retries are drawn before the plant and are not copied.

No random draw: the other days, and the other calls of the day, keep their bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from .world import JOB_TYPES, hex_ids

KIND = 100  # hex_ids kinds of the copies' ids: KIND + 3 * copy + (0: response id, 1: uuid tail, 2: job id)


@dataclass(frozen=True)
class Runaway:
    """`job_type` runs `factor` times over on `day` (factor >= 2)."""

    job_type: str
    day: date
    factor: int = 8

    def __post_init__(self):
        names = [jt.name for jt in JOB_TYPES]
        if self.job_type not in names:
            raise ValueError(f"runaway job type must be one of {', '.join(names)}, got {self.job_type!r}")
        if not isinstance(self.factor, int) or self.factor < 2:
            raise ValueError(f"runaway factor must be a whole number of at least 2, got {self.factor!r}")


def with_runaway(calls: pl.DataFrame, day: date, runaway: Runaway | None, seed: int, shard: int = 0) -> pl.DataFrame:
    """The day's calls with the runaway's copies appended (unchanged on any other day)."""
    if runaway is None or day != runaway.day:
        return calls
    jobs = calls.filter((pl.col("origin") == "worker") & (pl.col("job_type") == runaway.job_type))
    if not jobs.height:
        return calls
    jobs = jobs.with_columns(_job=pl.col("job_id").rank("dense").cast(pl.Int64) - 1)
    n, n_jobs = jobs.height, int(jobs["_job"].max()) + 1
    copies = []
    for c in range(1, runaway.factor):  # loops over copies, not calls
        kind = KIND + 3 * (c + 1000 * shard)
        head, tail = hex_ids("", day, kind, seed, n), hex_ids("", day, kind + 1, seed, n)
        uuid = pl.concat_str([head.str.slice(0, 8), head.str.slice(8, 4), head.str.slice(12, 4),
                              tail.str.slice(0, 4), tail.str.slice(4, 12)], separator="-")
        copies.append(jobs.with_columns(
            response_id=pl.when(pl.col("response_id").is_null()).then(None)
            .when(pl.col("response_id").str.starts_with("chatcmpl-")).then("chatcmpl-" + head)
            .when(pl.col("response_id").str.starts_with("msg_")).then("msg_" + head)
            .otherwise(uuid),
            job_id=hex_ids("job_", day, kind + 2, seed, n_jobs).gather(jobs["_job"]),
        ).drop("_job"))
    return pl.concat([calls, *copies], how="vertical_relaxed")
