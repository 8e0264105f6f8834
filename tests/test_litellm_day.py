"""Whole days with LiteLLM payloads and job-level aggregate records, reconciled to exact dollars.

Aggregate fixture (embeddings, 2026-11-02): the OpenAI Usage API billed project `proj_jobs`
1,000,000,000 `text-embedding-3-small` tokens over 500,010 requests, invoiced $20.00 (list
$0.02 per million: $0.00000002 a token). A worker logged one re-index job as a single record of
800,000,000 tokens for 500,000 requests, and one ordinary call of 1,000 tokens:
    embedding_reindex  800,000,000 x $0.00000002 = $16.00, 500,000 calls
    search_index             1,000 x $0.00000002 = $0.00002, 1 call
    unlogged           199,999,000 x $0.00000002 = $3.99998, 500,010 - 500,001 = 9 requests

LiteLLM fixture (chat, 2026-11-02): `gpt-4o-mini-2024-07-18` on `proj_a`: 10,000 input tokens
(2,000 cached), 3,000 output, 5 requests, invoiced $0.00096 uncached (8,000), $0.00012 cached,
$0.00144 output: $0.00000012, $0.00000006 and $0.00000048 a token. The proxy logged:
    team `proj_a`, tag feature:chat: 4,000 prompt (2,000 cached), 1,000 completion -> user
        2,000 x 0.00000012 + 2,000 x 0.00000006 + 1,000 x 0.00000048 = $0.00084
    team `growth`, tags job_type:nightly_digest and billing.account:proj_a: 3,000 prompt, 1,000
        completion -> background nightly_digest: 3,000 x 0.00000012 + 1,000 x 0.00000048 = $0.00084
    an Azure deployment's call (rejected: not an invoice we read) and a payload with a negative
    count (rejected)
    unlogged: 3,000 uncached + 1,000 output = $0.00084, 3 requests
The gateway estimated $0.00105 and $0.00093 for the two calls it priced ($0.00198 in bronze).
"""

from __future__ import annotations

import gzip
import io
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from pipelines.defs.logs.parse import parse_log_files
from pipelines.defs.openai.parse import parse_cost_pages, parse_usage_pages
from pipelines.defs.reconcile.model import reconcile_day
from pipelines.lib import sql
from pipelines.lib.lake import Lake
from pipelines.lib.store import SourceFile

from .fixtures import DAY, cost_page, usage_page
from .litellm_payloads import MARKER, payload

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

D = Decimal
RECONCILED_AT = datetime(2026, 11, 4, 4, 0, tzinfo=timezone.utc)
EMBED = "text-embedding-3-small"
CHAT = "gpt-4o-mini-2024-07-18"


def _write(lake_dir: Path, day: date, *, usage: dict[str, list[str]], costs: list[str],
           app: list[str] = (), worker: list[str] = (), **limits) -> Lake:
    lake = Lake(lake_dir)
    folder = day.isoformat()
    usage_files = [SourceFile(f"openai/usage/{endpoint}/{folder}/p{i}.json", p.encode())
                   for endpoint, pages in usage.items() for i, p in enumerate(pages)]
    parsed = {
        "openai_usage": parse_usage_pages([f for f in usage_files if "/completions/" in f.key],
                                          endpoint="completions", folder_date=day),
        "openai_costs": parse_cost_pages([SourceFile(f"openai/costs/{folder}/p{i}.json", p.encode())
                                          for i, p in enumerate(costs)], folder_date=day),
        "app_calls": parse_log_files([SourceFile(f"app_logs/{folder}/proxy.jsonl", ("\n".join(app) + "\n").encode())]
                                     if app else [], log_source="app", folder_date=day),
        "worker_calls": parse_log_files([SourceFile(f"worker_logs/{folder}/w.jsonl",
                                                    ("\n".join(worker) + "\n").encode())] if worker else [],
                                        log_source="worker", folder_date=day, **limits),
    }
    embeddings = parse_usage_pages([f for f in usage_files if "/embeddings/" in f.key], endpoint="embeddings",
                                   folder_date=day)
    parsed["openai_usage"].records = pa.concat_tables([parsed["openai_usage"].records, embeddings.records])
    for table, ingested in parsed.items():
        lake.write("bronze", table, day, ingested.records)
        lake.write("bronze", f"{table}_files", day, ingested.files)
        lake.write("bronze", f"{table}_rejects", day, ingested.rejects)
    return lake


def rows(table, columns):
    return [tuple(r[c] for c in columns) for r in table.to_pylist()]


# ---------------------------------------------------------------------------------------------
# a job's usage on one line


EMBED_USAGE = usage_page(DAY, [{"input_tokens": 1_000_000_000, "num_model_requests": 500_010,
                                "project_id": "proj_jobs", "model": EMBED}], endpoint="embeddings")
EMBED_COSTS = cost_page(DAY, [(f"{EMBED}, input", "proj_jobs", "20.00")])


def embedding_line(tokens: int, job_type: str, **fields) -> str:
    return json.dumps({"timestamp": "2026-11-02T03:00:00Z", "gen_ai.provider.name": "openai",
                       "gen_ai.operation.name": "embeddings", "gen_ai.request.model": EMBED,
                       "gen_ai.usage.input_tokens": tokens, "gen_ai.usage.output_tokens": 0,
                       "billing.account": "proj_jobs", "job_type": job_type, **fields})


def test_a_reindex_jobs_800_million_tokens_on_one_line_count_under_its_job_type(tmp_path):
    worker = [embedding_line(800_000_000, "embedding_reindex", request_count=500_000, job_id="reindex-1"),
              embedding_line(1_000, "search_index")]
    lake = _write(tmp_path / "lake", DAY, usage={"embeddings": [EMBED_USAGE]}, costs=[EMBED_COSTS], worker=worker)
    out = reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)
    recon = [r for r in out["fct_spend_reconciliation"].to_pylist() if r["model"] == EMBED]
    assert [(r["invoice_cost_usd"], r["user_cost_usd"], r["background_cost_usd"], r["unlogged_cost_usd"],
             r["provider_requests"], r["logged_calls"]) for r in recon] == [
        (D("20.00"), 0, D("16.00002"), D("3.99998"), 500_010, 500_001)]
    assert rows(out["fct_dark_compute"], ["dark_class", "job_type", "calls", "uncached_input_tokens", "cost_usd"]) == [
        ("background", "embedding_reindex", 500_000, 800_000_000, D("16.00")),
        ("background", "search_index", 1, 1_000, D("0.00002")),
        ("unlogged", "__unlogged__", 9, 199_999_000, D("3.99998")),
    ]


def test_the_same_job_over_the_limit_is_rejected_naming_the_setting(tmp_path):
    worker = [embedding_line(800_000_000, "embedding_reindex", request_count=500_000), embedding_line(1_000, "x")]
    lake = _write(tmp_path / "lake", DAY, usage={"embeddings": [EMBED_USAGE]}, costs=[EMBED_COSTS], worker=worker,
                  max_record_tokens=500_000_000)
    rejects = pq.read_table(lake.partition_file("bronze", "worker_calls_rejects", DAY)).to_pylist()
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (1, "count above 500000000 in one record, more than any day could hold (DARKCOMPUTE_MAX_RECORD_TOKENS)")]


# ---------------------------------------------------------------------------------------------
# a LiteLLM proxy's day


CHAT_USAGE = usage_page(DAY, [{"input_tokens": 10_000, "input_cached_tokens": 2_000, "output_tokens": 3_000,
                               "num_model_requests": 5, "project_id": "proj_a", "model": CHAT}])
CHAT_COSTS = cost_page(DAY, [(f"{CHAT}, input", "proj_a", "0.00096"), (f"{CHAT}, cached input", "proj_a", "0.00012"),
                             (f"{CHAT}, output", "proj_a", "0.00144")])
PROXY = [
    payload(provider="openai", model="gpt-4o-mini", call_id="chatcmpl-a1", team_alias="proj_a", tags=["feature:chat"],
            prompt_tokens=4_000, cache_read=2_000, cache_creation=None, details_only=True, completion_tokens=1_000,
            cost="0.00105"),
    payload(provider="openai", model="gpt-4o-mini", call_id="chatcmpl-b2", team_alias="growth",
            tags=["job_type:nightly_digest", "billing.account:proj_a"], prompt_tokens=3_000, cache_read=0,
            cache_creation=None, details_only=True, completion_tokens=1_000, cost="0.00093", start="2026-11-02T02:00:00Z"),
    payload(provider="azure", model="gpt-4o-mini", call_id="chatcmpl-az", team_alias="proj_a"),
    payload(provider="openai", model="gpt-4o-mini", call_id="chatcmpl-neg", team_alias="proj_a", completion_tokens=-1),
]


def test_a_litellm_day_is_attributed_by_team_and_tags_to_exact_dollars(tmp_path):
    lake = _write(tmp_path / "lake", DAY, usage={"completions": [CHAT_USAGE]}, costs=[CHAT_COSTS], app=PROXY)
    out = reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)
    assert rows(out["fct_spend_reconciliation"], [
        "billing_account", "model", "invoice_cost_usd", "user_cost_usd", "background_cost_usd", "retry_cost_usd",
        "unlogged_cost_usd", "provider_requests", "logged_calls", "status"]) == [
        ("proj_a", CHAT, D("0.00252"), D("0.00084"), D("0.00084"), 0, D("0.00084"), 5, 2, "final")]
    assert rows(out["fct_dark_compute"], ["dark_class", "job_type", "calls", "cost_usd"]) == [
        ("background", "nightly_digest", 1, D("0.00084")), ("unlogged", "__unlogged__", 3, D("0.00084"))]
    bronze = pq.read_table(lake.partition_file("bronze", "app_calls", DAY)).to_pylist()
    assert [(r["response_id"], r["feature"], r["job_type"], r["gateway_cost_usd"]) for r in bronze] == [
        ("chatcmpl-a1", "chat", None, D("0.00105")), ("chatcmpl-b2", "search-backend", "nightly_digest", D("0.00093"))]
    assert sum(r["gateway_cost_usd"] for r in bronze) == D("0.00198")
    rejects = pq.read_table(lake.partition_file("bronze", "app_calls_rejects", DAY)).to_pylist()
    assert [(r["line"], r["reason"]) for r in rejects] == [(3, "unknown provider: azure"), (4, "negative token count")]


# ---------------------------------------------------------------------------------------------
# the whole run: the prompt and completion text land nowhere


def _text_of(path: Path) -> bytes:
    """A file's bytes, plus its decompressed content where it is compressed (gzip, Parquet,
    DuckDB)."""
    data = path.read_bytes()
    out = [data]
    if data[:2] == b"\x1f\x8b":
        out.append(gzip.decompress(data))
    if data[:4] == b"PAR1":
        out.append(json.dumps(pq.read_table(io.BytesIO(data)).to_pylist(), default=str).encode())
    if path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        for (name,) in con.execute("select table_name from information_schema.tables").fetchall():
            out.append(json.dumps(con.execute(f'select * from "{name}"').fetchall(), default=str).encode())
        con.close()
    return b"\n".join(out)


def test_no_file_darkcompute_or_dagster_writes_holds_the_prompt_or_the_completion(tmp_path, monkeypatch, capfd):
    sources = tmp_path / "sources"
    for rel, text in {f"openai/usage/completions/{DAY}/page-001.json": CHAT_USAGE,
                      f"openai/costs/{DAY}/page-001.json": CHAT_COSTS,
                      f"app_logs/{DAY}/litellm-proxy.jsonl": "\n".join(PROXY) + "\n"}.items():
        (sources / rel).parent.mkdir(parents=True, exist_ok=True)
        (sources / rel).write_text(text)
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DARKCOMPUTE_LANDING_DIR", str(tmp_path / "landing"))
    code = main(["reconcile", "--date", str(DAY), "--source", str(sources), "--lake", str(tmp_path / "lake"),
                 "--warehouse", str(tmp_path / "warehouse.duckdb")])
    captured = capfd.readouterr()
    assert code == 0, captured.err
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute("select sum(background_cost_usd), sum(user_cost_usd) from fct_spend_reconciliation "
                       "where model <> '__non_token__'").fetchone() == (D("0.00084"), D("0.00084"))
    assert con.execute("select count(*) from rejected_records where source = 'app_logs'").fetchone() == (2,)
    con.close()

    assert MARKER.encode() in _text_of(sources / f"app_logs/{DAY}/litellm-proxy.jsonl")  # the search finds it
    written = [p for p in tmp_path.rglob("*") if p.is_file() and sources not in p.parents]
    assert any(p.suffix == ".parquet" for p in written) and any(home in p.parents for p in written)
    holding = [str(p) for p in written if MARKER.encode() in _text_of(p)]
    assert holding == []
    assert MARKER not in captured.out + captured.err


# ---------------------------------------------------------------------------------------------
# a file of JSON lines that no rule recognizes


def test_an_unrecognized_file_has_its_own_status_and_a_warning_naming_it(tmp_path):
    from pipelines.definitions import defs

    from .test_dagster import materialize, write_sources

    definitions = defs()
    write_sources(tmp_path / "sources")
    other = tmp_path / "sources" / f"worker_logs/{DAY}/gateway-x.jsonl"
    other.write_text("".join(json.dumps({"request": {"model": "gpt-4o-mini"}, "usage_usd": 0.5, "who": f"{MARKER}"})
                             + "\n" for _ in range(3)))
    materialize(definitions, tmp_path, ["openai_usage", "openai_costs", "app_calls", "worker_calls"])
    result = materialize(definitions, tmp_path, dg.AssetSelection.assets("source_status")
                         | dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey("source_status"),
                                                                     "no_unrecognized_files")))
    status = pq.read_table(Lake(tmp_path / "lake").partition_file("marts", "source_status", DAY))
    assert rows(status.filter(pa.compute.equal(status["source"], "worker_logs")),
                ["file", "status", "files", "lines_read", "records", "sample_keys"]) == [
        (None, "ok", 2, 5, 1, None),
        (f"worker_logs/{DAY}/gateway-x.jsonl", "unrecognized", 1, 3, 0, "request, usage_usd, who")]
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.description == f"unrecognized: worker_logs/{DAY}/gateway-x.jsonl"
    assert evaluation.metadata["unrecognized_files"].value == 1
    assert MARKER not in json.dumps(status.to_pylist(), default=str)


def test_a_source_of_only_unrecognized_files_is_unrecognized_not_empty(tmp_path):
    lake = Lake(tmp_path / "lake")
    ingested = parse_log_files([SourceFile(f"app_logs/{DAY}/x.jsonl", b'{"a": 1}\n{"a": 2, "b": 3}\n')],
                               log_source="app", folder_date=DAY)
    lake.write("bronze", "app_calls_files", DAY, ingested.files)
    path = str(lake.partition_file("bronze", "app_calls_files", DAY))
    table = sql.table(sql.connect(), "ingest/source_status", day_files=[path], recent_files=[path], delivered=True,
                      delivery_date=DAY)
    assert rows(table, ["source", "file", "status", "lines_read", "sample_keys"]) == [
        ("app_logs", None, "unrecognized", 2, None), ("app_logs", f"app_logs/{DAY}/x.jsonl", "unrecognized", 2, "a, b")]


def test_a_warehouse_made_before_these_columns_takes_a_new_day(tmp_path):
    """ingest_files.unrecognized/sample_keys and source_status.file/sample_keys are added to an
    existing warehouse's tables, not refused by `insert by name`."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create table source_status (delivery_date date, source varchar, status varchar, files bigint, "
                "lines_read bigint, records bigint, rejected bigint, date date)")  # date: the lake's hive partition
    con.execute("create table ingest_files (delivery_date date, source varchar, file varchar, sha256 varchar, "
                "bytes bigint, lines_read bigint, records bigint, skipped bigint, rejected bigint, date date)")
    ingested = parse_log_files([SourceFile(f"app_logs/{DAY}/x.jsonl", b'{"a": 1}\n{"a": 2, "b": 3}\n')],
                               log_source="app", folder_date=DAY)
    lake = Lake(tmp_path / "lake")
    lake.write("bronze", "app_calls_files", DAY, ingested.files)
    files = str(lake.partition_file("bronze", "app_calls_files", DAY))
    lake.write("marts", "source_status", DAY, sql.table(con, "ingest/source_status", day_files=[files],
                                                        recent_files=[files], delivered=True, delivery_date=DAY))
    sql.run_script(con, "publish/source_status", path=str(lake.partition_file("marts", "source_status", DAY)),
                   delivery_date=DAY)
    sql.run_script(con, "publish/ingest_files", paths=[files], delivery_date=DAY)
    assert con.execute("select file, status, sample_keys from source_status order by file nulls first").fetchall() == [
        (None, "unrecognized", None), (f"app_logs/{DAY}/x.jsonl", "unrecognized", "a, b")]
    assert con.execute("select unrecognized, sample_keys from ingest_files").fetchall() == [(2, "a, b")]


def test_a_call_both_the_proxy_and_a_worker_logged_counts_once_under_the_worker(tmp_path):
    worker = [json.dumps({"timestamp": "2026-11-02T02:00:00Z", "gen_ai.provider.name": "openai",
                          "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.id": "chatcmpl-b2",
                          "gen_ai.usage.input_tokens": 3_000, "gen_ai.usage.output_tokens": 1_000,
                          "billing.account": "proj_a", "job_type": "digest_worker"})]
    lake = _write(tmp_path / "lake", DAY, usage={"completions": [CHAT_USAGE]}, costs=[CHAT_COSTS], app=PROXY,
                  worker=worker)
    out = reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)
    assert rows(out["fct_dark_compute"], ["dark_class", "job_type", "calls", "cost_usd"]) == [
        ("background", "digest_worker", 1, D("0.00084")), ("unlogged", "__unlogged__", 3, D("0.00084"))]
