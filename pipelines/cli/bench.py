"""`darkcompute bench`: one simulated day timed end to end."""

from __future__ import annotations

import json

from rich.table import Table

from pipelines.cli.output import console
from pipelines.cli.progress import Steps


def benchmark(args) -> int:
    from pipelines.bench import bench

    if args.reuse_world and not args.keep:
        raise SystemExit("darkcompute bench: --reuse-world needs --keep DIR (the folder holding the world)")
    phases = (0 if args.reuse_world else 1) + args.runs * (3 + (args.days > 1))  # simulate; history, e2e, floor, pricing
    with Steps("benchmarking", phases) as steps:
        running: list[str] = []

        def progress(name: str) -> None:
            if running:
                steps.done(running.pop())
            steps.next(name)
            running.append(name)

        figures = bench(args.calls_per_day, days=args.days, keep=args.keep, threads=args.threads,
                        memory_limit=args.memory_limit, seed=args.seed, reuse_world=args.reuse_world, runs=args.runs,
                        progress=progress)
        if running:
            steps.done(running.pop())
    runs = len(figures["runs"])
    table = Table(title=f"one day of {figures['calls']:,} calls (after {figures['days'] - 1} days of history)"
                        + (f", median of {runs} runs (min-max)" if runs > 1 else ""), title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("end to end, seconds", figures["seconds_end_to_end"]),
        ("DuckDB floor (raw files -> Parquet), seconds", figures["seconds_floor"]),
        ("ratio to floor", figures["ratio_to_floor"]),
        ("peak RSS end to end, MiB", figures["peak_rss_mib"]),
        ("peak RSS floor, MiB", figures["peak_rss_mib_floor"]),
        ("per-call pricing, seconds per call", f"{figures['seconds_per_call_pricing']:.2e}"),
        (f"per-call pricing of {figures['logged_calls']:,} logged calls, seconds", figures["seconds_pricing_extrapolated"]),
        ("speed-up vs per-call pricing", figures["speedup_vs_per_call"]),
        ("DuckDB threads / memory limit MiB", f"{figures['duckdb_threads']} / {figures['memory_limit_mib']}"),
    ] + [(f"  step {step}, seconds", value) for step, value in figures["per_asset_seconds"].items()]
    spread = {"end to end, seconds": "seconds_end_to_end", "DuckDB floor (raw files -> Parquet), seconds": "seconds_floor",
              "ratio to floor": "ratio_to_floor", "peak RSS end to end, MiB": "peak_rss_mib",
              "speed-up vs per-call pricing": "speedup_vs_per_call"}
    for name, value in rows:
        low, high = figures["spread"].get(spread.get(name), [None, None])
        table.add_row(name, f"{value} ({low}-{high})" if runs > 1 and low is not None else str(value))
    console.print(table)
    keys = ("calls", "seconds_end_to_end", "seconds_floor", "ratio_to_floor", "peak_rss_mib",
            "seconds_per_call_pricing", "speedup_vs_per_call", "duckdb_threads", "memory_limit_mib")
    print(json.dumps({k: figures[k] for k in keys}))
    return 0
