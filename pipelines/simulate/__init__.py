"""The synthetic world and its writers: `simulate(out, start, days, ...)`.

    world.py      billed model calls of a day, as columns (user traffic, background jobs, a service
                  that does not log, SDK-internal retries) plus how each call reaches the logs
    providers.py  which provider serves each call: accounts, models, cache writes, request metadata
    logs.py       app_logs/<day>/app-NN.jsonl and worker_logs/<day>/worker-NN.jsonl.gz (flat lines,
                  deprecated names, OTLP/JSON lines from otlp.py, LiteLLM payloads and job
                  aggregate records from litellm.py)
    openai.py     OpenAI Usage API (completions, embeddings) and Costs API pages
    anthropic.py  Anthropic usage_report and cost_report pages
    bedrock.py    Bedrock model invocation logs (every Bedrock call) in their S3 layout
    cur.py        AWS CUR 2.0 Parquet and manifest per billing period (the Bedrock invoice)
    truth.py      ground_truth.json: the split a perfect reconciliation of the files must report
    pricing.py    exact Decimal costs and JSON with exact decimal literals
    files.py      many files from one column of lines; s3.py uploads a tree to S3
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from . import (
    litellm,
    logs,
    plants_cache_thrash,
    plants_cost_growth,
    plants_sdk_retries,
    plants_tail,
    pricing,
    truth,
    world,
)
from .anthropic import write_anthropic_day
from .bedrock import write_bedrock_day
from .cur import FORMATS as CUR_FORMATS
from .cur import cur_day, period, write_cur
from .openai import COST_GROUP_BY, USAGE_GROUP_BY, write_openai_day
from .plants_fanout import fan_out_truth, merge_truth, with_fan_out
from .plants_pricing import Plants
from .plants_runaway import Runaway, with_runaway
from .providers import (
    ANTHROPIC,
    BEDROCK,
    OPENAI,
    PROVIDERS,
    provider_codes,
    route_global,
    with_audio,
    with_tiers,
)

__all__ = ["simulate", "PROVIDERS", "Runaway"]
MIX_STREAM = 0x5EED  # the provider mix draws from its own stream (an OpenAI-only world keeps its bytes)
SHARD_CALLS = 2_500_000  # a bounded day is generated and written this many calls at a time


def _shard_sizes(calls_per_day: int) -> list[int]:
    """A bounded day's calls per shard: at most `SHARD_CALLS` each, as even as can be."""
    k = -(-calls_per_day // SHARD_CALLS)
    return [calls_per_day // k + (1 if s < calls_per_day % k else 0) for s in range(k)]


def _without_costs(written: list[Path], costs: Path, invoiced: bool) -> list[Path]:
    """The day's files; on a day whose invoice has not arrived, without the cost pages under
    `costs` (deleted: the usage export came, the cost export did not)."""
    if invoiced:
        return written
    gone = [f for f in written if f.is_relative_to(costs)]
    for f in gone:
        f.unlink()
    for folder in {f.parent for f in gone}:
        folder.rmdir()
    return [f for f in written if f not in gone]


def _added_up(non_token: list[dict]) -> list[dict]:
    """Non-token cost lines of a day's shards, one per provider, account and line item."""
    total: dict[tuple, Decimal] = {}
    for line in non_token:
        key = (line["provider"], line["billing_account"], line["line_item"])
        total[key] = total.get(key, Decimal(0)) + line["amount"]
    return [{"provider": p, "billing_account": a, "line_item": i, "amount": v} for (p, a, i), v in total.items()]


def simulate(out: Path, start: date, days: int, calls_per_day: int = 2000, seed: int = 7, *,
             providers: tuple[str, ...] = PROVIDERS, otlp_share: float = 0.1, deprecated_share: float = 0.02,
             gzip_app_logs: bool = False, max_log_file_bytes: int | None = None, cur_format: str = "parquet",
             cross_region: bool = False, openai_usage_group_by: tuple[str, ...] = USAGE_GROUP_BY,
             openai_cost_group_by: tuple[str, ...] = COST_GROUP_BY, tiers: bool = False, litellm_share: float = 0.0,
             aggregate_jobs: bool = False, provisional_days: int = 0, litellm_cost_factor: Decimal | None = None,
             on_day: Callable[[date], None] | None = None, audio: bool = False,
             negotiated_discount: tuple[str, Decimal] | None = None,
             stale_price: tuple[str, str, str, Decimal] | None = None, long_context_day: date | None = None,
             credit: tuple[date, str, Decimal] | None = None, unpriced_model: str | None = None,
             runaway: Runaway | None = None,
             sdk_retry_account: str | None = None, realtime_bulk: bool = False,
             expensive_tail: bool = False, cache_thrash: tuple[str, date] | None = None,
             cost_growth: plants_cost_growth.CostGrowth | None = None, fan_out: str | None = None) -> dict:
    """Write a consistent synthetic world under `out/sources/` and its truth in `out/ground_truth.json`.

    A day's calls are shared over `providers` (requests, jobs and unlogged calls: 50% OpenAI,
    30% Anthropic, 20% Bedrock, renormalized over the ones chosen; embeddings stay on OpenAI).
    `otlp_share` of the app-log lines are OTLP/JSON, `deprecated_share` of the flat lines use
    the deprecated attribute names. `litellm_share` of the first attempts with usage are LiteLLM
    proxy payloads instead (their `response_cost` a rough estimate from the token counts, or with
    `litellm_cost_factor` that factor x the call's list cost: 0.7 logs a gateway 30% under the
    bill, see litellm.with_gateway_cost), and with `aggregate_jobs` the other worker calls log one aggregate
    record (`request_count`) per job and cell (see logs.choose_formats). `gzip_app_logs` gzips
    the app logs as shippers write them (`app-NN.jsonl.gz`); `max_log_file_bytes` rotates every log file into parts of about that many
    uncompressed bytes (`app-NN-000.jsonl`, ...). With either, the day's lines are rendered and
    written 250,000 at a time (the same lines, in bounded memory), and a day of more than
    `SHARD_CALLS` calls is generated in shards, each logging into its own files (the exports
    and the truth are made from the shards' summed `world.summarize` rows, so they cover the
    whole day). `cur_format` writes the CUR 2.0 export as `parquet` or gzipped `csv` (the same
    rows). `cross_region` sends half the Bedrock Sonnet calls through the global cross-region
    profile (`global.anthropic...`, its own list price and `_Global` usage types) instead of the US
    one. `openai_usage_group_by` / `openai_cost_group_by` are the `group_by` of the OpenAI
    pages (any subset of project_id, model, batch, service_tier / project_id, line_item; empty:
    ungrouped). `tiers` sends OpenAI's `llm_judge_evaluation` jobs through the Batch API and its
    `proactive_suggestions` jobs on the flex tier (both billed at half the list price, and logged
    with `batch` / `service_tier`). The last `provisional_days` days get no cost export (no OpenAI
    costs pages, no Anthropic cost_report, no CUR rows): their invoices have not arrived, so they
    reconcile as 'provisional' (their truth still holds the invoice the exports would bill).
    `sdk_retry_account` plants SDK-internal retries on that billing account: every logged attempt
    there follows 2 billed attempts no log records (plants_sdk_retries; the truth gains
    `retry_cells` per provider).
    `audio` makes OpenAI's gpt-4o `chat` calls voice calls on gpt-realtime, part of their tokens
    audio (providers.with_audio): usage pages with `input_audio_tokens`, ..., cost lines
    `<model> audio, input`, ... at the audio rates; the logs carry no audio counts.
    `negotiated_discount`, `stale_price`, `long_context_day`, `credit` and `unpriced_model` plant
    causes of a gap between the bill and the catalog (see plants_pricing.py).
    `runaway` (a `Runaway(job_type, day, factor)`) runs that job type's jobs `factor` times over on
    that day (plants_runaway.py): the anomaly and budget checks' planted phenomenon.
    `cost_growth` (plants_cost_growth.CostGrowth) grows users and traffic by 10% a week and one
    job type's calls 3x as fast (unbounded worlds only).
    `fan_out` (a feature) plants heavy fan-out: each of its user actions makes 15 to 40 calls
    (plants_fanout.py); the truth then has `fan_out`: per day, the feature's actions and their
    logged calls per action.
    Deterministic: the same arguments give byte-identical files.
    `realtime_bulk` adds a nightly bulk job type at real-time rates that a batch tier would bill at
    half, `expensive_tail` makes about 3% of `autocomplete`'s calls 50 times costlier
    (plants_tail.py).
    `cache_thrash=(tenant_id, day)`: on that day the tenant's calls read nothing from the prompt
    cache and write their prefixes again (plants_cache_thrash; its logged calls' tokens per day are
    in the truth's `cache_thrash`).
    `on_day(day)` is called as each day is written (the CLI's progress). An existing `out/sources/`
    is replaced. Returns a summary: per day and provider the billed
    requests, logged calls and invoice; files written.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if not 0 <= provisional_days <= days:
        raise ValueError("provisional_days must be between 0 and days")
    if calls_per_day < 1:
        raise ValueError("calls_per_day must be at least 1")
    if cost_growth is not None and (gzip_app_logs or max_log_file_bytes):
        raise ValueError("cost_growth plants into worlds of one shard, without gzip or rotation")
    if not (0 <= otlp_share <= 1 and 0 <= deprecated_share <= 1 and 0 <= litellm_share <= 1):
        raise ValueError("otlp_share, deprecated_share and litellm_share must be between 0 and 1")
    if cur_format not in CUR_FORMATS:
        raise ValueError(f"cur_format must be one of {CUR_FORMATS}, got {cur_format!r}")
    provider_codes(tuple(providers))  # refuses unknown providers
    if set(openai_usage_group_by) - set(USAGE_GROUP_BY) or set(openai_cost_group_by) - set(COST_GROUP_BY):
        raise ValueError(f"OpenAI group_by: usage takes some of {USAGE_GROUP_BY}, costs some of {COST_GROUP_BY}")
    out = Path(out)
    sources = out / "sources"
    if sources.exists():
        shutil.rmtree(sources)
    sources.mkdir(parents=True)

    rng = np.random.Generator(np.random.PCG64(seed))
    mix = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, MIX_STREAM])))
    files: list[Path] = []
    days_truth: dict[str, dict] = {}
    cur_rows: dict[str, list[dict]] = {}
    fan_out_days: dict[str, dict] = {}
    bounded = ({"gzip_app": gzip_app_logs, "max_file_bytes": max_log_file_bytes}
               if gzip_app_logs or max_log_file_bytes else None)
    shards = _shard_sizes(calls_per_day) if bounded else [calls_per_day]
    carry = [logs.empty_lines() for _ in shards]  # per shard: late lines of the previous day
    plants = Plants(negotiated_discount, stale_price, long_context_day, credit, unpriced_model)
    billing = pricing.BILLED_RATE.set(plants.billed_rate if plants else None)  # the rates the providers bill
    thrash_truth: dict[str, list[dict]] = {}  # per day and shard: the cache-thrash tenant's logged tokens
    for i in range(days):
        day = start + timedelta(days=i)
        summaries, non_token, fan_out_parts = [], [], []
        if cost_growth is not None:
            shards = [plants_cost_growth.calls_on(cost_growth, start, day, calls_per_day)]
        for s, n in enumerate(shards):  # shard by shard: the calls of one shard are in memory at a time
            shard_seed = world.shard_seed(seed, s)
            day_world = world.generate_day(rng, day, n, shard_seed, mix, tuple(providers), shard=s)
            if cost_growth is not None:
                day_world = plants_cost_growth.apply(cost_growth, start, day_world)
            calls = plants_cache_thrash.cache_thrash(day_world.calls, day, cache_thrash)
            if cache_thrash is not None:
                thrash_truth.setdefault(day.isoformat(), []).append(plants_cache_thrash.planted(calls, cache_thrash[0]))
            calls = with_tiers(calls) if tiers else calls
            calls = with_audio(calls) if audio else calls
            calls = logs.choose_formats(mix, calls, otlp_share, deprecated_share, litellm_share, aggregate_jobs)
            calls = plants.calls(calls, day) if plants else calls
            calls = with_runaway(calls, day, runaway, seed, s)
            calls = plants_tail.with_expensive_tail(calls) if expensive_tail else calls
            calls = plants_tail.with_realtime_bulk(calls, day, shard_seed) if realtime_bulk else calls
            if fan_out:
                calls = with_fan_out(calls, fan_out, day, shard_seed)
                fan_out_parts.append(fan_out_truth(calls, fan_out))
            if litellm_cost_factor is not None:
                calls = litellm.with_gateway_cost(calls, day, litellm_cost_factor)
            if cross_region:
                calls = route_global(calls)
            if sdk_retry_account is not None:
                calls = plants_sdk_retries.with_sdk_retries(calls, day, sdk_retry_account)
            if BEDROCK in providers:
                files += write_bedrock_day(sources, day, calls, shard_seed)
            if bounded:
                written, carry[s] = logs.write_day_bounded(sources, day, calls, day_world.lifecycle, carry[s],
                                                           shard_seed, **bounded)
            else:
                log_lines = logs.concat_lines([carry[s], logs.render_call_lines(calls, day, seed),
                                               logs.render_lifecycle_lines(day_world.lifecycle, day)])
                written = logs.write_log_folder(sources, day, log_lines)
                carry[s] = log_lines.filter(log_lines["folder_date"] == day + timedelta(days=1))
            files += written
            summaries.append(world.summarize(calls))
            non_token += day_world.non_token + (plants.non_token(day) if s == 0 else [])
            del day_world, calls
        billed = world.summarize(pl.concat(summaries))  # the day's calls, as the exports and truth need them
        day_truth: dict[str, dict] = {}
        invoiced = i < days - provisional_days  # else: the day's cost exports have not arrived
        if OPENAI in providers:
            written, cost_lines = write_openai_day(sources, day, billed, _added_up(non_token),
                                                   usage_group_by=tuple(openai_usage_group_by),
                                                   cost_group_by=tuple(openai_cost_group_by))
            files += _without_costs(written, sources / "openai" / "costs", invoiced)
            day_truth[OPENAI] = truth.day_truth(OPENAI, day, billed, cost_lines)
        if ANTHROPIC in providers:
            written, cost_lines, catalog = write_anthropic_day(sources, day, billed)
            files += _without_costs(written, sources / "anthropic" / "cost_report", invoiced)
            day_truth[ANTHROPIC] = truth.day_truth(ANTHROPIC, day, billed, cost_lines, catalog)
        if BEDROCK in providers:
            rows, cost_lines = cur_day(day, billed)
            cur_rows.setdefault(period(day), []).extend(rows if invoiced else [])
            day_truth[BEDROCK] = truth.day_truth(BEDROCK, day, billed, cost_lines)
        if sdk_retry_account is not None:  # the planted cells' truth (a world without the plant keeps its bytes)
            day_truth = {p: {**t, "retry_cells": plants_sdk_retries.cells_truth(p, day, billed)} for p, t in day_truth.items()}
        days_truth[day.isoformat()] = day_truth
        if fan_out:
            fan_out_days[day.isoformat()] = {"feature": fan_out, **merge_truth(fan_out_parts)}
        if on_day is not None:
            on_day(day)
    last = start + timedelta(days=days)  # the folder after the last day
    for s, lines in enumerate(carry):
        if bounded:
            files += logs.write_day_bounded(sources, last, None, None, lines, world.shard_seed(seed, s), **bounded)[0]
        else:
            files += logs.write_log_folder(sources, last, lines)
    files += write_cur(sources, cur_rows, cur_format)
    pricing.BILLED_RATE.reset(billing)

    planted = {} if cache_thrash is None else {"cache_thrash": plants_cache_thrash.truth(cache_thrash, thrash_truth)}
    if fan_out:
        planted["fan_out"] = fan_out_days
    (out / "ground_truth.json").write_text(json.dumps({"days": days_truth, **planted}, indent=2) + "\n")
    keep = ("provider_requests", "logged_calls", "invoice_usd")
    return {
        "out": str(out),
        "seed": seed,
        "days": {d: {p: {k: v[k] for k in keep} for p, v in t.items()} for d, t in days_truth.items()},
        "files_written": len(files) + 1,
    }
