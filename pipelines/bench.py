"""`darkcompute bench`: time the nightly reconciliation of one simulated day against two yardsticks.

- end to end: `darkcompute reconcile` for the day, exactly as the nightly schedule runs it
  (ingest of the day and the days either side, SQL models, marts, checks, warehouse);
- the floor: DuckDB alone reading every raw file the reconciliation reads into Parquet;
- the peer approach: pricing each logged call one at a time with `genai_prices.calc_price`,
  timed on a sample and extrapolated.

Each measured phase runs in its own child process, so its wall time and peak memory (the
kernel's high-water mark of resident memory for the process tree, from `wait4`) are its own.
The machine is shared and noisy: compare phases of the same run, not runs of different days.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

BENCH_DAY = date(2026, 6, 2)
PEER_SAMPLE = 20_000
FLOOR_BATCH = 16  # JSON Lines files read by one DuckDB call in the floor
LOG_FILE_BYTES = 100 * 1024 * 1024  # shippers rotate log files at about this size (uncompressed)
# Polars' allocator (jemalloc) returns freed pages at once instead of keeping them for ~10 s, so
# the simulator's peak memory is what it holds, not what it held a moment ago.
SIMULATE_ENV = {"_RJEM_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"}
ME = [sys.executable, "-m", "pipelines.bench"]


def run_phase(argv: list[str], env: dict | None = None) -> dict:
    """Run a child process; return its wall seconds, CPU seconds (user + system, the process
    tree's), peak RSS in MiB and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(map(str, argv[:5]))} ... exited {proc.returncode}:\n{err.read().decode()[-4000:]}")
        return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": usage.ru_maxrss / 1024, "stdout": out.read().decode()}


def raw_files(sources: Path, days: list[date]) -> dict[str, list[str]]:
    """The raw files the reconciliation of `days` reads, grouped by source folder and reader:
    `jsonl:<source>` (one shape per source), `json` (API pages) and `parquet` (CUR)."""
    stamps = {d.isoformat() for d in days} | {d.strftime("%Y/%m/%d") for d in days}
    groups: dict[str, list[str]] = {}
    for path in sorted(sources.rglob("*")):
        rel = path.relative_to(sources).as_posix()
        if not path.is_file() or ("/data/" in rel or "permission-check" in rel):
            continue
        if rel.startswith("cur/"):
            if path.suffix == ".parquet":
                groups.setdefault("parquet", []).append(str(path))
            continue
        if not any(s in rel for s in stamps):
            continue
        if rel.endswith((".jsonl", ".jsonl.gz")) or rel.startswith("bedrock/"):
            groups.setdefault(f"jsonl:{rel.split('/')[0]}", []).append(str(path))
        elif rel.endswith(".json"):
            groups.setdefault("json", []).append(str(path))
    return groups


def floor(sources: Path, out: Path, day: date, threads: int | None, memory_limit: str | None) -> dict:
    """DuckDB alone: every raw file read into Parquet (schema inferred, bad lines ignored).

    The files of one source share one writer's shape, so each source's JSON Lines are read with
    the schema DuckDB infers from a sample, `FLOOR_BATCH` files at a time: DuckDB's JSON reader
    sets aside a 32 MiB buffer per file while binding, so Bedrock's ~150 small objects a day in
    one call exceed a 2 GiB memory limit (with `union_by_name` too)."""
    from pipelines.lib import sql

    con = sql.connect(threads=threads, memory_limit=memory_limit, temp_directory=out / ".duckdb_tmp")
    groups = raw_files(sources, [day - timedelta(days=1), day, day + timedelta(days=1)])
    rows, seconds = {}, {}
    for kind, files in groups.items():
        batch = len(files) if kind in ("parquet", "json") else FLOOR_BATCH
        rows[kind] = 0
        start = time.perf_counter()
        for i in range(0, len(files), batch):
            part = files[i: i + batch]
            target = str(out / f"floor_{kind.replace(':', '_')}{f'.{i // batch}' if i else ''}.parquet")
            if kind == "parquet":
                rel = con.read_parquet(part, union_by_name=True)
            elif kind == "json":
                rel = con.read_json(part, format="auto", union_by_name=True)
            else:
                rel = con.read_json(part, format="newline_delimited", ignore_errors=True)
            rel.write_parquet(target, compression="zstd")
            rows[kind] += con.read_parquet(target).aggregate("count(*)").fetchall()[0][0]
        seconds[kind] = round(time.perf_counter() - start, 3)
    return {"files": {k: len(v) for k, v in groups.items()}, "rows": rows, "seconds": seconds}


def peer(lake: Path, day: date, sample: int) -> dict:
    """Price logged calls one at a time with genai-prices, on a sample; seconds per call. The
    calls are those of the timed day's ingest (the day and the days either side), not history."""
    from genai_prices import Usage, calc_price

    from pipelines.lib import sql
    from pipelines.lib.prices import CATALOG_PROVIDER

    con = sql.connect()
    stamps = [(day + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]  # what the timed run ingested
    files = [str(p) for s in stamps for p in (lake / "bronze").glob(f"*_calls/date={s}/*.parquet")]
    calls = con.read_parquet(files, union_by_name=True).filter("usage_known")
    total = calls.aggregate("count(*)").fetchall()[0][0]
    rows = calls.limit(sample).project(
        "provider, model, input_tokens, cache_read_tokens, cache_creation_tokens, output_tokens, ts").fetchall()
    when = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
    start = time.perf_counter()
    priced = 0
    for provider, model, inp, read, write, out, ts in rows:
        try:
            calc_price(Usage(input_tokens=inp, cache_read_tokens=read, cache_write_tokens=write, output_tokens=out),
                       model_ref=model, provider_id=CATALOG_PROVIDER[provider], genai_request_timestamp=ts or when)
            priced += 1
        except LookupError:
            pass
    seconds = time.perf_counter() - start
    return {"sample": len(rows), "priced": priced, "logged_calls": total,
            "seconds_per_call": seconds / max(len(rows), 1)}


def bench(calls_per_day: int, days: int = 1, keep: Path | None = None, threads: int | None = None,
          memory_limit: str | None = "1536MiB", seed: int = 11, reuse_world: bool = False, runs: int = 1,
          progress: Callable[[str], None] | None = None) -> dict:
    """Simulate once, then measure the three phases on the same files `runs` times. Returns the
    figures: each measure is the median of the runs, `spread` its min and max, `runs` every run.

    `reuse_world` keeps a world `keep/world` already simulated with the same arguments (a large
    day takes minutes to simulate). Every run starts from an empty lake and warehouse. `progress(name)`
    is called as each phase starts (the CLI's progress)."""
    progress = progress or (lambda name: None)
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="darkcompute-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    first = BENCH_DAY - timedelta(days=days - 1)
    figures: dict = {"calls": calls_per_day, "days": days}
    if not (reuse_world and (root / "world" / "ground_truth.json").exists()):
        progress("simulate")
        simulated = run_phase([*ME, "simulate", str(root / "world"), first.isoformat(), str(days),
                               str(calls_per_day), str(seed)], SIMULATE_ENV)
        figures["seconds_simulate"] = round(simulated["seconds"], 3)
        figures["peak_rss_mib_simulate"] = round(simulated["peak_rss_mib"], 1)

    measured = [measure(root, first, threads, memory_limit, lambda name, i=i: progress(f"run {i + 1}: {name}"))
                for i in range(runs)]
    figures.update({k: v for k, v in measured[-1].items() if not isinstance(v, (int, float))})
    numbers = [k for k, v in measured[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    figures.update({k: _median([m[k] for m in measured]) for k in numbers})
    figures["per_asset_seconds"] = {step: _median([m["per_asset_seconds"].get(step, 0.0) for m in measured])
                                    for step in measured[0]["per_asset_seconds"]}
    figures["spread"] = {k: [min(m[k] for m in measured), max(m[k] for m in measured)] for k in numbers}
    figures["runs"] = measured
    figures["kept"] = str(root) if keep else None
    if keep:
        (root / "figures.json").write_text(json.dumps(figures, indent=1) + "\n")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return figures


def measure(root: Path, first: date, threads: int | None, memory_limit: str | None,
            progress: Callable[[str], None] = lambda name: None) -> dict:
    """One run on the world under `root`: the history reconciled (untimed) into an empty lake,
    then the timed day end to end, the floor and the per-call pricing sample, one after the other."""
    shutil.rmtree(root / "lake", ignore_errors=True)
    for stale in [root / "warehouse.duckdb", *root.glob("floor_*.parquet")]:
        stale.unlink(missing_ok=True)
    sources, lake, warehouse = root / "world" / "sources", root / "lake", root / "warehouse.duckdb"
    env = {"DARKCOMPUTE_DUCKDB_MEMORY_LIMIT": memory_limit or "", "DARKCOMPUTE_DUCKDB_THREADS": str(threads or ""),
           "DAGSTER_HOME": ""}
    reconcile = [sys.executable, "-m", "pipelines.cli", "reconcile", "--quiet", "--source", str(sources),
                 "--lake", str(lake), "--warehouse", str(warehouse)]
    if first < BENCH_DAY:  # history: every day before the measured one, untimed
        progress("history")
        run_phase(reconcile + ["--date", first.isoformat(), "--to", (BENCH_DAY - timedelta(days=1)).isoformat()], env)
    timings = root / "timings.json"
    progress("end to end")
    e2e = run_phase(reconcile + ["--date", BENCH_DAY.isoformat(), "--timings", str(timings)], env)
    progress("floor")
    flo = run_phase([*ME, "floor", str(sources), str(root), BENCH_DAY.isoformat(), str(threads or 0),
                     memory_limit or ""], env)
    progress("per-call pricing")
    peer_figures = json.loads(run_phase([*ME, "peer", str(lake), BENCH_DAY.isoformat(), str(PEER_SAMPLE)])["stdout"])
    per_call = peer_figures["seconds_per_call"]
    return {
        "seconds_end_to_end": round(e2e["seconds"], 3),
        "seconds_floor": round(flo["seconds"], 3),
        "ratio_to_floor": round(e2e["seconds"] / flo["seconds"], 3),
        "peak_rss_mib": round(e2e["peak_rss_mib"], 1),
        "peak_rss_mib_floor": round(flo["peak_rss_mib"], 1),
        "cpu_seconds_end_to_end": round(e2e["cpu_seconds"], 3),
        "cpu_seconds_floor": round(flo["cpu_seconds"], 3),
        "seconds_per_call_pricing": per_call,
        "seconds_pricing_extrapolated": round(per_call * peer_figures["logged_calls"], 3),
        "speedup_vs_per_call": round(per_call * peer_figures["logged_calls"] / e2e["seconds"], 2),
        "logged_calls": peer_figures["logged_calls"],
        "duckdb_threads": threads or os.cpu_count(),
        "memory_limit_mib": _mib(memory_limit),
        "per_asset_seconds": json.loads(timings.read_text()) if timings.exists() else {},
        "floor": json.loads(flo["stdout"]),
    }


def _median(values: list):
    """The median; of an even count, the lower middle one (a value some run measured)."""
    return sorted(values)[(len(values) - 1) // 2]


def _mib(limit: str | None) -> int | None:
    if not limit:
        return None
    text = limit.strip().upper().replace("IB", "B")
    units = {"KB": 1 / 1024, "MB": 1, "GB": 1024, "TB": 1024 * 1024}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(float(text) / (1024 * 1024))


def _child(argv: list[str]) -> None:
    """The child processes' entry points (`python -m pipelines.bench <phase> ...`)."""
    phase, *args = argv
    if phase == "simulate":
        from pipelines.simulate import simulate

        out, start, days, calls, seed = args
        simulate(Path(out), date.fromisoformat(start), int(days), calls_per_day=int(calls), seed=int(seed),
                 gzip_app_logs=True, max_log_file_bytes=LOG_FILE_BYTES)
        print("{}")
    elif phase == "floor":
        sources, out, day, threads, memory = args
        print(json.dumps(floor(Path(sources), Path(out), date.fromisoformat(day), int(threads) or None,
                               memory or None)))
    elif phase == "peer":
        lake, day, sample = args
        print(json.dumps(peer(Path(lake), date.fromisoformat(day), int(sample))))
    else:
        raise SystemExit(f"unknown phase {phase!r}")


if __name__ == "__main__":
    _child(sys.argv[1:])
