"""`darkcompute bench` at a tiny size: the harness runs and reports every figure (no timing asserted)."""

import json

from pipelines.cli import main

KEYS = ["calls", "seconds_end_to_end", "seconds_floor", "ratio_to_floor", "peak_rss_mib",
        "seconds_per_call_pricing", "speedup_vs_per_call", "duckdb_threads", "memory_limit_mib"]


def test_bench_prints_the_figures_as_a_final_json_line(tmp_path, capsys):
    assert main(["bench", "--calls-per-day", "400", "--keep", str(tmp_path / "bench"), "--memory-limit", "1GiB"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(last)
    assert list(figures) == KEYS
    assert figures["calls"] == 400 and figures["memory_limit_mib"] == 1024
    assert all(figures[k] > 0 for k in KEYS if k != "calls")
    # the same files were measured: the floor read the day's logs, the reconciliation published the day
    assert (tmp_path / "bench" / "floor_jsonl.parquet").exists()
    assert (tmp_path / "bench" / "warehouse.duckdb").exists()
