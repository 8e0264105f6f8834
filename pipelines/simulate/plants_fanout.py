"""Plant: heavy fan-out on one feature (issue 14: "15 to 40 model calls behind one visible user
action"). Every user action (request) of the feature makes between FAN_OUT_LOW and FAN_OUT_HIGH
first-attempt model calls: its first call is repeated, a millisecond apart, each copy with its
own response id, logged whole. The copies are billed like any call (the exports are made from
the calls). Off by default: a world without the plant keeps its bytes.

`fan_out_truth` is what the logs then show of the feature's actions, the way
fct_user_action_cost counts them: per action, its logged records (user calls, retries, and the
background calls whose `parent_request_id` is the action), as a histogram {calls: actions}.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from .world import DAY_MS, day_start_ms

FAN_OUT_LOW, FAN_OUT_HIGH = 15, 40
FAN_OUT_STREAM = 14  # the seed stream of the plant's draws (the world's own draws are untouched)


def with_fan_out(calls: pl.DataFrame, feature: str, day: date, seed: int) -> pl.DataFrame:
    """`calls` with every action of `feature` making FAN_OUT_LOW..FAN_OUT_HIGH first-attempt calls
    (drawn per action; an action that already makes as many keeps its calls)."""
    first = calls.filter((pl.col("origin") == "app") & (pl.col("feature") == feature) & (pl.col("attempt") == 1))
    if first.height == 0:
        return calls
    per_action = first.group_by("request_id").agg(made=pl.len(), ts_ms=pl.col("ts_ms").min()).sort("request_id")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, day.toordinal(), FAN_OUT_STREAM])))
    target = rng.integers(FAN_OUT_LOW, FAN_OUT_HIGH + 1, per_action.height)
    per_action = per_action.with_columns(copies=pl.Series(np.maximum(target - per_action["made"].to_numpy(), 0)))
    # the action's first call (the earliest; ties by response id) is the one repeated
    template = (first.sort(["ts_ms", "response_id"], nulls_last=True).unique("request_id", keep="first")
                .join(per_action.select("request_id", "copies"), on="request_id").filter(pl.col("copies") > 0))
    copies = template.with_columns(k=pl.int_ranges(1, pl.col("copies") + 1)).explode("k")
    last_ms = day_start_ms(day) + DAY_MS - 1
    copies = copies.with_columns(
        ts_ms=pl.when(pl.col("ts_ms") + FAN_OUT_HIGH < last_ms).then(pl.col("ts_ms") + pl.col("k"))
        .otherwise(pl.col("ts_ms") - pl.col("k")),
        response_id=pl.when(pl.col("response_id").is_not_null())
        .then(pl.col("response_id") + "-f" + pl.col("k").cast(pl.String).str.zfill(2)),
        status=pl.lit("ok"),
        usage_logged=pl.lit(True),
        corrupt_cut=pl.lit(None, dtype=calls.schema["corrupt_cut"]),
        late=pl.lit(False),
    ).drop("k", "copies")
    return pl.concat([calls, copies.select(calls.columns)], how="vertical_relaxed").sort("ts_ms", maintain_order=True)


def fan_out_truth(calls: pl.DataFrame, feature: str) -> dict:
    """The feature's actions as the logs show them: {"actions": n, "calls_per_action": {calls: actions}}.
    Logged records only (app and worker lines that are not cut short); spend classes as
    stg_model_calls sets them; an action is the request of a user call of the feature, and its
    calls are the records with its request id and the background records whose parent it is."""
    logged = calls.filter(pl.col("origin").is_in(["app", "worker"]) & pl.col("corrupt_cut").is_null())
    spend = (pl.when(pl.col("attempt") >= 2).then(pl.lit("retry"))
             .when(pl.col("job_type").is_not_null() | (pl.col("origin") == "worker")).then(pl.lit("background"))
             .otherwise(pl.lit("user")))
    logged = logged.with_columns(spend=spend).with_columns(
        action=pl.when(pl.col("spend") == "background").then(pl.col("parent_request_id"))
        .otherwise(pl.coalesce("request_id", "parent_request_id")))
    actions = logged.filter((pl.col("spend") == "user") & (pl.col("feature") == feature)).select("action").unique()
    per_action = logged.join(actions, on="action").group_by("action").agg(calls=pl.len())
    histogram = per_action.group_by("calls").agg(actions=pl.len()).sort("calls")
    return {"actions": actions.height,
            "calls_per_action": {str(c): a for c, a in histogram.iter_rows()}}


def merge_truth(parts: list[dict]) -> dict:
    """The day's truth from its shards' (their request ids are distinct)."""
    histogram: dict[str, int] = {}
    for part in parts:
        for calls, actions in part["calls_per_action"].items():
            histogram[calls] = histogram.get(calls, 0) + actions
    return {"actions": sum(p["actions"] for p in parts),
            "calls_per_action": dict(sorted(histogram.items(), key=lambda kv: int(kv[0])))}
