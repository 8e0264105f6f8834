"""Bedrock model invocation logs, in the S3 layout Bedrock writes them (section 3a of the formats
reference): every billed Bedrock call, logged by the application or not, is one record.

    bedrock/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<ts>Z_<hex>.json.gz

Files are gzipped JSON Lines, one per 10-minute delivery window; the `YYYY/MM/DD/HH` prefix is the
delivery time (a minute or so after the call), so a few records land in the next hour's prefix and
the last calls of a day in the next day's. Records carry the prompt and the response in
`input.inputBodyJson` / `output.outputBodyJson` (fake texts starting with `PROMPT_MARKER` /
`RESPONSE_MARKER`); one record a day has its input body offloaded to a `/data/` object instead.
`input.inputTokenCount` is the uncached input (cache reads and writes excluded). `region` is the
caller's (us-east-1, the region that bills); a share of the requests carry the `inferenceRegion`
a cross-region profile served them in (US regions for `us.` profiles, any for `global.`). A
permission-check object sits beside the logs. Records are built column-wise by Polars.
"""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from .files import write_files
from .providers import AWS_ACCOUNT, AWS_REGION, BEDROCK
from .world import DAY_MS, HOUR_MS, hex_ids

PREFIX = f"bedrock/AWSLogs/{AWS_ACCOUNT}/BedrockModelInvocationLogs"
REGION_PREFIX = f"{PREFIX}/{AWS_REGION}"
PERMISSION_CHECK = f"{PREFIX}/amazon-bedrock-logs-permission-check"
SOURCE_BUCKET = "s3://darkcompute-sources"  # where the source root lives in S3 paths the files carry
PROMPT_MARKER = "darkcompute-simulated-prompt"
RESPONSE_MARKER = "darkcompute-simulated-response"
WINDOW_MS = 10 * 60_000
DELAY_MS = (20_000, 60_000, 15 * 60_000)  # minimum, mean extra (exponential), cap
INFERENCE_REGIONS = ("us-west-2", "us-east-2")  # cross-region profiles: where some requests ran
GLOBAL_INFERENCE_REGIONS = ("eu-west-1", "ap-northeast-1")  # a global profile's, anywhere


def write_bedrock_day(sources: Path, day: date, calls: pl.DataFrame, seed: int) -> list[Path]:
    """Write the invocation log records of one usage day's Bedrock calls (any delivery day)."""
    calls = calls.filter(pl.col("provider") == BEDROCK).sort(["ts_ms", "response_id"])
    if calls.height == 0:
        return []
    rng = np.random.Generator(np.random.PCG64([seed, day.toordinal(), 0xB3D]))
    n = calls.height
    ts = calls["ts_ms"].to_numpy()
    delivered = ts + np.minimum(DELAY_MS[0] + rng.exponential(DELAY_MS[1], n).astype(np.int64), DELAY_MS[2])
    next_day = (ts[-1] // DAY_MS + 1) * DAY_MS
    if next_day - ts[-1] <= HOUR_MS:  # the last call of the day (in its last hour) is delivered after midnight
        delivered[-1] = max(delivered[-1], next_day + 5_000)
    offloaded = int(np.argmax(calls["input_tokens"].to_numpy()))  # the largest prompt's body goes to /data/
    window = delivered // WINDOW_MS
    frame = calls.with_columns(
        delivered=pl.Series(delivered),
        window=pl.Series(window),
        offloaded=pl.Series(np.arange(n) == offloaded),
        inference_region=pl.Series(np.where(rng.random(n) < 0.3, rng.integers(0, 2, n), -1)),
    )
    window_ids = hex_ids("", day, 10, seed, int(window.max() - window.min()) + 1)
    frame = frame.with_columns(
        path=pl.concat_str([
            pl.lit(REGION_PREFIX + "/"),
            pl.from_epoch("delivered", time_unit="ms").dt.strftime("%Y/%m/%d/%H/"),
            (pl.col("window") * WINDOW_MS).cast(pl.Datetime("ms")).dt.strftime("%Y%m%dT%H%M%S"),
            pl.lit("Z_"), window_ids.gather(frame["window"] - int(window.min())),
            pl.lit(".json.gz"),
        ]),
        data_path=pl.concat_str([
            pl.lit(REGION_PREFIX + "/"), pl.from_epoch("delivered", time_unit="ms").dt.strftime("%Y/%m/%d/%H/"),
            pl.lit("data/"), pl.col("response_id"), pl.lit("_input.json.gz"),
        ]),
    ).with_columns(line=record()).sort(["path", "delivered", "response_id"])
    files = write_files(sources, frame.select("path", "line"))
    big = frame.filter(pl.col("offloaded")).row(0, named=True)
    files.append(_write(sources / big["data_path"], gzip.compress(json.dumps(_body(big)).encode(), mtime=0)))
    check = sources / PERMISSION_CHECK
    if not check.exists():
        files.append(_write(check, b""))
    return files


def _prompt() -> pl.Expr:
    task = pl.coalesce("feature", "job_type", "meta_job_type", pl.lit("batch work"))
    return pl.concat_str([pl.lit(PROMPT_MARKER + ": please handle this "), task,
                          pl.lit(" request for tenant "), pl.coalesce("tenant_id", pl.lit("internal"))])


def _input_body() -> pl.Expr:
    return pl.concat_str([pl.lit('{"messages":[{"role":"user","content":[{"text":"'), _prompt(),
                          pl.lit('"}]}],"inferenceConfig":{"maxTokens":4096}}')])


def _body(row: dict) -> dict:
    """The offloaded input body of one record (the same JSON the record would have inlined)."""
    task = row["feature"] or row["job_type"] or row["meta_job_type"] or "batch work"
    text = f"{PROMPT_MARKER}: please handle this {task} request for tenant {row['tenant_id'] or 'internal'}"
    return {"messages": [{"role": "user", "content": [{"text": text}]}], "inferenceConfig": {"maxTokens": 4096}}


def _metadata() -> pl.Expr:
    """`"requestMetadata":{...},` or null when the call carried none."""
    pairs = pl.concat_str(
        [
            pl.lit('"job_type":"') + pl.col("meta_job_type") + pl.lit('"'),
            pl.lit('"attempt":"') + pl.col("meta_attempt").cast(pl.String) + pl.lit('"'),
            pl.lit('"feature":"') + pl.col("meta_feature") + pl.lit('"'),
        ],
        separator=",",
        ignore_nulls=True,
    )
    return pl.when(pairs != "").then(pl.lit('"requestMetadata":{') + pairs + pl.lit("},"))


def record() -> pl.Expr:
    """One invocation log record and its newline, section 3a's schema."""
    uncached = pl.col("input_tokens") - pl.col("cache_read_tokens") - pl.col("cache_write_tokens")
    regions = pl.when(pl.col("model").str.starts_with("global.")).then(
        pl.col("inference_region").replace_strict(dict(enumerate(GLOBAL_INFERENCE_REGIONS)), default=None,
                                                  return_dtype=pl.String)
    ).otherwise(pl.col("inference_region").replace_strict(dict(enumerate(INFERENCE_REGIONS)), default=None,
                                                          return_dtype=pl.String))
    region = pl.when(pl.col("inference_region") >= 0).then(pl.lit('"inferenceRegion":"') + regions + pl.lit('",'))
    body = pl.when(pl.col("offloaded")).then(
        pl.lit(f'"inputBodyS3Path":"{SOURCE_BUCKET}/') + pl.col("data_path") + pl.lit('"')
    ).otherwise(pl.lit('"inputBodyJson":') + _input_body())
    latency = 300 + 12 * pl.col("output_tokens")
    output_body = pl.concat_str([
        pl.lit('{"output":{"message":{"role":"assistant","content":[{"text":"' + RESPONSE_MARKER + ': done ('),
        pl.col("output_tokens").cast(pl.String), pl.lit(' tokens)"}]}},"stopReason":"'),
        pl.when(pl.col("status") == "error").then(pl.lit("max_tokens")).otherwise(pl.lit("end_turn")),
        pl.lit('","usage":{"inputTokens":'), uncached.cast(pl.String),
        pl.lit(',"outputTokens":'), pl.col("output_tokens").cast(pl.String),
        pl.lit(',"totalTokens":'), (uncached + pl.col("output_tokens")).cast(pl.String),
        pl.lit(',"cacheReadInputTokens":'), pl.col("cache_read_tokens").cast(pl.String),
        pl.lit(',"cacheWriteInputTokens":'), pl.col("cache_write_tokens").cast(pl.String),
        pl.lit('},"metrics":{"latencyMs":'), latency.cast(pl.String), pl.lit("}}"),
    ])
    return pl.concat_str(
        [
            pl.lit('{"schemaType":"ModelInvocationLog","schemaVersion":"1.0","timestamp":"'),
            pl.from_epoch("ts_ms", time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            pl.lit(f'","accountId":"{AWS_ACCOUNT}","identity":{{"arn":"'), pl.col("billing_account"),
            pl.lit(f'"}},"region":"{AWS_REGION}",'), region,
            pl.lit('"requestId":"'), pl.col("response_id"),
            pl.lit('","operation":"Converse","modelId":"'), pl.col("model"), pl.lit('",'),
            _metadata(),
            pl.lit('"input":{"inputContentType":"application/json",'), body,
            pl.lit(',"inputTokenCount":'), uncached.cast(pl.String),
            pl.lit(',"cacheReadInputTokenCount":'), pl.col("cache_read_tokens").cast(pl.String),
            pl.lit(',"cacheWriteInputTokenCount":'), pl.col("cache_write_tokens").cast(pl.String),
            pl.lit('},"output":{"outputContentType":"application/json","outputBodyJson":'), output_body,
            pl.lit(',"outputTokenCount":'), pl.col("output_tokens").cast(pl.String),
            pl.lit("}}\n"),
        ],
        ignore_nulls=True,
    )


def _write(path: Path, payload: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path
