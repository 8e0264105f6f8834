"""Faults on the wire: 500s, 503 SlowDown and dropped connections between darkcompute and its
sources, injected by a proxy on loopback (`tests/faultproxy.py`) in front of moto's S3 server and
the stand-in Admin API.

A run through the faults retries and finishes with exactly the rows, landed bytes and line
counts of a fault-free run, each request retried until its first clean answer and no more; or,
when the retry budget runs out, it fails loudly, naming the object, and publishes nothing partial.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import boto3
import duckdb
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.cli import main
from pipelines.defs.anthropic.pull import anthropic_client, pull_anthropic_day
from pipelines.defs.anthropic.pull import day_listings as anthropic_listings
from pipelines.defs.openai.pull import day_listings as openai_listings
from pipelines.defs.openai.pull import openai_client, pull_openai_day
from pipelines.lib.http import ApiError
from pipelines.lib.s3 import S3Store, S3TransferError

from .apiserver import ANTHROPIC_KEY, OPENAI_KEY, api_server  # noqa: F401  (the fixture)
from .faultproxy import FAULTS, FaultProxy, fault_proxy_to
from .s3server import point_aws_at, put_objects, upload_tree

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "openai_world" / "sources"
BUCKET = "darkcompute-faults"  # fixed: the proxy's draws hash the request line, bucket included
ROOT = "exports/v1"
# The draws are a hash of the seed and the request line, so a seed fixes every run's faults. At a
# 50% rate this one's longest run of faults on one S3 request is 3 (SlowDown: botocore waits up to
# 1 + 2 + 4 s); seed 7's is 7, which costs up to a minute of throttling back-off.
SEED = 0
RATES = (0.2, 0.5)
TOP_FOLDERS = ("app_logs", "openai", "worker_logs")
SAMPLE_KEYS = sorted(p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*") if p.is_file())
OBJECTS = rf"^/{BUCKET}/"  # object requests (GET, HEAD); a listing's target is /<bucket>?list-type=2...
RESTATED = "worker_logs/2026-11-02/worker-02.jsonl.gz"
API_DAY = date(2026, 11, 2)

WAREHOUSE_QUERIES = {
    "fct_spend_reconciliation": "select * exclude (reconciled_at) from fct_spend_reconciliation order by all",
    "fct_dark_compute": "select * from fct_dark_compute order by all",
    "rejected_records": "select * from rejected_records order by all",
    "ingest_files": "select * from ingest_files order by all",  # lines read, records, skipped, rejected per file
}
LINE_COUNTS = "select sum(lines_read), sum(records), sum(skipped), sum(rejected), count(*) from ingest_files"


# ---------------------------------------------------------------------------------------------
# helpers


def answered(proxy: FaultProxy) -> Counter[tuple[str, str]]:
    """How many times each request line (method, target) was answered in full, after checking
    that every fault was followed by a retry: no request line's last outcome is a fault. (A
    request line answered n times is n operations, each retried until its first clean answer.)"""
    outcomes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for seen in proxy.log:
        outcomes[(seen.method, seen.target)].append(seen.outcome)
    for request, sequence in outcomes.items():
        assert sequence[-1] == "ok", (request, sequence)
    return Counter({request: sequence.count("ok") for request, sequence in outcomes.items()})


def is_object(request: tuple[str, str]) -> bool:
    return request[1].startswith(f"/{BUCKET}/")


def landed_files(landing: Path) -> dict[str, bytes]:
    """The landed objects (relative to the bucket's landing folder), hidden files left out."""
    root = landing / "s3" / BUCKET / ROOT
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def assert_landed_as_delivered(landing: Path) -> None:
    """Every landed object is byte-identical to the sample, with one sidecar each and no
    temporary file anywhere."""
    for key, data in landed_files(landing).items():
        assert data == (SAMPLES / key).read_bytes(), key
    every = sorted(p.name for p in (landing / "s3").rglob("*") if p.is_file())
    visible = sorted(k.rsplit("/", 1)[1] for k in landed_files(landing))
    assert every == sorted(visible + [f".{name}.s3.json" for name in visible])


def warehouse_rows(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {table: con.sql(query).fetchall() for table, query in WAREHOUSE_QUERIES.items()}


def lake_tables(lake: Path) -> dict[str, list[dict]]:
    """Every bronze and mart partition of the lake, as rows."""
    return {p.relative_to(lake).as_posix(): pq.read_table(p).to_pylist()
            for layer in ("bronze", "marts") for p in sorted((lake / layer).rglob("*.parquet"))}


def reconcile(lake: Path, warehouse: Path, day: date | None = None) -> int:
    """`darkcompute reconcile` from the bucket: every exported day, or `day` (and its neighbours' ingest)."""
    which = ["--date", day.isoformat()] if day else ["--all"]
    return main(["reconcile", *which, "--source", f"s3://{BUCKET}/{ROOT}", "--lake", str(lake),
                 "--warehouse", str(warehouse), "--quiet"])


def through(env: pytest.MonkeyPatch, proxy: FaultProxy, attempts: int | None = None) -> None:
    """Point the AWS environment at the proxy, with `attempts` as the retry budget (None: the
    default, 10)."""
    env.setenv("AWS_ENDPOINT_URL", proxy.url)
    if attempts is None:
        env.delenv("DARKCOMPUTE_S3_MAX_ATTEMPTS", raising=False)
    else:
        env.setenv("DARKCOMPUTE_S3_MAX_ATTEMPTS", str(attempts))


@pytest.fixture
def cli_env(monkeypatch):
    """The variables `reconcile` overwrites, restored after the test."""
    for name in ("DARKCOMPUTE_SOURCE_URI", "DARKCOMPUTE_LAKE_DIR", "DARKCOMPUTE_WAREHOUSE"):
        monkeypatch.setenv(name, "unset")
    return monkeypatch


# ---------------------------------------------------------------------------------------------
# the sample world in a bucket, and its fault-free reconciliation


@pytest.fixture(scope="module")
def bucket(moto_endpoint, tmp_path_factory):
    """The committed sample world under `s3://darkcompute-faults/exports/v1/` on moto, with the
    AWS environment pointed at moto for the module; the bucket is deleted at the end."""
    with pytest.MonkeyPatch.context() as env:
        point_aws_at(env, moto_endpoint, tmp_path_factory.mktemp("aws"))
        client = boto3.session.Session().client("s3")
        client.create_bucket(Bucket=BUCKET)
        try:
            assert upload_tree(SAMPLES, BUCKET, ROOT) == [f"{ROOT}/{k}" for k in SAMPLE_KEYS]
            yield moto_endpoint
        finally:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})
            client.delete_bucket(Bucket=BUCKET)


@pytest.fixture(scope="module")
def baseline(bucket, tmp_path_factory):
    """`reconcile --all` from the bucket through a proxy that injects nothing: the rows, line
    counts and requests every faulted run must reproduce."""
    tmp = tmp_path_factory.mktemp("baseline")
    with pytest.MonkeyPatch.context() as env, fault_proxy_to(bucket, rate=0.0) as proxy:
        for name in ("DARKCOMPUTE_SOURCE_URI", "DARKCOMPUTE_LAKE_DIR", "DARKCOMPUTE_WAREHOUSE"):
            env.setenv(name, "unset")
        through(env, proxy)
        code = reconcile(tmp / "lake", tmp / "warehouse.duckdb")
    return {"code": code, "lake": tmp / "lake", "warehouse": tmp / "warehouse.duckdb",
            "rows": warehouse_rows(tmp / "warehouse.duckdb"), "answered": answered(proxy)}


def test_the_fault_free_run_through_the_proxy_reconciles_every_day(baseline):
    assert baseline["code"] == 0
    rows = baseline["rows"]
    assert sorted({r[0] for r in rows["fct_spend_reconciliation"]}) == [date(2026, 11, 1), date(2026, 11, 2),
                                                                        date(2026, 11, 3)]
    assert all(len(rows[t]) > 0 for t in ("fct_spend_reconciliation", "fct_dark_compute", "ingest_files"))
    with duckdb.connect(str(baseline["warehouse"]), read_only=True) as con:
        assert con.execute(LINE_COUNTS).fetchall() == [(5562, 4482, 1074, 6, 24)]
    objects = {request: n for request, n in baseline["answered"].items() if is_object(request)}
    assert objects == {("GET", f"/{BUCKET}/{ROOT}/{key}"): 1 for key in SAMPLE_KEYS}  # each object fetched once
    assert {method for method, _ in baseline["answered"]} == {"GET"}  # listings and GetObject, no HeadObject
    assert_landed_as_delivered(baseline["lake"] / "landing")
    assert sorted(landed_files(baseline["lake"] / "landing")) == SAMPLE_KEYS


# ---------------------------------------------------------------------------------------------
# S3, the store: list and read every object through each fault at each rate


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("fault", FAULTS)
def test_the_store_lists_and_reads_every_object_through_the_fault(bucket, fault_proxy, monkeypatch, tmp_path,
                                                                  fault, rate):
    proxy = fault_proxy(bucket, rate=rate, faults=[fault], seed=SEED)
    through(monkeypatch, proxy)
    store = S3Store(f"s3://{BUCKET}/{ROOT}", landing=tmp_path / "landing")

    keys = [key for folder in TOP_FOLDERS for key in store.list(folder)]
    with ThreadPoolExecutor(max_workers=8) as pool:  # the draws do not depend on the order: the back-offs overlap
        files = list(pool.map(store.read, keys))

    assert keys == SAMPLE_KEYS
    assert [f.data for f in files] == [(SAMPLES / k).read_bytes() for k in keys]
    assert_landed_as_delivered(tmp_path / "landing")
    assert sorted(landed_files(tmp_path / "landing")) == SAMPLE_KEYS
    assert answered(proxy) == Counter({("GET", f"/{BUCKET}/{ROOT}/{key}"): 1 for key in SAMPLE_KEYS}) + Counter(
        {("GET", f"/{BUCKET}?list-type=2&prefix={ROOT.replace('/', '%2F')}%2F{folder}%2F&encoding-type=url"): 1
         for folder in TOP_FOLDERS})
    assert set(proxy.injected) == {fault}
    assert proxy.injected[fault] == proxy.requests - proxy.answered > 0
    assert proxy.overflow == 0


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_on_every_request_fails_the_store_loudly_after_the_budget(bucket, fault_proxy, monkeypatch, tmp_path,
                                                                          fault):
    landing = tmp_path / "landing"
    everything = fault_proxy(bucket, rate=1.0, faults=[fault], seed=SEED)
    through(monkeypatch, everything, attempts=2)
    with pytest.raises((ClientError, BotoCoreError)) as failure:
        S3Store(f"s3://{BUCKET}/{ROOT}", landing=landing, max_attempts=2).list("openai/costs")
    assert failure.value.__notes__ == [f"while listing s3://{BUCKET}/{ROOT}/openai/costs/"]
    assert (everything.requests, everything.injected[fault]) == (2, 2)  # the budget, then no more

    objects = fault_proxy(bucket, rate=1.0, faults=[fault], seed=SEED, only=OBJECTS)
    through(monkeypatch, objects, attempts=2)
    store = S3Store(f"s3://{BUCKET}/{ROOT}", landing=landing, max_attempts=2)
    key = "openai/costs/2026-11-02/page-001.json"
    assert store.list("openai/costs/2026-11-02") == [key]
    name = f"s3://{BUCKET}/{ROOT}/{key}"
    expected = S3TransferError if fault == "truncate" else (ClientError, BotoCoreError)
    with pytest.raises(expected) as failure:
        store.read(key)  # listed: one GetObject
    with pytest.raises(expected) as unlisted:
        S3Store(f"s3://{BUCKET}/{ROOT}", landing=landing, max_attempts=2).read(key)  # not listed: HeadObject first
    for error in (failure.value, unlisted.value):
        if fault == "truncate":
            assert str(error).startswith(f"reading {name}: the connection broke mid-response 2 times; "
                                         "gave up after 2 requests (DARKCOMPUTE_S3_MAX_ATTEMPTS=2): ")
        else:
            assert error.__notes__ == [f"while reading {name}"]
    assert [(s.method, s.outcome) for s in objects.log] == [("GET", "ok"), ("GET", fault), ("GET", fault),
                                                           ("HEAD", fault), ("HEAD", fault)]
    assert not landing.exists()  # nothing landed, not even a temporary file


def test_a_body_cut_short_is_read_again_within_the_same_budget(bucket, fault_proxy, monkeypatch, tmp_path):
    """botocore does not retry a body broken mid-way; the store does, and botocore's own
    retries of the GetObject that follows count against the same budget."""
    key = "worker_logs/2026-11-03/worker-01.jsonl.gz"
    target = f"/{BUCKET}/{ROOT}/{key}"
    proxy = fault_proxy(bucket, rate=0.5, faults=["500", "truncate"], seed=185, only=OBJECTS)
    assert [proxy.fault_for("GET", target, n) for n in range(4)] == ["truncate", "500", "500", None]

    through(monkeypatch, proxy, attempts=4)  # a GET cut short, then a GetObject that botocore tries 3 times
    store = S3Store(f"s3://{BUCKET}/{ROOT}", landing=tmp_path / "landing", max_attempts=4)
    assert store.list("worker_logs/2026-11-03") == [key, key.replace("-01", "-02")]
    assert store.read(key).data == (SAMPLES / key).read_bytes()
    assert [s.outcome for s in proxy.log] == ["ok", "truncate", "500", "500", "ok"]  # the listing, then 4 GETs

    proxy.reset()
    through(monkeypatch, proxy, attempts=3)  # the same draws, one request short
    store = S3Store(f"s3://{BUCKET}/{ROOT}", landing=tmp_path / "other-landing", max_attempts=3)
    assert store.list("worker_logs/2026-11-03") == [key, key.replace("-01", "-02")]
    with pytest.raises(ClientError, match=r"\(InternalError\) when calling the GetObject operation") as failure:
        store.read(key)
    assert failure.value.__notes__ == [f"while reading s3://{BUCKET}/{ROOT}/{key}"]
    assert [s.outcome for s in proxy.log] == ["ok", "truncate", "500", "500"]
    assert not (tmp_path / "other-landing").exists()


# ---------------------------------------------------------------------------------------------
# S3, end to end: `darkcompute reconcile --all` through the faults


@pytest.mark.parametrize(("faults", "rate"), [(FAULTS, 0.2), (("500", "drop", "truncate"), 0.5)])
def test_reconciling_through_faults_gives_the_rows_of_a_fault_free_run(baseline, bucket, fault_proxy, cli_env,
                                                                       tmp_path, faults, rate):
    proxy = fault_proxy(bucket, rate=rate, faults=faults, seed=SEED)
    through(cli_env, proxy)

    assert reconcile(tmp_path / "lake", tmp_path / "warehouse.duckdb") == 0

    assert warehouse_rows(tmp_path / "warehouse.duckdb") == baseline["rows"]
    assert_landed_as_delivered(tmp_path / "lake" / "landing")
    assert landed_files(tmp_path / "lake" / "landing").keys() == landed_files(baseline["lake"] / "landing").keys()
    assert answered(proxy) == baseline["answered"]  # the same requests answered, as many times
    assert set(proxy.injected) == set(faults)
    assert sum(proxy.injected.values()) == proxy.requests - baseline["answered"].total() > 0


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_on_every_request_fails_the_run_and_touches_nothing(baseline, bucket, fault_proxy, cli_env, tmp_path,
                                                                    fault, capfd):
    shutil.copytree(baseline["lake"], tmp_path / "lake")
    shutil.copy(baseline["warehouse"], tmp_path / "warehouse.duckdb")
    before = (lake_tables(tmp_path / "lake"), warehouse_rows(tmp_path / "warehouse.duckdb"))
    proxy = fault_proxy(bucket, rate=1.0, faults=[fault], seed=SEED)
    through(cli_env, proxy, attempts=2)

    assert reconcile(tmp_path / "lake", tmp_path / "warehouse.duckdb") == 1

    err = capfd.readouterr().err.splitlines()  # one line, naming the listing, no traceback
    assert len(err) == 1
    assert err[0].startswith(f"darkcompute reconcile failed while listing s3://{BUCKET}/{ROOT}/openai/usage/completions/: ")
    expected = {"500": "ClientError: An error occurred (InternalError)", "503": "ClientError: An error occurred (SlowDown)",
                "drop": "ConnectionClosedError: Connection was closed", "truncate": "ClientError: An error occurred (500)"}
    assert expected[fault] in err[0]
    assert (proxy.requests, proxy.injected[fault]) == (2, 2)
    assert (lake_tables(tmp_path / "lake"), warehouse_rows(tmp_path / "warehouse.duckdb")) == before


def test_a_restated_object_that_cannot_be_read_keeps_the_last_publication(baseline, bucket, fault_proxy, cli_env,
                                                                          tmp_path, capfd):
    """Later, one worker log of 2026-11-02 is delivered again (new ETag) and every attempt to
    read it is cut mid-body: `reconcile --date 2026-11-02` fails naming it, the landing keeps the
    previous copy, and the lake and the warehouse are exactly as the last good run left them."""
    shutil.copytree(baseline["lake"], tmp_path / "lake")
    shutil.copy(baseline["warehouse"], tmp_path / "warehouse.duckdb")
    before = (lake_tables(tmp_path / "lake"), warehouse_rows(tmp_path / "warehouse.duckdb"))
    landed = tmp_path / "lake" / "landing" / "s3" / BUCKET / ROOT / RESTATED
    sidecar = landed.with_name(f".{landed.name}.s3.json")
    old = (landed.read_bytes(), sidecar.read_bytes())
    original = (SAMPLES / RESTATED).read_bytes()
    put_objects(BUCKET, {f"{ROOT}/{RESTATED}": original + original})  # restated: a new ETag
    proxy = fault_proxy(bucket, rate=1.0, faults=["truncate"], seed=SEED, only=f"{RESTATED}$")
    try:
        with pytest.MonkeyPatch.context() as env:
            through(env, proxy, attempts=3)
            code = reconcile(tmp_path / "lake", tmp_path / "warehouse.duckdb", date(2026, 11, 2))
    finally:
        put_objects(BUCKET, {f"{ROOT}/{RESTATED}": original})  # straight to moto again

    assert code == 1
    err = capfd.readouterr().err
    assert "2026-11-02: step worker_calls failed" in err
    assert (f"reading s3://{BUCKET}/{ROOT}/{RESTATED}: the connection broke mid-response 3 times; gave up after 3 "
            "requests (DARKCOMPUTE_S3_MAX_ATTEMPTS=3)") in err
    # every listing answered; no other object fetched (their landed copies still match); the restated one 3 times
    assert [s for s in proxy.log if not is_object((s.method, s.target)) and s.outcome != "ok"] == []
    assert [(s.target, s.outcome) for s in proxy.log if is_object((s.method, s.target))] == [
        (f"/{BUCKET}/{ROOT}/{RESTATED}", "truncate")] * 3
    assert (landed.read_bytes(), sidecar.read_bytes()) == old
    assert_landed_as_delivered(tmp_path / "lake" / "landing")
    assert (lake_tables(tmp_path / "lake"), warehouse_rows(tmp_path / "warehouse.duckdb")) == before


def test_a_day_that_cannot_be_read_whole_is_not_reconciled(bucket, fault_proxy, cli_env, tmp_path, capfd):
    """A first run where one worker log of 2026-11-02 cannot be read: the day, whose inputs
    include that delivery folder, is not reconciled at all (nor would 2026-11-01 or -03 be)."""
    proxy = fault_proxy(bucket, rate=1.0, faults=["truncate"], seed=SEED, only=f"{RESTATED}$")
    through(cli_env, proxy, attempts=3)

    assert reconcile(tmp_path / "lake", tmp_path / "warehouse.duckdb", date(2026, 11, 2)) == 1

    err = capfd.readouterr().err
    assert (f"2026-11-02: step worker_calls failed: pipelines.lib.s3.S3TransferError: reading s3://{BUCKET}/{ROOT}/"
            f"{RESTATED}: the connection broke mid-response 3 times; gave up after 3 requests") in err
    assert "2026-11-02: not reconciled: the ingest of 2026-11-02 failed" in err
    assert proxy.injected == {"truncate": 3}
    assert sorted(p.name for p in (tmp_path / "lake" / "bronze" / "worker_calls").iterdir()) == [
        "date=2026-11-01", "date=2026-11-03"]  # no partition of the half-read day
    assert not (tmp_path / "lake" / "marts").exists()
    assert not (tmp_path / "warehouse.duckdb").exists()


# ---------------------------------------------------------------------------------------------
# the Admin APIs through the faults


def pull_both(base_url: str, root: Path, attempts: int = 10) -> tuple[list[Path], list[float]]:
    waits: list[float] = []
    files = pull_openai_day(openai_client(OPENAI_KEY, base_url, attempts=attempts, sleep=waits.append), API_DAY, root)
    files += pull_anthropic_day(anthropic_client(ANTHROPIC_KEY, base_url, attempts=attempts, sleep=waits.append),
                                API_DAY, root)
    return files, waits


def digests(files: list[Path], root: Path) -> dict[str, str]:
    return {f.relative_to(root).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("fault", FAULTS)
def test_api_pulls_through_the_fault_land_the_pages_of_a_fault_free_pull(api_server, fault_proxy, tmp_path,
                                                                         fault, rate):
    clean, _ = pull_both(api_server.url, tmp_path / "clean")
    proxy = fault_proxy(api_server.url, rate=rate, faults=[fault], seed=SEED, style="json")

    files, waits = pull_both(proxy.url, tmp_path / "faulted")

    assert digests(files, tmp_path / "faulted") == digests(clean, tmp_path / "clean")
    assert len(files) == 10  # 6 OpenAI pages, 4 Anthropic pages
    for manifest in (tmp_path / "clean").rglob(".manifest.json"):
        faulted = tmp_path / "faulted" / manifest.relative_to(tmp_path / "clean")
        assert [p["sha256"] for p in _pages(faulted)] == [p["sha256"] for p in _pages(manifest)]
    assert sorted(answered(proxy).values()) == [1] * 10 and proxy.answered == 10
    assert set(proxy.injected) == {fault}
    assert proxy.injected[fault] == proxy.requests - 10 == len(waits) > 0


API_REASONS = {  # how the client reports the last fault
    "500": r"HTTP 500 Internal Server Error",
    "503": r"HTTP 503 Service Unavailable",
    "drop": r"connection failed \(Remote end closed connection without response\)",
    "truncate": r"connection failed \(IncompleteRead\(\d+ bytes read, \d+ more expected\)\)",
}


@pytest.mark.parametrize("fault", FAULTS)
def test_an_api_failing_every_request_fails_the_pull_and_keeps_the_last_landing(api_server, fault_proxy, tmp_path,
                                                                              fault):
    root = tmp_path / "landing"
    landed, _ = pull_both(api_server.url, root)
    before = digests(landed, root) | {str(m): m.read_text() for m in root.rglob(".manifest.json")}
    proxy = fault_proxy(api_server.url, rate=1.0, faults=[fault], seed=SEED, style="json")
    pulls = [(pull_openai_day, openai_client(OPENAI_KEY, proxy.url, attempts=3, sleep=lambda _: None),
              openai_listings(API_DAY)[0]),
             (pull_anthropic_day, anthropic_client(ANTHROPIC_KEY, proxy.url, attempts=3, sleep=lambda _: None),
              anthropic_listings(API_DAY)[0])]

    for pull, client, first in pulls:
        with pytest.raises(ApiError) as failure:
            pull(client, API_DAY, root)
        url = re.escape(client.url(first.path, first.params))
        assert re.fullmatch(f"GET {url} failed after 3 attempts: {API_REASONS[fault]}", str(failure.value))

    assert proxy.requests == proxy.injected[fault] == 6  # the first listing of each, three times, then no more
    assert digests(landed, root) | {str(m): m.read_text() for m in root.rglob(".manifest.json")} == before
    assert sorted(p.name for p in root.rglob("*.tmp")) == []


def _pages(manifest: Path) -> list[dict]:
    return json.loads(manifest.read_text())["pages"]
