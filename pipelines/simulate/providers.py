"""Which provider serves each billed call, and what that provider makes of it.

The day's traffic (world.py) is generated once; each user request, each background job and each
call of the non-logging service is then served by one provider (a request's query embedding stays
on OpenAI, which alone serves embeddings). Per provider this module sets:

- the billing account: OpenAI project; Anthropic workspace (`default` for the default workspace;
  `wrkspc_rt` runs on Priority Tier); AWS IAM principal;
- prompt-cache writes for Anthropic and Bedrock (OpenAI writes none) and their TTL (`5m` or `1h`,
  one TTL per billing account, so a reconciliation can split the log's single write count);
- Anthropic web searches, Bedrock `requestMetadata` (job type, attempt, feature);
- the model names: export model, request model (alias), and the response id.

All draws come from the generator `mix`, separate from the world's own, so an OpenAI-only world
(`providers=("openai",)`, no OTLP or deprecated lines) writes byte for byte the sources the
simulator wrote before other providers existed.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from .world import EMBED, GPT4O, MINI, MINI41, MODELS, PROJECT_APP, decode, hex_ids

OPENAI, ANTHROPIC, BEDROCK = "openai", "anthropic", "aws.bedrock"
PROVIDERS = (OPENAI, ANTHROPIC, BEDROCK)
SHARES = {OPENAI: 0.5, ANTHROPIC: 0.3, BEDROCK: 0.2}  # of requests, jobs and unlogged calls

# Anthropic workspaces ("default" is the default workspace: workspace_id null in the reports).
WORKSPACE_APP, WORKSPACE_JOBS, WORKSPACE_RT, WORKSPACE_DEFAULT = "wrkspc_app", "wrkspc_jobs", "wrkspc_rt", "default"
PRIORITY_FEATURE = "autocomplete"  # latency-critical: served on the Priority Tier workspace
DEFAULT_WORKSPACE_JOB = "proactive_suggestions"  # its key was created in the default workspace
CACHE_1H_ACCOUNTS = (WORKSPACE_JOBS,)  # background work keeps its prompt cache for an hour

# AWS: one account, one region; billing accounts are IAM principals.
AWS_ACCOUNT, AWS_REGION = "123456789012", "us-east-1"
APP_ROLE = f"arn:aws:sts::{AWS_ACCOUNT}:assumed-role/app-role/app"
WORKER_ROLE = f"arn:aws:sts::{AWS_ACCOUNT}:assumed-role/worker-role/jobs"
BATCH_ROLE = f"arn:aws:sts::{AWS_ACCOUNT}:assumed-role/batch-role/nightly"  # never logs
METADATA_JOB_TYPES = ("ingest_summarization", "session_summarization", "llm_judge_evaluation")
BATCH_JOB_TYPE = "nightly_digest"  # requestMetadata job type of part of the batch principal's calls
BATCH_METADATA_P = 0.6

# Model names per provider and world model code: (export model, request model).
HAIKU = ("claude-haiku-4-5-20251001", "claude-haiku-4-5")
SONNET = ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5")
BEDROCK_HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
BEDROCK_SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
# The global cross-region profile of the same model: routed to any commercial region, billed in
# the caller's region at its own (lower) list price, so its calls form cells of their own.
BEDROCK_SONNET_GLOBAL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
GLOBAL_PROFILE_HEX = tuple("01234567")  # cross-region worlds: Sonnet requests whose id ends so go global
MODEL_NAMES = {
    OPENAI: {i: (m.dated, m.alias) for i, m in enumerate(MODELS)},
    ANTHROPIC: {MINI: HAIKU, GPT4O: SONNET, MINI41: SONNET},
    BEDROCK: {MINI: (BEDROCK_HAIKU,) * 2, GPT4O: (BEDROCK_SONNET,) * 2, MINI41: (BEDROCK_SONNET,) * 2},
}

CACHE_PREFIX = {"session_summarization": 3072, "llm_judge_evaluation": 4096}  # tokens, as in world.JOB_TYPES
CACHE_WRITE_P = 0.35  # P(an uncached long prompt is written to the cache)
CACHE_WRITE_MIN = 2048
WEB_SEARCH_P = 0.3  # of Anthropic search answers


def provider_codes(providers: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The chosen providers' indexes in PROVIDERS and their normalized shares."""
    unknown = set(providers) - set(PROVIDERS)
    if unknown or not providers:
        raise ValueError(f"providers must be a non-empty subset of {PROVIDERS}, got {providers}")
    codes = np.array(sorted(PROVIDERS.index(p) for p in set(providers)))
    shares = np.array([SHARES[PROVIDERS[c]] for c in codes])
    return codes, shares / shares.sum()


def _draw(mix: np.random.Generator, groups: pl.Series, providers: tuple[str, ...]) -> np.ndarray:
    """One provider code per distinct group value (same value, same provider)."""
    codes, shares = provider_codes(providers)
    index = groups.rank("dense").cast(pl.Int64).to_numpy() - 1
    n_groups = int(index.max()) + 1 if index.size else 0
    return codes[mix.choice(codes.size, size=n_groups, p=shares)][index] if n_groups else index


def assign(mix: np.random.Generator, logged: pl.DataFrame, providers: tuple[str, ...],
           calls_per_day: int) -> pl.DataFrame:
    """Provider and provider-side attributes of the logged calls (app requests and worker jobs)."""
    n = logged.height
    code = _draw(mix, logged["request_id"].fill_null(logged["job_id"]), providers)
    code = np.where(logged["model_code"].to_numpy() == EMBED, PROVIDERS.index(OPENAI), code)
    frame = logged.with_columns(provider=decode(PROVIDERS, code))
    app = pl.col("origin") == "app"
    anthropic = (
        pl.when(app & (pl.col("feature") == PRIORITY_FEATURE)).then(pl.lit(WORKSPACE_RT))
        .when(app).then(pl.lit(WORKSPACE_APP))
        .when(pl.col("job_type") == DEFAULT_WORKSPACE_JOB).then(pl.lit(WORKSPACE_DEFAULT))
        .when(pl.col("billing_account") == PROJECT_APP).then(pl.lit(WORKSPACE_APP))  # jobs billed like the app
        .otherwise(pl.lit(WORKSPACE_JOBS))
    )
    metadata_job = pl.col("job_type").is_in(METADATA_JOB_TYPES) & (pl.col("provider") == BEDROCK)
    frame = frame.with_columns(
        billing_account=_by_provider(pl.col("billing_account"), anthropic,
                                     pl.when(app).then(pl.lit(APP_ROLE)).otherwise(pl.lit(WORKER_ROLE))),
        meta_job_type=pl.when(metadata_job).then(pl.col("job_type")),
        meta_attempt=pl.when(metadata_job & (pl.col("attempt") >= 2)).then(pl.col("attempt")),
        meta_feature=pl.when(app & (pl.col("provider") == BEDROCK)).then(pl.col("feature")),
    )
    frame = _cache_writes(mix, frame)
    search = ((frame["provider"] == ANTHROPIC) & (frame["billing_account"] == WORKSPACE_APP) & (
        frame["feature"] == "search_answer") & (frame["model_code"] != EMBED)).fill_null(False)
    searches = np.where(search.to_numpy() & (mix.random(n) < WEB_SEARCH_P), mix.integers(1, 4, n), 0)
    eligible = np.flatnonzero(search.to_numpy())
    if eligible.size and not searches.any():  # a day with Anthropic searches has at least one
        searches[eligible[0]] = 1
    frame = frame.with_columns(web_search_requests=pl.Series(searches, dtype=pl.Int64))
    return _every_damage(mix, frame) if calls_per_day >= 1000 else frame


def _every_damage(mix: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
    """Each provider of a full-size day gets a corrupted line and an app call logged without usage
    (world.py guarantees them per log, not per provider). On Bedrock the corrupted lines are an
    app call's and a worker call's whose request metadata still names its job type."""
    cut = frame["corrupt_cut"].to_numpy().copy()
    known = frame["usage_logged"].to_numpy().copy()
    provider = frame["provider"].to_numpy()
    app = (frame["origin"] == "app").to_numpy()
    tagged = frame["meta_job_type"].is_not_null().to_numpy()
    for name in PROVIDERS:
        clean = (provider == name) & np.isnan(cut) & known
        wanted = [app, ~app & tagged] if name == BEDROCK else [np.ones_like(app)]
        for pool in wanted:
            if clean.any() and not (~np.isnan(cut) & (provider == name) & pool).any() and (clean & pool).any():
                cut[mix.choice(np.flatnonzero(clean & pool))] = mix.uniform(0.2, 0.85)
        clean = (provider == name) & np.isnan(cut) & known & app
        if clean.any() and known[(provider == name) & app].all():
            known[mix.choice(np.flatnonzero(clean))] = False
    return frame.with_columns(corrupt_cut=pl.Series(cut).fill_nan(None), usage_logged=pl.Series(known))


def assign_unlogged(mix: np.random.Generator, digest: pl.DataFrame, providers: tuple[str, ...]) -> pl.DataFrame:
    """Provider of each call of the non-logging service: its own project, the default workspace, or
    the batch principal (part of whose calls carry a `requestMetadata` job type)."""
    n = digest.height
    code = _draw(mix, pl.Series(np.arange(n)), providers)
    frame = digest.with_columns(provider=decode(PROVIDERS, code))
    tagged = (frame["provider"] == BEDROCK).to_numpy() & (mix.random(n) < BATCH_METADATA_P)
    frame = frame.with_columns(
        billing_account=_by_provider(pl.col("billing_account"), pl.lit(WORKSPACE_DEFAULT), pl.lit(BATCH_ROLE)),
        meta_job_type=pl.when(pl.Series(tagged)).then(pl.lit(BATCH_JOB_TYPE)),
        meta_attempt=pl.lit(None, dtype=pl.Int64),
        meta_feature=pl.lit(None, dtype=pl.String),
        web_search_requests=pl.lit(0, dtype=pl.Int64),
    )
    return _cache_writes(mix, frame)


def _by_provider(openai: pl.Expr, anthropic: pl.Expr, bedrock: pl.Expr) -> pl.Expr:
    provider = pl.col("provider")
    return pl.when(provider == ANTHROPIC).then(anthropic).when(provider == BEDROCK).then(bedrock).otherwise(openai)


def _cache_writes(mix: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
    """Anthropic and Bedrock cache writes: a job's shared prefix when it missed the cache, part of
    some long uncached prompts; the TTL follows the billing account. OpenAI rows write nothing."""
    n = frame.height
    inp = frame["input_tokens"].to_numpy()
    read = frame["cache_read_tokens"].to_numpy()
    prefix = frame["job_type"].replace_strict(CACHE_PREFIX, default=0, return_dtype=pl.Int64).to_numpy() if (
        "job_type" in frame.columns) else np.zeros(n, dtype=np.int64)
    long_prompt = (read == 0) & (inp >= CACHE_WRITE_MIN) & (frame["model_code"].to_numpy() != EMBED)
    part = np.floor(inp * mix.uniform(0.3, 0.7, n)).astype(np.int64)
    written = long_prompt & (mix.random(n) < CACHE_WRITE_P)
    write = np.where((prefix > 0) & (read == 0), prefix, np.where(written, part, 0))
    write = np.where((frame["provider"] == OPENAI).to_numpy(), 0, write)
    one_hour = pl.col("billing_account").is_in(CACHE_1H_ACCOUNTS)
    return frame.with_columns(cache_write_tokens=pl.Series(write, dtype=pl.Int64)).with_columns(
        service_tier=_by_provider(pl.lit("default"), pl.when(pl.col("billing_account") == WORKSPACE_RT).then(
            pl.lit("priority")).otherwise(pl.lit("standard")), pl.lit(None, dtype=pl.String)),
        cache_ttl=pl.when(pl.col("cache_write_tokens") > 0).then(
            pl.when(one_hour).then(pl.lit("1h")).otherwise(pl.lit("5m"))),
    )


def route_global(calls: pl.DataFrame) -> pl.DataFrame:
    """A cross-region world: half the Bedrock Sonnet calls (by the last hex digit of their
    request id) go through the global profile instead of the US one, in the same accounts; the
    logs name the profile they called, as the invocation logs do."""
    to_global = ((pl.col("provider") == BEDROCK) & (pl.col("model") == BEDROCK_SONNET)
                 & pl.col("response_id").str.slice(-1).is_in(GLOBAL_PROFILE_HEX))
    return calls.with_columns(
        model=pl.when(to_global).then(pl.lit(BEDROCK_SONNET_GLOBAL)).otherwise(pl.col("model")),
        request_model=pl.when(to_global).then(pl.lit(BEDROCK_SONNET_GLOBAL)).otherwise(pl.col("request_model")),
    )


BATCH_JOB_TYPE_OPENAI = "llm_judge_evaluation"  # with tiers on: sent through OpenAI's Batch API
FLEX_JOB_TYPE = "proactive_suggestions"  # with tiers on: OpenAI flex processing


def with_tiers(calls: pl.DataFrame) -> pl.DataFrame:
    """OpenAI calls of two job types on the cheaper tiers: the Batch API and flex processing
    (every attempt of those jobs, logged or not). No random draw: the rest of the world keeps
    its bytes."""
    openai = pl.col("provider") == OPENAI
    return calls.with_columns(
        batch=pl.when(openai & (pl.col("job_type") == BATCH_JOB_TYPE_OPENAI)).then(True).otherwise(pl.col("batch")),
        service_tier=pl.when(openai & (pl.col("job_type") == FLEX_JOB_TYPE)).then(pl.lit("flex"))
        .otherwise(pl.col("service_tier")),
    )


# with audio on: OpenAI's gpt-4o `chat` calls are voice calls on gpt-realtime (dated id, alias), and
# this part of each of their token classes is audio (numerator, denominator: a voice call's class
# is cut to a multiple of the denominator, so that every call's part is exact)
AUDIO_MODEL = ("gpt-realtime-2025-08-28", "gpt-realtime")
AUDIO_FEATURE = "chat"
AUDIO_PARTS = {"input_audio_tokens": (3, 5), "cached_audio_tokens": (1, 2), "output_audio_tokens": (3, 4)}
AUDIO_COLUMNS = tuple(AUDIO_PARTS)


def with_audio(calls: pl.DataFrame) -> pl.DataFrame:
    """OpenAI's gpt-4o `chat` calls become voice calls on gpt-realtime, the same part of every
    voice call's uncached input, cached input and output in audio tokens (`AUDIO_PARTS`, exact:
    the call's class is first cut to a multiple of the part's denominator). The logs do not say
    it, as OpenTelemetry's usage attributes do not. Every call gains the audio columns (0 on the
    others). No random draw: the rest of the world keeps its bytes."""
    voice = ((pl.col("provider") == OPENAI) & (pl.col("feature") == AUDIO_FEATURE)
             & (pl.col("model") == MODELS[GPT4O].dated))
    uncached = pl.col("input_tokens") - pl.col("cache_read_tokens") - pl.col("cache_write_tokens")
    whole = {"input_audio_tokens": uncached, "cached_audio_tokens": pl.col("cache_read_tokens"),
             "output_audio_tokens": pl.col("output_tokens")}
    cut = {name: whole[name] - whole[name] % den for name, (_, den) in AUDIO_PARTS.items()}
    return calls.with_columns(
        model=pl.when(voice).then(pl.lit(AUDIO_MODEL[0])).otherwise(pl.col("model")),
        request_model=pl.when(voice).then(pl.lit(AUDIO_MODEL[1])).otherwise(pl.col("request_model")),
        input_tokens=pl.when(voice).then(cut["input_audio_tokens"] + cut["cached_audio_tokens"]
                                         + pl.col("cache_write_tokens")).otherwise(pl.col("input_tokens")),
        cache_read_tokens=pl.when(voice).then(cut["cached_audio_tokens"]).otherwise(pl.col("cache_read_tokens")),
        output_tokens=pl.when(voice).then(cut["output_audio_tokens"]).otherwise(pl.col("output_tokens")),
        **{name: pl.when(voice).then(cut[name] * num // den).otherwise(0).cast(pl.Int64)
           for name, (num, den) in AUDIO_PARTS.items()},
    )


def names(calls: pl.DataFrame, day: date, seed: int) -> pl.DataFrame:
    """Model names and response ids per provider; drops the world's `model_code`."""
    code = calls["model_code"].to_numpy()
    provider = calls["provider"].replace_strict({p: i for i, p in enumerate(PROVIDERS)}, return_dtype=pl.Int64)
    index = provider.to_numpy() * len(MODELS) + code
    table = [MODEL_NAMES[p].get(c, (None, None)) for p in PROVIDERS for c in range(len(MODELS))]
    n = calls.height
    uuid = hex_ids("", day, 5, seed, n) + hex_ids("", day, 6, seed, n)
    request_id = pl.concat_str([uuid.str.slice(0, 8), uuid.str.slice(8, 4), uuid.str.slice(12, 4),
                                uuid.str.slice(16, 4), uuid.str.slice(20, 12)], separator="-")
    return calls.with_columns(
        model=decode(tuple(t[0] for t in table), index),
        request_model=decode(tuple(t[1] for t in table), index),
        operation=decode(tuple(m.operation for m in MODELS), code),
        response_id=_by_provider(
            pl.when(pl.col("model_code") != EMBED).then(hex_ids("chatcmpl-", day, 3, seed, n)),
            "msg_" + hex_ids("", day, 4, seed, n), request_id),
        batch=_by_provider(pl.lit(False), pl.lit(False), pl.lit(None, dtype=pl.Boolean)),
    ).drop("model_code")
