"""Application and worker log writers: JSONL with OpenTelemetry GenAI key names.

Most lines are flat JSON objects; a share of them use the deprecated names (`gen_ai.system`,
`gen_ai.usage.prompt_tokens`, `gen_ai.usage.completion_tokens`), and a share of app-log lines are
the OpenTelemetry Collector file exporter's OTLP/JSON (see otlp.py). Optionally, a share of the
calls are logged by a LiteLLM proxy (its `StandardLoggingPayload`, see litellm.py), and worker
jobs log their usage once per job and cell as an aggregate record with a `request_count`. Each
line is assembled
column-wise by one Polars `concat_str` (a key whose value is null is left out of its line), the
lines of a folder are sorted by file and timestamp, and every file is a zero-copy slice of the
resulting Arrow buffer. Python loops only over folders, files and the few corrupted lines. Every
value we write is an id, a fixed vocabulary word or a number, so no JSON escaping is needed
(`_check_plain` guards that).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from . import litellm, otlp
from .files import FileSink, write_files

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"
LOG_FOLDERS = {"app": ("app_logs", ".jsonl"), "worker": ("worker_logs", ".jsonl.gz")}
LINES_SCHEMA = {
    "folder_date": pl.Date,
    "log_kind": pl.String,
    "log_file": pl.String,
    "ts_ms": pl.Int64,
    "seq": pl.Int64,
    "line": pl.String,  # one JSON object and its "\n" (a corrupted line is cut short, "\n" kept)
}
CHUNK_ROWS = 250_000  # lines rendered and written at a time by write_day_bounded
OTLP_PAIR_P = 0.3  # of OTLP lines: written together with the next OTLP call of the file, two spans


def choose_formats(mix: np.random.Generator, calls: pl.DataFrame, otlp_share: float,
                   deprecated_share: float, litellm_share: float = 0.0, aggregate_jobs: bool = False) -> pl.DataFrame:
    """`log_format` of every logged call (`flat`, `deprecated`, `otlp`, `litellm` or `aggregate`)
    and `otlp_pair`.

    OTLP lines are app-log lines that are not corrupted; deprecated names go to flat lines of
    either log. LiteLLM payloads (`litellm_share` of the rest) carry no attempt number and always
    carry usage, so they are first attempts with usage on the standard tier, not batch (the
    payload has no tier). With `aggregate_jobs`, the remaining flat worker calls of that kind
    (OpenAI and Anthropic; a logged Bedrock call must carry its requestId) are logged once per job
    and cell. Shares of 0 draw nothing, so a world without them keeps its bytes."""
    n = calls.height
    app = (calls["log_kind"] == "app").fill_null(False).to_numpy() & calls["corrupt_cut"].is_null().to_numpy()
    otlp_rows = app & (mix.random(n) < otlp_share) if otlp_share > 0 else np.zeros(n, dtype=bool)
    deprecated = ~otlp_rows & (mix.random(n) < deprecated_share) if deprecated_share > 0 else np.zeros(n, dtype=bool)
    pair = otlp_rows & (mix.random(n) < OTLP_PAIR_P) if otlp_share > 0 else np.zeros(n, dtype=bool)
    fmt = np.where(otlp_rows, 2, np.where(deprecated, 1, 0))
    if litellm_share > 0 or aggregate_jobs:
        simple = (calls["log_kind"].is_not_null() & calls["corrupt_cut"].is_null() & (calls["attempt"] == 1)
                  & calls["usage_logged"]).to_numpy() & (fmt != 2)
        if litellm_share > 0:
            tierless = (calls["service_tier"].fill_null("default").is_in(["default", "standard"])
                        & ~calls["batch"].fill_null(False)).to_numpy()
            fmt = np.where(simple & tierless & (mix.random(n) < litellm_share), 3, fmt)
        if aggregate_jobs:
            worker = ((calls["log_kind"] == "worker") & (calls["provider"] != "aws.bedrock")).fill_null(False).to_numpy()
            fmt = np.where(simple & worker & (fmt == 0), 4, fmt)
    formats = np.array(["flat", "deprecated", "otlp", "litellm", "aggregate"])
    return calls.with_columns(log_format=pl.Series(formats[fmt]), otlp_pair=pl.Series(pair))


def _timestamp() -> pl.Expr:
    return pl.from_epoch("ts_ms", time_unit="ms").dt.strftime(TIMESTAMP_FORMAT)


def _json_line(fields: list[tuple[str, pl.Expr, bool]]) -> pl.Expr:
    """`{"k":v,...}\n` from (key, value, is_string) triples; the first value must never be null."""
    parts = []
    for i, (key, value, is_string) in enumerate(fields):
        head = ("{" if i == 0 else ",") + f'"{key}":' + ('"' if is_string else "")
        text = value if is_string else value.cast(pl.String)
        parts.append(pl.lit(head) + text + pl.lit('"') if is_string else pl.lit(head) + text)
    return pl.concat_str([*parts, pl.lit("}\n")], ignore_nulls=True)


def _folder(day: date) -> pl.Expr:
    return pl.when(pl.col("late")).then(pl.lit(day + timedelta(days=1))).otherwise(pl.lit(day)).alias("folder_date")


def _s(name: str, column: str | pl.Expr | None = None) -> tuple[str, pl.Expr, bool]:
    return name, pl.col(column or name) if not isinstance(column, pl.Expr) else column, True


def _n(name: str, column: str | pl.Expr | None = None) -> tuple[str, pl.Expr, bool]:
    return name, pl.col(column or name) if not isinstance(column, pl.Expr) else column, False


def render_call_lines(calls: pl.DataFrame, day: date, seed: int = 0) -> pl.DataFrame:
    """Model-call log lines of the logged calls of one generated day (LINES_SCHEMA)."""
    flat, spans = _logged(calls)
    lines = _render_flat(flat.filter(pl.col("log_format") != "aggregate"), day)
    if spans.height:
        lines = pl.concat([lines, otlp.render_lines(spans.with_columns(_folder(day)), day, seed)])
    return concat_lines([lines, render_aggregate_lines(flat.filter(pl.col("log_format") == "aggregate"), day)])


def _logged(calls: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The logged calls with what their line says (`seq`, `logged_*`), split into the flat ones
    (flat, deprecated-name, LiteLLM and aggregated) and the OTLP ones."""
    logged = calls.filter(pl.col("log_kind").is_not_null())
    if "log_format" not in logged.columns:
        logged = logged.with_columns(log_format=pl.lit("flat"), otlp_pair=pl.lit(False))
    _check_plain(logged)
    logged = logged.with_columns(seq=pl.int_range(pl.len(), dtype=pl.Int64), **_said())
    return logged.filter(pl.col("log_format") != "otlp"), logged.filter(pl.col("log_format") == "otlp")


def render_aggregate_lines(rows: pl.DataFrame, day: date) -> pl.DataFrame:
    """One line per job and cell of `rows` (calls with `seq` and `logged_*`): the job's summed usage
    and its `request_count`, at the time of its last call (LINES_SCHEMA)."""
    if rows.height == 0:
        return empty_lines()
    line = _json_line(
        [
            _s("timestamp", _timestamp()),
            _s("gen_ai.provider.name", "provider"),
            _s("gen_ai.operation.name", "operation"),
            _s("gen_ai.request.model", "request_model"),
            _n("gen_ai.usage.input_tokens", "logged_input"),
            _n("gen_ai.usage.output_tokens", "logged_output"),
            _n("gen_ai.usage.cache_read.input_tokens", "logged_cache_read"),
            _n("gen_ai.usage.cache_creation.input_tokens", "logged_cache_creation"),
            _n("request_count"),
            _s("billing.account", "billing_account"),
            _s("service_tier"),
            _n("batch"),
            _s("status", pl.lit("ok")),
            _s("tenant_id"),
            _s("job_id"),
            _s("job_type"),
            _s("queue"),
            _s("trigger"),
            _s("parent_request_id"),
        ]
    )
    return litellm.aggregate(rows).select(_folder(day), "log_kind", "log_file", "ts_ms", "seq", line.alias("line"))


def _said() -> dict[str, pl.Expr]:
    """What a call's line says (null: the key is left out)."""
    usage, chat = pl.col("usage_logged"), pl.col("operation") == "chat"
    return dict(
        logged_response_model=pl.when(pl.col("log_response_model")).then(pl.col("model")),
        logged_input=pl.when(usage).then(pl.col("input_tokens")),
        logged_output=pl.when(usage).then(pl.col("output_tokens")),
        logged_cache_read=pl.when(usage & chat).then(pl.col("cache_read_tokens")),
        logged_cache_creation=pl.when(usage & chat & (pl.col("provider") != "openai")).then(
            pl.col("cache_write_tokens")),
    )


def _flat_line() -> pl.Expr:
    old = pl.col("log_format") == "deprecated"
    return _json_line(
        [
            _s("timestamp", _timestamp()),
            _s("gen_ai.provider.name", pl.when(~old).then(pl.col("provider"))),
            _s("gen_ai.system", pl.when(old).then(pl.col("provider"))),
            _s("gen_ai.operation.name", "operation"),
            _s("gen_ai.request.model", "request_model"),
            _s("gen_ai.response.model", "logged_response_model"),
            _s("gen_ai.response.id", "response_id"),
            _n("gen_ai.usage.input_tokens", pl.when(~old).then(pl.col("logged_input"))),
            _n("gen_ai.usage.prompt_tokens", pl.when(old).then(pl.col("logged_input"))),
            _n("gen_ai.usage.output_tokens", pl.when(~old).then(pl.col("logged_output"))),
            _n("gen_ai.usage.completion_tokens", pl.when(old).then(pl.col("logged_output"))),
            _n("gen_ai.usage.cache_read.input_tokens", "logged_cache_read"),
            _n("gen_ai.usage.cache_creation.input_tokens", "logged_cache_creation"),
            _s("billing.account", "billing_account"),
            _s("service_tier"),
            _n("batch"),
            _n("attempt"),
            _s("status"),
            _s("request_id"),
            _s("user_id"),
            _s("tenant_id"),
            _s("feature"),
            _s("job_id"),
            _s("job_type"),
            _s("queue"),
            _s("trigger"),
            _s("parent_request_id"),
        ]
    )


def _render_flat(logged: pl.DataFrame, day: date) -> pl.DataFrame:
    """The flat (and deprecated-name) lines of `logged` rows, in their order (LINES_SCHEMA)."""
    line = _flat_line()
    if "log_format" in logged.columns and (logged["log_format"] == "litellm").any():
        line = pl.when(pl.col("log_format") == "litellm").then(
            litellm.litellm_line("gateway_cost" in logged.columns)).otherwise(line)
    lines = _parallel_select(logged, [_folder(day), "log_kind", "log_file", "ts_ms", "seq", line.alias("line")])
    # Truncate the few corrupted lines mid-JSON (a writer that died mid-line; the newline follows).
    idx = np.flatnonzero(logged["corrupt_cut"].is_not_null().to_numpy())
    if idx.size:
        whole = lines["line"].gather(idx).to_list()
        cuts = logged["corrupt_cut"].gather(idx).to_list()
        cut_lines = [text[: max(1, int((len(text) - 1) * frac))] + "\n" for text, frac in zip(whole, cuts, strict=True)]
        lines = lines.with_columns(lines["line"].scatter(idx, cut_lines))
    return lines


def _parallel_select(frame: pl.DataFrame, exprs: list, chunk_rows: int = 200_000) -> pl.DataFrame:
    """`frame.select(exprs)` over row slices collected in parallel (string building is per row)."""
    if frame.height <= chunk_rows:
        return frame.select(exprs)
    parts = [frame.slice(i, chunk_rows).lazy().select(exprs) for i in range(0, frame.height, chunk_rows)]
    return pl.concat(pl.collect_all(parts), rechunk=False)


def render_lifecycle_lines(lifecycle: pl.DataFrame, day: date) -> pl.DataFrame:
    """Job lifecycle lines (`job.started`, `job.finished`): worker log lines that are not model calls."""
    if lifecycle.height == 0:
        return empty_lines()
    _check_plain(lifecycle)
    line = _json_line(
        [
            _s("timestamp", _timestamp()),
            _s("event"),
            _s("job_id"),
            _s("job_type"),
            _s("queue"),
            _s("trigger"),
            _n("calls"),
            _n("duration_ms"),
        ]
    )
    return lifecycle.select(
        _folder(day),
        pl.lit("worker").alias("log_kind"),
        "log_file",
        "ts_ms",
        (pl.int_range(pl.len(), dtype=pl.Int64) + 1_000_000_000_000).alias("seq"),
        line.alias("line"),
    )


def write_log_folder(sources: Path, folder_date: date, lines: pl.DataFrame) -> list[Path]:
    """Write every app and worker log file of one day folder; lines sorted by timestamp per file."""
    lines = lines.filter(pl.col("folder_date") == folder_date).sort(["log_kind", "log_file", "ts_ms", "seq"])
    if lines.height == 0:
        return []
    day = folder_date.isoformat()
    app_folder, app_suffix = LOG_FOLDERS["app"]
    worker_folder, worker_suffix = LOG_FOLDERS["worker"]
    path = (
        pl.when(pl.col("log_kind") == "app")
        .then(pl.concat_str([pl.lit(f"{app_folder}/{day}/"), "log_file", pl.lit(app_suffix)]))
        .otherwise(pl.concat_str([pl.lit(f"{worker_folder}/{day}/"), "log_file", pl.lit(worker_suffix)]))
    )
    return write_files(sources, lines.select(path.alias("path"), "line"))


def write_day_bounded(sources: Path, day: date, calls: pl.DataFrame | None, lifecycle: pl.DataFrame | None,
                      carry: pl.DataFrame,
                      seed: int, *, gzip_app: bool, max_file_bytes: int | None,
                      chunk_rows: int | None = None) -> tuple[list[Path], pl.DataFrame]:
    """Write the day's log folder like `write_log_folder(render_call_lines(...) + lifecycle + carry)`,
    the same lines in the same order, without holding the day's lines in memory.

    Only the sort keys of every line are sorted; flat lines are rendered `chunk_rows` at a time
    in file order and appended to their files (OTLP, lifecycle and carried lines are few and
    rendered up front). With `max_file_bytes`, each log file rotates as shippers do: part `k`
    (`app-01-00k.jsonl`) holds the lines starting within bytes `[k, k + 1) * max_file_bytes` of
    the whole file. `gzip_app` gzips the app logs as well. Returns the files written and the
    lines carried into the next day's folder (rendered). `calls` and `lifecycle` None: only the
    carried lines (the folder after the last day).
    """
    key = ["log_kind", "log_file", "ts_ms", "seq"]
    flat = spans = jobs = None
    if calls is not None:  # rows of `calls` are gathered chunk by chunk: no copy of the logged calls
        if "log_format" not in calls.columns:
            calls = calls.with_columns(log_format=pl.lit("flat"), otlp_pair=pl.lit(False))
        _check_plain(calls)
        logged = calls.select(row=pl.int_range(pl.len(), dtype=pl.Int64), otlp=pl.col("log_format") == "otlp",
                              job=pl.col("log_format") == "aggregate",
                              kind=pl.col("log_kind")).filter(pl.col("kind").is_not_null())
        logged = logged.with_columns(seq=pl.int_range(pl.len(), dtype=pl.Int64))
        spans = calls[logged.filter("otlp")["row"]].with_columns(seq=logged.filter("otlp")["seq"], **_said())
        jobs = calls[logged.filter("job")["row"]].with_columns(seq=logged.filter("job")["seq"], **_said())
        flat = logged.filter(~pl.col("otlp") & ~pl.col("job")).select("row", "seq")
    few = concat_lines([
        carry,
        otlp.render_lines(spans.with_columns(_folder(day)), day, seed) if spans is not None and spans.height
        else empty_lines(),
        render_aggregate_lines(jobs, day) if jobs is not None else empty_lines(),
        render_lifecycle_lines(lifecycle, day) if lifecycle is not None else empty_lines(),
    ])
    parts = [few.select("folder_date", *key, row=-1 - pl.int_range(pl.len(), dtype=pl.Int64))]
    if flat is not None:
        parts.insert(0, calls[flat["row"]].select(_folder(day), "log_kind", "log_file", "ts_ms")
                     .with_columns(seq=flat["seq"], row=flat["row"]))
    keys = pl.concat(parts)
    later = keys.filter(pl.col("folder_date") != day)
    keys = keys.filter(pl.col("folder_date") == day).sort(key).drop("folder_date")

    def render(rows: pl.DataFrame) -> pl.DataFrame:
        """Lines of `rows` (keys with `row`) in their order: rendered flat lines and the few."""
        rows = rows.with_columns(pos=pl.int_range(pl.len()))
        mine, theirs = rows.filter(pl.col("row") >= 0), rows.filter(pl.col("row") < 0)
        parts = [few.select("line")[(-1 - theirs["row"])].select(pos=theirs["pos"], line="line")]
        if mine.height:
            rows = calls[mine["row"]].with_columns(seq=mine["seq"], **_said())
            parts.append(_render_flat(rows, day).select(pos=mine["pos"], line="line"))
        return pl.concat(parts).sort("pos")

    folders = {kind: (folder, ".jsonl.gz" if gzip_app or kind == "worker" else ".jsonl")
               for kind, (folder, _) in LOG_FOLDERS.items()}
    written: dict[tuple[str, str], int] = {}  # bytes written so far per log file
    sink = FileSink(sources)
    chunk_rows = chunk_rows or CHUNK_ROWS
    for lo in range(0, keys.height, chunk_rows):
        chunk = keys.slice(lo, chunk_rows)
        lines = render(chunk).get_column("line")
        sink.append(pl.DataFrame({"path": _paths(chunk, lines, day, folders, written, max_file_bytes), "line": lines}))
    carried = render(later.drop("folder_date")).select("line")
    carried = pl.concat([later.select("folder_date", *key), carried], how="horizontal")
    return sink.close(), carried.select(list(LINES_SCHEMA))


def _paths(chunk: pl.DataFrame, lines: pl.Series, day: date, folders: dict, written: dict,
           max_file_bytes: int | None) -> pl.Series:
    """The file of every line of a chunk (rotated by byte offset); updates `written`."""
    frame = chunk.select("log_kind", "log_file").with_columns(n=lines.str.len_bytes().cast(pl.Int64))
    before = pl.DataFrame({"log_kind": [k for k, _ in written], "log_file": [f for _, f in written],
                           "done": list(written.values())}, schema={"log_kind": pl.String, "log_file": pl.String,
                                                                    "done": pl.Int64})
    frame = frame.join(before, on=["log_kind", "log_file"], how="left", maintain_order="left").with_columns(
        start=pl.col("done").fill_null(0) + pl.col("n").cum_sum().over("log_kind", "log_file") - pl.col("n"))
    for kind, name, end in frame.group_by("log_kind", "log_file").agg((pl.col("start") + pl.col("n")).max()).iter_rows():
        written[(kind, name)] = end
    folder = pl.col("log_kind").replace_strict({k: f"{v[0]}/{day.isoformat()}/" for k, v in folders.items()})
    suffix = pl.col("log_kind").replace_strict({k: v[1] for k, v in folders.items()})
    part = ([pl.lit("-"), (pl.col("start") // max_file_bytes).cast(pl.String).str.zfill(3)]
            if max_file_bytes else [])
    return frame.select(pl.concat_str([folder, "log_file", *part, suffix]).alias("path")).get_column("path")


def _check_plain(frame: pl.DataFrame) -> None:
    """Refuse string values that would need JSON escaping (we write them between quotes as is)."""
    for name, dtype in frame.schema.items():
        if dtype == pl.String and frame[name].str.contains(r'["\\\x00-\x1f]').any():
            raise ValueError(f"column {name!r} holds a value that needs JSON escaping")


def empty_lines() -> pl.DataFrame:
    return pl.DataFrame(schema=LINES_SCHEMA)


def concat_lines(frames: Iterable[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else empty_lines()
