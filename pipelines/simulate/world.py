"""The synthetic world of one day: every model call a provider billed, as columns.

One row of `DayWorld.calls` is one billed request (one attempt). Rows come from four origins:

- `app`: user traffic logged by the application (`feature`, `request_id`, `user_id`, `tenant_id`);
- `worker`: background jobs logged by queue workers (`job_id`, `job_type`, `queue`, `trigger`);
- `digest`: a nightly digest mailer on its own project that logs nothing;
- `sdk_retry`: hidden attempts the SDK retried internally (billed, absent from every log).

Flags on logged rows say how they reach the logs: `usage_logged` (False: the stream ended without a
usage chunk), `corrupt_cut` (the line is truncated to this fraction of its length), `late` (written
into the next day's folder), `log_response_model` (False: only the request alias is logged).

Traffic is generated in OpenAI's terms (model codes of `MODELS`, projects); `providers.py` then
decides which provider serves each request, job and unlogged call, with that provider's accounts,
models, cache writes and request metadata. Everything is generated with NumPy arrays from
`numpy.random.Generator`s; there is no Python loop per call (loops run over days, features and job
types only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import numpy as np
import polars as pl
import pyarrow as pa

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
LATE_WINDOW_MS = 10 * 60_000  # records of the last 10 minutes of a day may be written a day late
LATE_P = 0.35
CORRUPT_P = 1 / 5000
USAGE_UNKNOWN_P = 0.005
SDK_RETRY_P = 0.02
RESPONSE_MODEL_P = 0.9
DIGEST_SHARE = 0.04
APP_SHARE = 0.6  # of logged attempts; the rest are worker attempts
APP_RETRY = (0.03, 0.005)  # P(attempt 1 fails), P(attempt 2 fails as well)
WORKER_RETRY = (0.04, 0.008)
WEB_SEARCH_USD = Decimal("0.01")  # per web search tool call (non-token cost line)

PROJECT_APP, PROJECT_JOBS, PROJECT_DIGEST = "proj_app", "proj_jobs", "proj_digest"
PROJECTS = (PROJECT_APP, PROJECT_JOBS, PROJECT_DIGEST)


@dataclass(frozen=True)
class Model:
    dated: str  # what provider exports carry (and `gen_ai.response.model`)
    alias: str  # what the application asks for (`gen_ai.request.model`)
    operation: str  # `chat` or `embeddings`


MODELS = (
    Model("gpt-4o-mini-2024-07-18", "gpt-4o-mini", "chat"),
    Model("gpt-4o-2024-08-06", "gpt-4o", "chat"),
    Model("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini", "chat"),
    Model("text-embedding-3-small", "text-embedding-3-small", "embeddings"),
)
MINI, GPT4O, MINI41, EMBED = range(4)

# Hourly weights (UTC) of user traffic.
USER_HOURS = np.array(
    [3, 2.5, 2, 1.5, 1.5, 2, 3, 4.5, 6, 7, 8, 8.5, 9, 9, 9, 9, 8.5, 8, 7.5, 7, 6, 5, 4, 3.5]
)

# ---------------------------------------------------------------------------------- user traffic
FEATURES = ("chat", "search_answer", "autocomplete", "doc_qa")
FEATURE_P = np.array([0.42, 0.20, 0.23, 0.15])
# P(fan-out = 1, 2, 3, 4) per feature (search_answer always embeds the query first).
FANOUT_P = np.array(
    [
        [0.55, 0.30, 0.10, 0.05],
        [0.00, 0.50, 0.35, 0.15],
        [1.00, 0.00, 0.00, 0.00],
        [0.20, 0.30, 0.30, 0.20],
    ]
)
# Token profiles: chat, search_answer (generation), autocomplete, doc_qa, search_answer (query embedding).
#                 input median, sigma, output median, sigma, P(cache hit)
PROFILES = np.array(
    [
        [1400, 0.7, 280, 0.6, 0.40],
        [3000, 0.5, 220, 0.5, 0.10],
        [350, 0.5, 24, 0.5, 0.00],
        [6000, 0.6, 350, 0.5, 0.25],
        [24, 0.4, 0, 0.0, 0.00],
    ]
)
QUERY_EMBEDDING = 4


@dataclass(frozen=True)
class JobType:
    name: str
    queue: str
    model: int
    p_app_project: float  # share of jobs billed on proj_app (the rest on proj_jobs)
    triggers: tuple[float, float, float]  # P(schedule), P(event), P(user)
    calls: tuple[int, int]  # model calls per job, inclusive range
    input: tuple[float, float]  # median, sigma of the variable part of the prompt
    output: tuple[float, float]
    prefix: int  # tokens of a shared (cacheable) prompt prefix, 0 for none
    cache_hit: float  # P(the prefix is read from the cache)
    share: float  # share of worker model calls
    hours: tuple[float, ...] | None  # weights per UTC hour; None: follows user traffic
    call_ms: tuple[int, int]  # duration of one call
    start_window_ms: int = HOUR_MS  # jobs start this long after the top of their hour at most


JOB_TYPES = (
    JobType("ingest_summarization", "ingest", MINI, 0.15, (0.0, 0.75, 0.25), (1, 6),
            (2500, 0.6), (350, 0.4), 0, 0.0, 0.30, None, (1500, 6000)),
    JobType("session_summarization", "sessions", MINI, 0.60, (0.0, 0.90, 0.10), (1, 2),
            (1500, 0.6), (300, 0.4), 3072, 0.9, 0.22, None, (1500, 5000)),
    JobType("proactive_suggestions", "suggestions", MINI41, 0.0, (1.0, 0.0, 0.0), (1, 3),
            (1800, 0.5), (250, 0.4), 0, 0.0, 0.15,
            tuple(1.0 if h in (6, 12, 18) else 0.0 for h in range(24)), (1000, 4000), 20 * 60_000),
    JobType("embedding_regeneration", "embeddings", EMBED, 0.30, (0.85, 0.15, 0.0), (20, 60),
            (1500, 0.3), (0, 0.0), 0, 0.0, 0.18,
            tuple(1.0 if 1 <= h <= 4 else 0.0 for h in range(24)), (100, 800)),
    JobType("llm_judge_evaluation", "evals", GPT4O, 0.40, (0.5, 0.5, 0.0), (3, 10),
            (1200, 0.5), (150, 0.4), 4096, 0.95, 0.15, tuple([1.0] * 24), (1500, 6000)),
)
TRIGGERS = ("schedule", "event", "user")

# The nightly digest mailer (not logged): gpt-4o-mini on its own project, 05:00-05:45 UTC.
DIGEST = {"model": MINI, "input": (3500, 0.4), "output": (650, 0.3), "start_ms": 5 * HOUR_MS, "span_ms": 45 * 60_000}

ORIGINS = ("app", "worker", "digest", "sdk_retry")


@dataclass
class DayWorld:
    day: date
    calls: pl.DataFrame  # one row per billed request (see the module docstring)
    lifecycle: pl.DataFrame  # job lifecycle lines of the worker logs (ts_ms, event, job ids, ...)
    non_token: list[dict]  # non-token cost lines: provider, billing_account, line_item, amount


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


# ---------------------------------------------------------------------------------- helpers
def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijection on uint64, so distinct keys give distinct ids."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def hex_ids(prefix: str, day: date, kind: int, seed: int, n: int) -> pl.Series:
    """`n` ids `<prefix><16 hex>`, unique per (day, kind) and different for every seed."""
    with np.errstate(over="ignore"):
        salt = _mix64(np.array([seed * 1_000_003 + kind], dtype=np.uint64))[0]
        keys = (np.uint64(day.toordinal()) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
        x = _mix64(keys + salt)
    raw = pa.FixedSizeBinaryArray.from_buffers(pa.binary(8), n, [None, pa.py_buffer(x.astype(">u8").tobytes())])
    return (prefix + pl.from_arrow(raw.cast(pa.binary())).bin.encode("hex")).alias(prefix.rstrip("_-"))


def decode(vocab: tuple[str, ...], codes: np.ndarray) -> pl.Series:
    """Integer codes -> strings (`-1` -> null), without a Python loop."""
    table = pl.Series(list(vocab) + [None], dtype=pl.String)
    codes = np.asarray(codes, dtype=np.int64)
    return table.gather(np.where(codes < 0, len(vocab), codes))


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: np.ndarray | float, n: int) -> np.ndarray:
    return np.exp(np.log(np.maximum(median, 1e-9)) + sigma * rng.standard_normal(n))


def _tokens(rng, median, sigma, n, lo, hi) -> np.ndarray:
    return np.clip(np.rint(_lognormal(rng, median, sigma, n)), lo, hi).astype(np.int64)


def _cached_prefix(tokens: np.ndarray) -> np.ndarray:
    """OpenAI prompt caching: prefixes of 1024 tokens and more, in steps of 128."""
    tokens = np.asarray(tokens, dtype=np.int64)
    return np.where(tokens >= 1024, 1024 + 128 * ((tokens - 1024) // 128), 0)


def _hours(rng, weights: np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(24, size=n, p=p / p.sum())


def _group_starts(sizes: np.ndarray) -> np.ndarray:
    return np.cumsum(sizes) - sizes


def _expand(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of `sizes`: the group of every member and the member's 0-based index in it."""
    group = np.repeat(np.arange(sizes.size), sizes)
    return group, np.arange(group.size) - _group_starts(sizes)[group]


def _attempts(rng, n_calls: int, retry: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logical calls -> attempts: the call of each attempt, its 1-based number, the call's attempt count."""
    u = rng.random(n_calls)
    n_att = 1 + (u < retry[0]).astype(np.int64) + (u < retry[1]).astype(np.int64)
    call, index = _expand(n_att)
    return call, index + 1, n_att[call]


def _group_max(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.full(n_groups, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(out, group, values)
    return out


def _attempt_output(rng, full: np.ndarray, attempt: np.ndarray, n_att: np.ndarray) -> np.ndarray:
    """The last attempt gets the full output; a failed one was billed for a partial output."""
    partial = np.floor(full * rng.random(full.size)).astype(np.int64)
    return np.where(attempt == n_att, full, partial)


# ---------------------------------------------------------------------------------- the day
def generate_day(rng: np.random.Generator, day: date, calls_per_day: int, seed: int,
                 mix: np.random.Generator, providers: tuple[str, ...] = ("openai",), shard: int = 0) -> DayWorld:
    """All billed calls of one UTC day (every timestamp inside the day). `rng` draws the traffic,
    `mix` which of `providers` serves it (see providers.py). A large day is generated in shards
    (`shard` 0, 1, ...: each with its own `seed` for ids, see `shard_seed`); shard `s` logs into
    its own files (`app-{2s+1}`, `app-{2s+2}`, the same for workers), as more servers would."""
    from . import providers as serve  # providers.py builds on this module's vocabulary

    t0 = day_start_ms(day)
    n_digest = int(round(DIGEST_SHARE * calls_per_day))
    logged = max(0.0, (calls_per_day - n_digest) / (1 + SDK_RETRY_P))
    app_calls = APP_SHARE * logged / (1 + APP_RETRY[0] + APP_RETRY[1])
    worker_calls = (1 - APP_SHARE) * logged / (1 + WORKER_RETRY[0] + WORKER_RETRY[1])

    app, request_ids, n_search, n_tenants = _user_traffic(rng, day, t0, app_calls, seed, shard)
    worker, lifecycle = _worker_traffic(rng, day, t0, worker_calls, request_ids, n_tenants, seed, shard)
    digest = _digest(rng, t0, n_digest)

    logs = pl.concat([app, worker], how="diagonal_relaxed")
    logs = serve.assign(mix, _log_damage(rng, logs, t0, calls_per_day), providers, calls_per_day)
    hidden = _sdk_retries(rng, logs, t0)
    digest = serve.assign_unlogged(mix, digest, providers)
    calls = serve.names(pl.concat([logs, digest, hidden], how="diagonal_relaxed"), day, seed)
    calls = calls.filter(pl.col("provider").is_in(providers))  # embeddings exist only with OpenAI

    if lifecycle.height:
        late = (lifecycle["ts_ms"].to_numpy() >= t0 + DAY_MS - LATE_WINDOW_MS) & (rng.random(lifecycle.height) < LATE_P)
        lifecycle = lifecycle.with_columns(late=pl.Series(late))
    non_token = [
        {"provider": "openai", "billing_account": PROJECT_APP, "line_item": "web search tool calls",
         "amount": WEB_SEARCH_USD * max(1, n_search)}
    ]
    return DayWorld(day=day, calls=calls, lifecycle=lifecycle, non_token=non_token)


def _log_files(kind: str, shard: int) -> tuple[str, str]:
    """The two log files of a shard's servers: `app-01`, `app-02` for shard 0, then `app-03`, ..."""
    return f"{kind}-{2 * shard + 1:02d}", f"{kind}-{2 * shard + 2:02d}"


def shard_seed(seed: int, shard: int) -> int:
    """The id seed of a day's shard: `seed` itself for shard 0 (a day of one shard is unchanged)."""
    return seed if shard == 0 else int(np.random.SeedSequence([seed, shard]).generate_state(1)[0])


def _user_traffic(rng, day: date, t0: int, target_calls: float, seed: int, shard: int = 0):
    mean_fanout = float(FEATURE_P @ (FANOUT_P @ np.arange(1, 5)))
    n_req = max(1, int(round(target_calls / mean_fanout)))

    feature = rng.choice(len(FEATURES), size=n_req, p=FEATURE_P)
    cum = np.cumsum(FANOUT_P, axis=1)[feature]
    fanout = 1 + (rng.random(n_req)[:, None] >= cum[:, :3]).sum(axis=1)
    n_users = max(50, n_req // 6)
    n_tenants = max(5, n_users // 40)
    user = np.floor(n_users * rng.random(n_req) ** 2).astype(np.int64)
    tenant = user % n_tenants
    req_ts = t0 + _hours(rng, USER_HOURS, n_req) * HOUR_MS + rng.integers(0, HOUR_MS, n_req)
    step = rng.integers(400, 2500, n_req)
    n_search = int(rng.binomial(int((feature == 1).sum()), 0.15))  # answers that also searched the web

    # logical calls
    req, ix = _expand(fanout)
    f = feature[req]
    model = np.select(
        [f == 0, (f == 1) & (ix == 0), f == 1, f == 2],
        [np.where(tenant[req] % 5 == 0, GPT4O, MINI), EMBED, MINI41, MINI],
        default=GPT4O,
    )
    profile = np.where((f == 1) & (ix == 0), QUERY_EMBEDDING, f)
    p = PROFILES[profile]
    n = req.size
    inp = _tokens(rng, p[:, 0], p[:, 1], n, 1, 120_000)
    out = np.where(model == EMBED, 0, _tokens(rng, np.maximum(p[:, 2], 1), p[:, 3], n, 1, 8_000))
    cached = np.where(rng.random(n) < p[:, 4], _cached_prefix(np.floor(inp * rng.uniform(0.5, 0.95, n))), 0)
    call_ts = req_ts[req] + ix * step[req] + rng.integers(0, 400, n)
    gap = rng.integers(1500, 6000, n)

    # attempts
    call, attempt, n_att = _attempts(rng, n, APP_RETRY)
    r = req[call]
    ts = call_ts[call] + (attempt - 1) * gap[call]
    ts -= np.maximum(0, _group_max(ts, r, n_req) - (t0 + DAY_MS - 1))[r]  # keep the request inside the day

    request_ids = hex_ids("req_", day, 1, seed, n_req)
    users = "u_" + pl.Series(np.arange(n_users)).cast(pl.String).str.zfill(6)
    tenants = "t_" + pl.Series(np.arange(n_tenants)).cast(pl.String).str.zfill(4)
    frame = pl.DataFrame(
        {
            "origin": pl.repeat("app", call.size, eager=True),
            "ts_ms": ts,
            "billing_account": pl.repeat(PROJECT_APP, call.size, eager=True),
            "model_code": model[call],
            "input_tokens": inp[call],
            "cache_read_tokens": cached[call],
            "output_tokens": _attempt_output(rng, out[call], attempt, n_att),
            "attempt": attempt,
            "status": decode(("error", "ok"), (attempt == n_att).astype(np.int64)),
            "request_id": request_ids.gather(r),
            "user_id": users.gather(user[r]),
            "tenant_id": tenants.gather(tenant[r]),
            "feature": decode(FEATURES, f[call]),
            "log_kind": pl.repeat("app", call.size, eager=True),
            "log_file": decode(_log_files("app", shard), r % 2),
        }
    )
    return frame, request_ids, n_search, n_tenants


def _worker_traffic(rng, day: date, t0: int, target_calls: float, request_ids: pl.Series, n_tenants: int, seed: int,
                    shard: int = 0):
    frames, lifecycles = [], []
    job_offset = 0
    for jt in JOB_TYPES:
        mean_calls = (jt.calls[0] + jt.calls[1]) / 2
        n_jobs = max(1, int(round(target_calls * jt.share / mean_calls)))  # target: logical calls
        hours = USER_HOURS if jt.hours is None else np.array(jt.hours)
        start = t0 + _hours(rng, hours, n_jobs) * HOUR_MS + rng.integers(1000, jt.start_window_ms, n_jobs)
        project = np.where(rng.random(n_jobs) < jt.p_app_project, 0, 1)
        trigger = rng.choice(3, size=n_jobs, p=np.array(jt.triggers))
        has_parent = (trigger == 2) | ((trigger == 1) & (jt.name in ("ingest_summarization", "session_summarization"))
                                       & (rng.random(n_jobs) < 0.5))
        parent = np.where(has_parent & (request_ids.len() > 0), rng.integers(0, max(1, request_ids.len()), n_jobs), -1)
        tenant = rng.integers(0, n_tenants, n_jobs)
        n_calls = rng.integers(jt.calls[0], jt.calls[1] + 1, n_jobs)

        job, _ = _expand(n_calls)
        n = job.size
        variable = _tokens(rng, jt.input[0], jt.input[1], n, 1, 120_000)
        inp = variable + jt.prefix
        cached = np.where(rng.random(n) < jt.cache_hit, _cached_prefix(np.full(n, jt.prefix)), 0)
        out = (np.zeros(n, dtype=np.int64) if jt.model == EMBED
               else _tokens(rng, jt.output[0], jt.output[1], n, 1, 8_000))
        gap = rng.integers(1500, 6000, n)

        call, attempt, n_att = _attempts(rng, n, WORKER_RETRY)
        span = rng.integers(jt.call_ms[0], jt.call_ms[1], n) + (np.bincount(call, minlength=n) - 1) * gap
        offset = np.cumsum(span) - span
        offset -= offset[_group_starts(n_calls)][job]  # exclusive running sum inside the job
        j = job[call]
        ts = start[j] + 200 + offset[call] + (attempt - 1) * gap[call]
        finished = start + 200 + np.bincount(job, weights=span, minlength=n_jobs).astype(np.int64) + rng.integers(100, 1500, n_jobs)
        shift = np.maximum(0, finished - (t0 + DAY_MS - 1))  # keep the job inside the day
        ts -= shift[j]
        started, finished = start - shift - rng.integers(5, 200, n_jobs), finished - shift

        job_ids = hex_ids("job_", day, 2, seed, job_offset + n_jobs).slice(job_offset)
        files = decode(_log_files("worker", shard), (job_offset + np.arange(n_jobs)) % 2)
        job_offset += n_jobs
        parent_ids = pl.concat([request_ids, pl.Series([None], dtype=pl.String)]).gather(
            np.where(parent < 0, request_ids.len(), parent))
        rows = call.size
        frames.append(
            pl.DataFrame(
                {
                    "origin": pl.repeat("worker", rows, eager=True),
                    "ts_ms": ts,
                    "billing_account": decode(PROJECTS, project[j]),
                    "model_code": np.full(rows, jt.model),
                    "input_tokens": inp[call],
                    "cache_read_tokens": cached[call],
                    "output_tokens": _attempt_output(rng, out[call], attempt, n_att),
                    "attempt": attempt,
                    "status": decode(("error", "ok"), (attempt == n_att).astype(np.int64)),
                    "tenant_id": "t_" + pl.Series(tenant[j]).cast(pl.String).str.zfill(4),
                    "job_id": job_ids.gather(j),
                    "job_type": pl.repeat(jt.name, rows, eager=True),
                    "queue": pl.repeat(jt.queue, rows, eager=True),
                    "trigger": decode(TRIGGERS, trigger[j]),
                    "parent_request_id": parent_ids.gather(j),
                    "log_kind": pl.repeat("worker", rows, eager=True),
                    "log_file": files.gather(j),
                }
            )
        )
        both = np.concatenate([started, finished])
        lifecycles.append(
            pl.DataFrame(
                {
                    "ts_ms": both,
                    "event": decode(("job.started", "job.finished"), np.repeat([0, 1], n_jobs)),
                    "job_id": pl.concat([job_ids, job_ids]),
                    "job_type": pl.repeat(jt.name, 2 * n_jobs, eager=True),
                    "queue": pl.repeat(jt.queue, 2 * n_jobs, eager=True),
                    "trigger": decode(TRIGGERS, np.concatenate([trigger, trigger])),
                    "calls": np.concatenate([np.full(n_jobs, -1), n_calls]),
                    "duration_ms": np.concatenate([np.full(n_jobs, -1), finished - started]),
                    "log_file": pl.concat([files, files]),
                }
            ).with_columns(
                calls=pl.when(pl.col("calls") >= 0).then("calls"),
                duration_ms=pl.when(pl.col("duration_ms") >= 0).then("duration_ms"),
            )
        )
    return pl.concat(frames), pl.concat(lifecycles)


def _digest(rng, t0: int, n: int) -> pl.DataFrame:
    d = DIGEST
    return pl.DataFrame(
        {
            "origin": pl.repeat("digest", n, eager=True),
            "ts_ms": t0 + d["start_ms"] + rng.integers(0, d["span_ms"], n),
            "billing_account": pl.repeat(PROJECT_DIGEST, n, eager=True),
            "model_code": np.full(n, d["model"]),
            "input_tokens": _tokens(rng, d["input"][0], d["input"][1], n, 1, 120_000),
            "cache_read_tokens": np.zeros(n, dtype=np.int64),
            "output_tokens": _tokens(rng, d["output"][0], d["output"][1], n, 1, 8_000),
            "attempt": np.ones(n, dtype=np.int64),
            "status": pl.repeat("ok", n, eager=True),
        },
        schema_overrides={"origin": pl.String, "billing_account": pl.String, "status": pl.String},
    )


def _log_damage(rng, logs: pl.DataFrame, t0: int, calls_per_day: int) -> pl.DataFrame:
    """How each logged call reaches the logs: usage unknown, corrupted, late, response model."""
    n = logs.height
    kind = logs["log_kind"].to_numpy()
    unknown = (kind == "app") & (rng.random(n) < USAGE_UNKNOWN_P)
    cut = np.full(n, np.nan)
    for k in ("app", "worker"):  # a few truncated lines per log kind and day
        eligible = np.flatnonzero((kind == k) & ~unknown)
        m = int(rng.binomial(eligible.size, CORRUPT_P)) if eligible.size else 0
        if calls_per_day >= 1000 and eligible.size:
            m = max(m, 1)
        if m:
            chosen = rng.choice(eligible, size=m, replace=False)
            cut[chosen] = rng.uniform(0.2, 0.85, m)
    ts = logs["ts_ms"].to_numpy()
    in_window = ts >= t0 + DAY_MS - LATE_WINDOW_MS
    late = in_window & (rng.random(n) < LATE_P)
    if calls_per_day >= 1000 and in_window.any() and not late.any():  # at least one late line a day
        late[np.flatnonzero(in_window)[-1]] = True
    return logs.with_columns(
        usage_logged=pl.Series(~unknown),
        corrupt_cut=pl.Series(cut).fill_nan(None),
        late=pl.Series(late),
        log_response_model=pl.Series(rng.random(n) < RESPONSE_MODEL_P),
    )


# What a hidden attempt shares with the logged call it preceded (the same request, resent).
RESENT = ("provider", "billing_account", "model_code", "input_tokens", "cache_read_tokens", "cache_write_tokens",
          "cache_ttl", "service_tier", "meta_job_type", "meta_attempt", "meta_feature")


def _sdk_retries(rng, logs: pl.DataFrame, t0: int) -> pl.DataFrame:
    """Hidden attempts the SDK retried before a logged call: billed in the same cell, never logged."""
    picked = logs.filter(pl.Series(rng.random(logs.height) < SDK_RETRY_P))
    n = picked.height
    out = picked["output_tokens"].to_numpy()
    return pl.DataFrame(
        {
            "origin": pl.repeat("sdk_retry", n, eager=True),
            "ts_ms": np.maximum(t0, picked["ts_ms"].to_numpy() - rng.integers(300, 4000, n)),
            **{name: picked[name] for name in RESENT},
            "output_tokens": np.floor(out * rng.random(n)).astype(np.int64),
            "attempt": np.ones(n, dtype=np.int64),
            "status": pl.repeat("error", n, eager=True),
            "web_search_requests": np.zeros(n, dtype=np.int64),
        },
        schema_overrides={"origin": pl.String, "status": pl.String},
    )


# What the provider exports and the truth need of a billed call: calls that agree on all of these
# are interchangeable for them, so a day is summarized shard by shard and the summaries added up.
SUMMARY_KEYS = ("provider", "operation", "ts_ms", "billing_account", "model", "batch", "service_tier", "cache_ttl",
                "origin", "attempt", "usage_logged", "corrupt_cut", "job_type", "feature", "meta_job_type",
                "meta_attempt")
SUMMARY_SUMS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "web_search_requests")
PLANT_KEYS = ("long_context",)  # kept apart where a planted world has them (plants_pricing)
AUDIO_SUMS = ("input_audio_tokens", "cached_audio_tokens", "output_audio_tokens")  # where the world has audio


def summarize(calls: pl.DataFrame) -> pl.DataFrame:
    """Billed calls (or summaries of them) -> one row per distinct `SUMMARY_KEYS` with summed
    tokens and `n`, the calls it stands for; `ts_ms` is truncated to its hour (exports are hourly)."""
    n = pl.col("n").sum() if "n" in calls.columns else pl.len()
    keys = SUMMARY_KEYS + tuple(k for k in PLANT_KEYS if k in calls.columns)
    return (
        calls.with_columns(ts_ms=pl.col("ts_ms") - pl.col("ts_ms") % HOUR_MS)
        .group_by(keys)
        .agg(*(pl.col(c).sum() for c in SUMMARY_SUMS + AUDIO_SUMS if c in calls.columns), n=n.cast(pl.Int64))
    )


def count(calls: pl.DataFrame) -> int:
    """How many billed calls a frame of calls or of summaries stands for."""
    return int(calls["n"].sum()) if "n" in calls.columns else calls.height
