"""`python -m pipelines.bench_huge_line [--mb 350] [--calls 2000] [--gzip]`: peak memory of the
nightly reconciliation of a day whose app logs hold one line of garbage of `--mb` MiB (with
`--gzip`, in a gzipped file of about 1/1000 of that: a "gzip bomb").

A small world is simulated (untimed), one log file of the measured day gets an extra line of
`--mb` MiB of `A`, and `darkcompute reconcile` runs for that day in a child process with the
benchmark's DuckDB settings (`pipelines.bench`), as it does without the line. Printed: the
peak resident memory of each (the kernel's high-water mark, from `wait4`) and the line's
rejected row. The target is 2 GiB for the whole process.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

from pipelines.bench import BENCH_DAY, ME, SIMULATE_ENV, run_phase

MIB = 1024 * 1024


def measure(mb: int, calls: int, memory_limit: str = "1536MiB", packed: bool = False) -> dict:
    root = Path(tempfile.mkdtemp(prefix="darkcompute-huge-line-"))
    try:
        run_phase([*ME, "simulate", str(root / "world"), BENCH_DAY.isoformat(), "1", str(calls), "11"], SIMULATE_ENV)
        sources = root / "world" / "sources"
        env = {"DARKCOMPUTE_DUCKDB_MEMORY_LIMIT": memory_limit, "DAGSTER_HOME": ""}

        def reconcile(name: str) -> dict:
            argv = [sys.executable, "-m", "pipelines.cli", "reconcile", "--quiet", "--source", str(sources),
                    "--lake", str(root / name / "lake"), "--warehouse", str(root / name / "warehouse.duckdb"),
                    "--date", BENCH_DAY.isoformat()]
            return run_phase(argv, env)

        clean = reconcile("clean")
        target = sources / "app_logs" / BENCH_DAY.isoformat() / ("app-huge.jsonl.gz" if packed else "app-huge.jsonl")
        with (gzip.open(target, "wb", compresslevel=9) if packed else open(target, "wb")) as f:
            for _ in range(mb):
                f.write(b"A" * MIB)
            f.write(b"\n")
        huge = reconcile("huge")
        rejected = duckdb.sql(
            f"select file, line, reason, raw from '{root}/huge/lake/bronze/app_calls_rejects/*/*.parquet' "
            "where file like '%app-huge%'").fetchall()
        return {
            "line_mib": mb,
            "file_bytes": target.stat().st_size,
            "calls": calls,
            "peak_rss_mib_without": round(clean["peak_rss_mib"], 1),
            "peak_rss_mib_with": round(huge["peak_rss_mib"], 1),
            "seconds_without": round(clean["seconds"], 2),
            "seconds_with": round(huge["seconds"], 2),
            "rejected": [list(r) for r in rejected],
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench_huge_line", description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=350, help="the garbage line's size in MiB")
    parser.add_argument("--calls", type=int, default=2000, help="calls in the simulated day")
    parser.add_argument("--gzip", action="store_true", help="write the line gzipped (a few KiB per MiB)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.mb, args.calls, packed=args.gzip), indent=1))


if __name__ == "__main__":
    main()
