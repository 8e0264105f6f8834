"""`darkcompute bench` at a tiny size: the harness runs and reports every figure (no timing asserted);
the bounded-memory paths a bench takes (rotated, gzipped logs written in chunks; a day parsed in
batches) give exactly what the plain paths give."""

import gzip
import json
import re
from datetime import date
from pathlib import Path

import pytest

import pipelines.lib.lines as lines_module
from pipelines.cli import main
from pipelines.defs.logs.parse import parse_log_files
from pipelines.lib.store import SourceFile
from pipelines.simulate import logs, simulate

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

KEYS = ["calls", "seconds_end_to_end", "seconds_floor", "ratio_to_floor", "peak_rss_mib",
        "seconds_per_call_pricing", "speedup_vs_per_call", "duckdb_threads", "memory_limit_mib"]


def test_bench_prints_the_figures_as_a_final_json_line(tmp_path, capsys):
    assert main(["bench", "--calls-per-day", "400", "--keep", str(tmp_path / "bench"), "--memory-limit", "1GiB",
                 "--runs", "2"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(last)
    assert list(figures) == KEYS
    assert figures["calls"] == 400 and figures["memory_limit_mib"] == 1024
    assert all(figures[k] > 0 for k in KEYS if k != "calls")
    # the same files were measured: the floor read the day's logs, the reconciliation published the day
    assert (tmp_path / "bench" / "floor_jsonl_app_logs.parquet").exists()
    assert (tmp_path / "bench" / "warehouse.duckdb").exists()
    # two runs on one world: the printed figure is the lower median of the two, with both kept
    kept = json.loads((tmp_path / "bench" / "figures.json").read_text())
    runs = [r["seconds_end_to_end"] for r in kept["runs"]]
    assert len(runs) == 2 and figures["seconds_end_to_end"] == min(runs)
    assert kept["spread"]["seconds_end_to_end"] == [min(runs), max(runs)]
    assert {r["logged_calls"] for r in kept["runs"]} == {kept["logged_calls"]}  # the same day both times


def test_reusing_a_world_needs_the_folder_it_is_in(capsys):
    try:
        main(["bench", "--calls-per-day", "400", "--reuse-world"])
    except SystemExit as exc:
        assert "--reuse-world needs --keep" in str(exc)
    else:
        raise AssertionError("bench --reuse-world without --keep ran")


# ---------------------------------------------------------------- the bounded-memory paths bench worlds take
def _log_text(root: Path) -> dict[str, bytes]:
    """Every source file's text; log files rotated into parts are joined back under their base name."""
    out: dict[str, list[bytes]] = {}
    for p in sorted((root / "sources").rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(root / "sources").as_posix()
        data = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
        base = re.sub(r"(-\d{3})?\.jsonl(\.gz)?$", "", rel) if rel.startswith(("app_logs/", "worker_logs/")) else rel
        out.setdefault(base, []).append(data)
    return {k: b"".join(v) for k, v in out.items()}


def test_a_bench_world_writes_the_same_lines_gzipped_and_rotated(tmp_path, monkeypatch):
    simulate(tmp_path / "plain", date(2026, 6, 1), 2, 3000, 5)
    monkeypatch.setattr(logs, "CHUNK_ROWS", 700)  # several render chunks per day
    simulate(tmp_path / "bounded", date(2026, 6, 1), 2, 3000, 5, gzip_app_logs=True, max_log_file_bytes=150_000)
    plain, bounded = _log_text(tmp_path / "plain"), _log_text(tmp_path / "bounded")
    assert sorted(plain) == sorted(bounded)
    assert [k for k in plain if plain[k] != bounded[k]] == []
    assert (tmp_path / "plain" / "ground_truth.json").read_text() == (tmp_path / "bounded" / "ground_truth.json").read_text()
    parts = sorted(p.name for p in (tmp_path / "bounded" / "sources" / "app_logs" / "2026-06-01").iterdir())
    assert parts == [f"app-0{n}-00{k}.jsonl.gz" for n in (1, 2) for k in range(4)]
    for part in (tmp_path / "bounded" / "sources").rglob("*-0*.jsonl.gz"):  # a part starts below the bound
        lines = gzip.decompress(part.read_bytes()).splitlines(keepends=True)
        assert sum(map(len, lines[:-1])) < 150_000


def test_a_day_parsed_in_many_batches_equals_one_batch(monkeypatch):
    lines = [json.dumps({"timestamp": f"2026-06-01T00:00:0{i}Z", "gen_ai.provider.name": "openai",
                         "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 10 + i,
                         "gen_ai.usage.output_tokens": i, "request_id": f"r{i}"}) for i in range(6)]
    files = [SourceFile("app_logs/2026-06-01/app-02.jsonl", ("\n".join(lines[3:]) + "\n{bad\n").encode()),
             SourceFile("app_logs/2026-06-01/app-01.jsonl", ("\n".join(lines[:3]) + "\n\n").encode())]
    one = parse_log_files(files, log_source="app", folder_date=date(2026, 6, 1))
    monkeypatch.setattr(lines_module, "BATCH_BYTES", 1)  # one file per batch
    many = parse_log_files(files, log_source="app", folder_date=date(2026, 6, 1))
    assert many.records.equals(one.records) and many.rejects.equals(one.rejects) and many.files.equals(one.files)
    assert many.records.column("request_id").to_pylist() == ["r0", "r1", "r2", "r3", "r4", "r5"]
    assert [(r["file"], r["line"], r["reason"]) for r in many.rejects.to_pylist()] == [
        ("app_logs/2026-06-01/app-02.jsonl", 4, "invalid JSON (truncated or malformed line)")]
    assert [(r["file"], r["lines_read"], r["records"], r["skipped"], r["rejected"]) for r in many.files.to_pylist()] == [
        ("app_logs/2026-06-01/app-02.jsonl", 4, 3, 0, 1), ("app_logs/2026-06-01/app-01.jsonl", 4, 3, 1, 0)]
