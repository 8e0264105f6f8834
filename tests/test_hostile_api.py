"""Hostile answers from the providers' Admin APIs, and the missing money they would hide.

Leaked secrets: an error body whose key crosses the 300-byte cut, a 200 page echoing the request
headers, the key URL-, JSON- or base64-encoded; after a real `darkcompute reconcile` against
`tests/apiserver.py`, neither key nor key-minus-its-last-character is anywhere on disk (lake,
landing, warehouse, DAGSTER_HOME's run and event storage and compute logs) or in the output.

Missing money: an empty pull (a key for the wrong organization) replaces no export with results;
a provider whose logs show calls while its invoice is $0 fails a blocking check; coverage is
checked per provider, not pooled.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse
from contextlib import closing
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from pipelines.defs.anthropic.pull import AnthropicAdminAPI, anthropic_api_pages, anthropic_client, pull_anthropic_day
from pipelines.defs.openai.pull import OpenAIAdminAPI, openai_api_pages, openai_client, pull_openai_day
from pipelines.defs.reconcile import checks
from pipelines.lib import sql
from pipelines.lib.http import ApiError, holds_secret, redact

from .apiserver import DATASET, ApiServer

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "tests" / "data" / "openai_world" / "sources"
DAY = date(2026, 11, 2)
OPENAI_SECRET = "sk-admin-TESTSECRET-openai-9f3b7c1d5e2a40866b1c"
ANTHROPIC_SECRET = "sk-ant-admin01-TESTSECRET-anthropic-4c7e1a9b2d3f"
COMPLETIONS = "/v1/organization/usage/completions"
MESSAGES = "/v1/organizations/usage_report/messages"
OPENAI_QUERY = ("start_time=1793577600&end_time=1793664000&bucket_width=1d&group_by=project_id&group_by=model"
                "&group_by=batch&group_by=service_tier&limit=1")


@pytest.fixture
def server():
    api = ApiServer(dataset=DATASET, openai_key=OPENAI_SECRET, anthropic_key=ANTHROPIC_SECRET).start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def empty_server():
    """An API that answers every listing with valid pages holding no result (a key for another
    organization gets exactly this)."""
    api = ApiServer(dataset={}, openai_key=OPENAI_SECRET, anthropic_key=ANTHROPIC_SECRET).start()
    try:
        yield api
    finally:
        api.stop()


def error_body_across_the_cut(key: str) -> tuple[bytes, str]:
    """A 400 body whose copy of the key starts at byte 290 (so byte 300 falls inside it), and the
    message detail the client must give: the body redacted whole, then cut at 300 characters."""
    head = '{"error": {"type": "invalid_request_error", "message": "unsupported parameter '
    tail = '; request had Authorization: Bearer '
    head += "." * (290 - len(head) - len(tail)) + tail
    assert len(head) == 290
    body = head + key + '", "param": null}}'
    return body.encode(), (head + "[redacted]" + '", "param": null}}')[:300]


def everything_as_text(root: Path) -> str:
    """Every file under `root` as text a grep can search: Parquet and DuckDB files by their
    values (their pages are compressed), SQLite by a dump (a long value spans overflow pages),
    gzip decompressed; and every file as its bytes too."""
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".parquet":
            out.append(repr(pq.read_table(path).to_pylist()))
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                for (table,) in con.sql("select table_name from information_schema.tables").fetchall():
                    out.append(repr(con.sql(f'select * from "{table}"').fetchall()))
        elif data[:16] == b"SQLite format 3\x00":  # Dagster's run and event storage: a long text spans pages
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
                out.extend(con.iterdump())
        elif data[:2] == b"\x1f\x8b":
            out.append(gzip.decompress(data).decode("utf-8", "replace"))
        out.append(data.decode("utf-8", "replace"))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# secrets


def test_the_key_is_found_and_redacted_in_its_obvious_encodings():
    key = "sk-admin-TESTSECRET/with+odd=chars_0123456789"
    forms = {
        "as is": f"Authorization: Bearer {key}",
        "url-encoded": "u=" + urllib.parse.quote(key, safe=""),
        "url-encoded, lower-case hex": "u=" + re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(),
                                                     urllib.parse.quote(key, safe="")),
        "form-encoded": urllib.parse.urlencode({"key": key}),
        "json \\/": json.dumps({"k": key}).replace("/", "\\/"),
        "basic auth": "Authorization: Basic " + base64.b64encode(f"admin:{key}".encode()).decode(),
        "basic auth, url-safe": base64.urlsafe_b64encode(f"ab:{key}".encode()).decode(),
    }
    for name, text in forms.items():
        assert holds_secret(text.encode(), [key]), name
        assert "[redacted]" in redact(text, [key]) and key[:-1] not in redact(text, [key]), name
    escaped = '{"echo": "' + "".join(f"\\u{ord(c):04x}" for c in key) + '"}'  # every character \u-escaped
    assert holds_secret(escaped.encode(), [key])
    assert not holds_secret(b'{"data": [], "has_more": false}', [key])
    assert not holds_secret(key[:-1].encode(), [key])  # a shorter string is not the key


def test_an_error_body_with_the_key_across_the_cut_leaves_no_piece_of_it(server, tmp_path):
    body, detail = error_body_across_the_cut(OPENAI_SECRET)
    server.fail(COMPLETIONS, 400, body=body)

    with pytest.raises(ApiError) as failure:
        pull_openai_day(openai_client(OPENAI_SECRET, server.url), DAY, tmp_path)

    assert str(failure.value) == f"GET {server.url}{COMPLETIONS}?{OPENAI_QUERY}: HTTP 400 Bad Request: {detail}"
    assert str(failure.value).endswith("; request had Authorization: Bearer [redacted]")  # 290 + 10 characters
    assert OPENAI_SECRET[:-1] not in str(failure.value) and OPENAI_SECRET[:12] not in str(failure.value)
    assert list(tmp_path.iterdir()) == []


def test_a_page_echoing_the_request_headers_is_never_landed(server, tmp_path):
    root = tmp_path / "landing"
    before = pull_openai_day(openai_client(OPENAI_SECRET, server.url), DAY, root)
    landed = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}
    server.echo_headers(COMPLETIONS)
    server.echo_headers(MESSAGES)

    with pytest.raises(ApiError) as openai_failure:
        pull_openai_day(openai_client(OPENAI_SECRET, server.url), DAY, root)
    with pytest.raises(ApiError) as anthropic_failure:
        pull_anthropic_day(anthropic_client(ANTHROPIC_SECRET, server.url), DAY, root)

    advice = ("the response contains the admin key (or an encoding of it), so it was not written anywhere. The "
              "server echoes the request's credentials: check that the API URL points at the provider itself and "
              "not at a proxy or test server that echoes requests, and rotate the key if this response may have "
              "been stored or logged elsewhere.")
    assert str(openai_failure.value) == f"GET {server.url}{COMPLETIONS}?{OPENAI_QUERY}: {advice}"
    assert str(anthropic_failure.value) == (
        f"GET {server.url}{MESSAGES}?{server.requests_to(MESSAGES)[0].query}: {advice}")
    # the echoed pages were served (the key in them) and refused before any write
    echoed = [s for s in server.served if b"request_headers" in s.body]
    assert len(echoed) == 2 and OPENAI_SECRET.encode() in echoed[0].body and ANTHROPIC_SECRET.encode() in echoed[1].body
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()} == landed
    assert len(before) == 6
    text = everything_as_text(tmp_path)
    for key in (OPENAI_SECRET, ANTHROPIC_SECRET):
        assert key[:-1] not in text


def test_a_real_reconcile_with_leaking_answers_leaves_no_key_anywhere(server, tmp_path):
    """`darkcompute reconcile` as a subprocess, with both keys set: on 2026-11-01 the OpenAI API
    answers a 400 whose body holds the key across byte 300, and the Anthropic API a 200 page
    echoing the request headers. Those days fail loudly; 2026-11-03 is reconciled from real
    pulls. Then everything written and printed is searched for each key and each key without
    its last character."""
    body, _ = error_body_across_the_cut(OPENAI_SECRET)
    server.fail(COMPLETIONS, 400, body=body)  # the first request: 2026-11-01's pull
    server.echo_headers(MESSAGES)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "OPENAI_ADMIN_KEY": OPENAI_SECRET,
           "ANTHROPIC_ADMIN_KEY": ANTHROPIC_SECRET, "DARKCOMPUTE_OPENAI_API_URL": server.url,
           "DARKCOMPUTE_ANTHROPIC_API_URL": server.url}
    env.pop("DARKCOMPUTE_LANDING_DIR", None)  # the landing zone is the lake's: <lake>/landing
    command = [sys.executable, "-m", "pipelines.cli", "reconcile", "--date", "2026-11-02", "--to", "2026-11-03",
               "--source", str(SAMPLES), "--lake", str(tmp_path / "lake"), "--warehouse", str(tmp_path / "w.duckdb")]

    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=600)

    assert done.returncode == 1
    stderr = done.stderr.decode()
    assert f"2026-11-01: step openai_api_pages failed: pipelines.lib.http.ApiError: GET {server.url}{COMPLETIONS}" in stderr
    assert "HTTP 400 Bad Request: " in stderr and "Bearer [redacted]" in stderr
    assert "2026-11-01: step anthropic_api_pages failed: pipelines.lib.http.ApiError: GET " in stderr
    assert "the response contains the admin key (or an encoding of it), so it was not written anywhere" in stderr
    assert "2026-11-02: not reconciled: the ingest of 2026-11-01 failed" in stderr
    # 2026-11-03 went through on pulled pages: Anthropic's next-day cost bucket ($10.00 of input)
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.sql("select usage_date, provider, sum(invoice_cost_usd) from fct_spend_reconciliation "
                       "group by all order by all").fetchall() == [
            (date(2026, 11, 3), "anthropic", Decimal("10.000000000000")),
            (date(2026, 11, 3), "openai", Decimal("5.994083540000")),
        ]
    landed = sorted(p.relative_to(tmp_path / "lake" / "landing" / "api").as_posix()
                    for p in (tmp_path / "lake" / "landing" / "api").rglob("page-*.json"))
    assert [f for f in landed if "2026-11-01" in f] == []  # neither provider landed the failing day
    assert "anthropic/usage_report/2026-11-02/page-001.json" in landed
    # the searched places are the real ones: run storage, event storage, compute logs
    assert (home / "history" / "runs.db").exists() and list((home / "storage").rglob("*.err"))
    written = everything_as_text(tmp_path)
    assert "Bearer [redacted]" in written  # the redacted message reached Dagster's event storage
    for key in (OPENAI_SECRET, ANTHROPIC_SECRET):
        for piece in (key, key[:-1]):
            assert piece not in written
            assert piece not in done.stdout.decode() + stderr


# ---------------------------------------------------------------------------------------------
# missing money: empty pulls, a $0 invoice under logged calls, coverage per provider


def with_keys(monkeypatch, api: ApiServer) -> None:
    monkeypatch.setenv("OPENAI_ADMIN_KEY", OPENAI_SECRET)
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", ANTHROPIC_SECRET)
    monkeypatch.setenv("DARKCOMPUTE_OPENAI_API_URL", api.url)
    monkeypatch.setenv("DARKCOMPUTE_ANTHROPIC_API_URL", api.url)
    monkeypatch.setenv("DAGSTER_HOME", "")  # an ephemeral instance
    monkeypatch.delenv("DARKCOMPUTE_LANDING_DIR", raising=False)


def reconcile_day(source: Path, tmp_path: Path, day: str = "2026-11-02") -> int:
    return main(["reconcile", "--date", day, "--source", str(source), "--lake", str(tmp_path / "lake"),
                 "--warehouse", str(tmp_path / "w.duckdb"), "--quiet", "--as-of", "2026-11-20T04:00:00Z"])


def invoices(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql("select usage_date, provider, sum(invoice_cost_usd), sum(logged_calls), "
                       "string_agg(distinct status) from fct_spend_reconciliation group by all order by all").fetchall()


def test_an_empty_pull_never_replaces_the_source_roots_export(empty_server, tmp_path, monkeypatch):
    with_keys(monkeypatch, empty_server)

    assert reconcile_day(SAMPLES, tmp_path) == 0

    # the samples' own OpenAI export for the day, as `make demo` reconciles it; not $0
    assert invoices(tmp_path / "w.duckdb") == [(DAY, "openai", Decimal("6.509199690000"), 1403, "final")]
    # the empty pages did land (the provider's statement, with its count of results), but are not read
    manifest = json.loads((tmp_path / "lake/landing/api/openai/costs/2026-11-02/.manifest.json").read_text())
    assert manifest["results"] == 0 and len(manifest["pages"]) == 1
    assert len(empty_server.received) == 3 * (3 + 2)  # three days, five listings, one empty page each


def materialize_pulls(landing: Path):
    instance = dg.DagsterInstance.ephemeral()
    resources = {"openai_admin": OpenAIAdminAPI.from_env(landing=str(landing)),
                 "anthropic_admin": AnthropicAdminAPI.from_env(landing=str(landing))}
    result = dg.materialize([openai_api_pages, anthropic_api_pages], partition_key=DAY.isoformat(),
                            resources=resources, instance=instance)
    metadata = {e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
                for e in result.get_asset_materialization_events()}
    warnings = [e.message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    return metadata, warnings


def test_an_empty_pull_keeps_a_previous_pull_with_results(server, tmp_path, monkeypatch):
    with_keys(monkeypatch, server)
    landing = tmp_path / "landing"
    first, _ = materialize_pulls(landing)
    assert (first["openai_api_pages"]["pages"], first["anthropic_api_pages"]["pages"]) == (6, 4)
    before = {p.relative_to(landing).as_posix(): p.read_bytes() for p in landing.rglob("*") if p.is_file()}

    server.dataset = {}  # the same key now answers for an organization with no usage
    second, warnings = materialize_pulls(landing)

    assert {p.relative_to(landing).as_posix(): p.read_bytes() for p in landing.rglob("*") if p.is_file()} == before
    assert second["openai_api_pages"]["pages"] == 0 and second["anthropic_api_pages"]["pages"] == 0
    assert second["openai_api_pages"]["empty_listings"] == "openai/usage/completions, openai/usage/embeddings, openai/costs"
    assert second["openai_api_pages"]["listings"] == "\n".join([
        "| listing | results | what |", "|---|---|---|",
        "| openai/usage/completions | 0 | kept the previous pull |",
        "| openai/usage/embeddings | 0 | kept the previous pull |",
        "| openai/costs | 0 | kept the previous pull |"])
    assert second["anthropic_api_pages"]["empty_pull"] == (
        "anthropic/usage_report 2026-11-02: the API returned no results; the previous pull of the day, which has "
        "results, was kept. Check that the admin key belongs to the right organization. "
        "anthropic/cost_report 2026-11-02: the API returned no results; the previous pull of the day, which has "
        "results, was kept. Check that the admin key belongs to the right organization.")
    assert sum("the API returned no results" in w for w in warnings) == 5
    # the first pull's metadata said how many results each listing held
    assert first["openai_api_pages"]["listings"].splitlines()[2:] == [
        "| openai/usage/completions | 3 | landed |", "| openai/usage/embeddings | 1 | landed |",
        "| openai/costs | 5 | landed |"]


def test_logged_calls_under_a_zero_invoice_fail_a_blocking_check(empty_server, tmp_path, monkeypatch):
    """The wrong organization's key, and no export of the day in the source root: OpenAI's pull
    is empty, its invoice $0, while the logs recorded 1,403 calls. Blocking: nothing published."""
    source = tmp_path / "sources"
    shutil.copytree(SAMPLES, source)
    for folder in ("openai/costs/2026-11-02", "openai/usage/completions/2026-11-02", "openai/usage/embeddings/2026-11-02"):
        shutil.rmtree(source / folder)
    with_keys(monkeypatch, empty_server)
    errors = []
    monkeypatch.setattr("pipelines.cli.reconcile.warn", errors.append)

    assert reconcile_day(source, tmp_path) == 1

    (failure,) = [e for e in errors if e.startswith("2026-11-02: blocking check invoice_not_missing failed: ")]
    assert "MetadataValue" not in failure  # the values, not Dagster's wrappers
    assert failure.endswith("; then reconcile the day again.")
    assert ("the logs recorded 1,403 calls to openai but the invoice of the day is $0 (no usage and no cost "
            "export, or an empty one). Check that the export was delivered to the source root, or that the admin "
            "key belongs to the organization the calls were made in; then reconcile the day again.") in failure
    assert not (tmp_path / "w.duckdb").exists()  # nothing was published
    mart = pq.read_table(tmp_path / "lake/marts/fct_spend_reconciliation/date=2026-11-02").to_pylist()
    assert sum(r["invoice_cost_usd"] for r in mart) == 0 and sum(r["logged_calls"] for r in mart) == 1403


def test_a_day_whose_cost_export_is_missing_stays_provisional_and_passes(tmp_path, monkeypatch):
    source = tmp_path / "sources"
    shutil.copytree(SAMPLES, source)
    shutil.rmtree(source / "openai/costs/2026-11-02")
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", "")

    assert reconcile_day(source, tmp_path) == 0

    # priced from the catalog: not $0, and not final
    ((day, provider, invoice, calls, status),) = invoices(tmp_path / "w.duckdb")
    assert (day, provider, calls, status) == (DAY, "openai", 1403, "provisional")
    # the final invoice, $6.509199690000, less the $0.16 of non-token charges only the cost export
    # carries: the samples were priced at list, so the catalog gives every token dollar back
    assert invoice == Decimal("6.349199690000")


def mart(tmp_path: Path, rows: list[tuple]) -> Path:
    """A fct_spend_reconciliation partition: (provider, invoice, user, background, retry,
    unlogged, non_token, logged_calls, status) per row."""
    money = ("invoice_cost_usd", "user_cost_usd", "background_cost_usd", "retry_cost_usd", "unlogged_cost_usd",
             "non_token_cost_usd")
    schema = pa.schema([("provider", pa.string()), *[(c, pa.decimal128(38, 12)) for c in money],
                        ("logged_calls", pa.int64()), ("status", pa.string())])
    path = tmp_path / "mart.parquet"
    pq.write_table(pa.Table.from_pylist(
        [dict(zip(schema.names, (r[0], *map(Decimal, r[1:7]), r[7], r[8]), strict=True)) for r in rows], schema=schema), path)
    return path


def test_the_missing_money_check_names_each_provider_with_calls_and_no_invoice(tmp_path):
    con = sql.connect()
    path = mart(tmp_path, [
        ("openai", "0", "0", "0", "0", "0", "0", 15_000, "final"),  # an empty pull: $0 final
        ("anthropic", "0", "0", "0", "0", "0", "0", 480, "provisional"),  # no export at all
        ("aws.bedrock", "12.5", "10", "2", "0", "0.5", "0", 900, "final"),
        ("aws.bedrock", "0", "0", "0", "0", "0", "0", 3, "final"),
    ])
    outcome = checks.missing_money(con, path)
    assert not outcome.passed
    assert outcome.metadata == {
        "providers": "anthropic, openai", "logged_calls": 15_480,
        "logged_calls_anthropic": 480, "logged_calls_openai": 15_000,
        "what_to_do": "the logs recorded 15,480 calls to anthropic, openai but the invoice of the day is $0 (no usage "
                      "and no cost export, or an empty one). Check that the export was delivered to the source "
                      "root, or that the admin key belongs to the organization the calls were made in; then "
                      "reconcile the day again."}
    fine = mart(tmp_path, [("openai", "0.02", "0.01", "0", "0", "0.01", "0", 7, "provisional"),
                           ("anthropic", "0", "0", "0", "0", "0", "0", 0, "final")])  # no calls, no invoice
    assert checks.missing_money(con, fine) == checks.Outcome(True, {"providers": "", "logged_calls": 0})


def test_coverage_is_checked_per_provider_not_pooled(tmp_path):
    con = sql.connect()
    path = mart(tmp_path, [
        ("openai", "10", "1", "0", "0", "9", "0", 100, "final"),  # 10% attributed
        ("aws.bedrock", "100", "90", "5", "1", "4", "0", 900, "final"),  # 96% attributed
        ("aws.bedrock", "3", "0", "0", "0", "0", "3", 0, "final"),  # non-token: outside the token invoice
    ])  # pooled: 97 / 110 = 0.8818, which hid OpenAI's 0.1
    outcome = checks.coverage(con, path, Decimal("0.5"))
    assert not outcome.passed
    assert {k: v for k, v in outcome.metadata.items() if k != "by_provider"} == {
        "coverage": 0.1, "minimum": 0.5, "coverage_aws.bedrock": 0.96, "coverage_openai": 0.1,
        "below_minimum": "openai"}
    assert outcome.metadata["by_provider"].splitlines()[2:] == [
        "| aws.bedrock | 0.960000 | 100.000000000000 | 96.000000000000 | 4.000000000000 |",
        "| openai | 0.100000 | 10.000000000000 | 1.000000000000 | 9.000000000000 |"]
    assert checks.coverage(con, path, Decimal("0.1")).passed
