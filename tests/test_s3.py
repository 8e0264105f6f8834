"""Sources on S3: listing through the paginator, incremental downloads into the landing zone,
refused keys, the AWS environment (endpoint, retries), and the whole reconciliation read from a
bucket giving the same rows as from the local folder.

Everything talks to real servers on 127.0.0.1: moto's S3 server (`tests/s3server.py`) and, for
retries, a tiny server that answers every request with 503 SlowDown.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import socket
import threading
from collections import defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from botocore.exceptions import ClientError

from pipelines.cli import main
from pipelines.defs.resources import SourceStore, configured_resources
from pipelines.lib.money import loads
from pipelines.lib.s3 import S3Store
from pipelines.lib.store import LocalStore, SourceFile, open_store

from .s3server import S3Server, point_aws_at, put_objects, s3_bucket, upload_tree

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "openai_world" / "sources"
ROOT = "exports/v1"


def record_calls(store: S3Store) -> list[str]:
    """The S3 operations the store's client calls from now on, in order (a botocore event
    handler on the store's own client: nothing is patched)."""
    calls: list[str] = []
    store.client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    return calls


def etag(body: bytes) -> str:
    """The ETag S3 gives an object put in one part: its MD5, quoted."""
    return f'"{hashlib.md5(body).hexdigest()}"'


def sidecar(path: Path) -> dict:
    return json.loads(path.with_name(f".{path.name}.s3.json").read_text())


# ---------------------------------------------------------------------------------------------
# the URI and the landing folder


def test_open_store_returns_an_s3_store_for_s3_uris(monkeypatch):
    for name in ("DARKCOMPUTE_LANDING_DIR", "DARKCOMPUTE_LAKE_DIR"):
        monkeypatch.setenv(name, "/not/read")  # the library reads no environment: the resource passes the folder
    store = open_store("s3://my-bucket/exports/v1/")
    assert isinstance(store, S3Store)
    assert (store.uri, store.bucket, store.root, store.landing) == (
        "s3://my-bucket/exports/v1", "my-bucket", "exports/v1", Path("lake/landing"))
    assert store.landed_path("openai/costs/2026-11-02/page-001.json") == Path(
        "lake/landing/s3/my-bucket/exports/v1/openai/costs/2026-11-02/page-001.json")
    assert open_store("s3://my-bucket").uri == "s3://my-bucket"
    assert open_store("s3://my-bucket").landed_path("a/b.json") == Path("lake/landing/s3/my-bucket/a/b.json")
    assert open_store("s3://my-bucket/x", landing="/elsewhere").landing == Path("/elsewhere")


def test_the_landing_folder_is_the_sources_resource_s(monkeypatch):
    """DARKCOMPUTE_LANDING_DIR, else <DARKCOMPUTE_LAKE_DIR>/landing, else lake/landing: the fields of
    the `sources` resource, bound to the variables and read when the resource is initialized."""
    uri = "s3://my-bucket/x"
    assert SourceStore(uri=uri).store().landing == Path("lake/landing")
    assert SourceStore(uri=uri, lake_dir="/data/lake").store().landing == Path("/data/lake/landing")
    assert SourceStore(uri=uri, lake_dir="/data/lake", landing_dir="/data/landing").store().landing == Path("/data/landing")
    for name in ("DARKCOMPUTE_LANDING_DIR", "DARKCOMPUTE_LAKE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DARKCOMPUTE_SOURCE_URI", uri)
    monkeypatch.setenv("DARKCOMPUTE_LAKE_DIR", "/data/lake")
    sources = configured_resources()["sources"]
    monkeypatch.setenv("DARKCOMPUTE_LAKE_DIR", "/data/other-lake")  # after binding: read when initialized
    assert sources.process_config_and_initialize().store().landing == Path("/data/other-lake/landing")


@pytest.mark.parametrize(
    "uri", ["s3://", "s3:///exports", "s3://../exports", "s3://./x", "s3://bucket/../x", "s3://bucket/a/../../x",
            "s3://bu/cket/..", "s3://-bucket/x"],
)
def test_s3_uris_that_could_leave_the_landing_folder_are_refused(uri):
    with pytest.raises(ValueError):
        open_store(uri)


def test_a_backslash_in_an_s3_prefix_is_part_of_a_name(tmp_path):
    store = open_store("s3://bucket/a\\..\\..\\x", landing=tmp_path)
    assert store.root == "a\\..\\..\\x"
    assert store.landed_path("k.json") == tmp_path / "s3" / "bucket" / "a\\..\\..\\x" / "k.json"


# ---------------------------------------------------------------------------------------------
# listing


def test_listing_pages_through_more_than_a_thousand_objects(s3_server: S3Server, tmp_path):
    objects = {f"{ROOT}/openai/costs/2026-11-{d:02d}/page-{i:03d}.json": b'{"page": %d}' % i
               for d in range(1, 8) for i in range(143)}
    assert len(objects) == 1001
    outside = {
        "exports/v1-old/openai/costs/2026-11-01/page-000.json": b"{}",  # a sibling root
        f"{ROOT}/openai/costs-archive/2026-11-01/page-000.json": b"{}",  # a sibling folder
        f"{ROOT}/openai/costs/2026-11-08/": b"",  # a folder marker, as the S3 console makes
        f"{ROOT}/openai/costs/2026-11-08/.page-000.json.tmp": b"partial",  # a hidden name
    }
    put_objects(s3_server.bucket, objects | outside)
    expected = sorted(key[len(ROOT) + 1 :] for key in objects)

    store = S3Store(f"s3://{s3_server.bucket}/{ROOT}", landing=tmp_path / "landing")
    calls = record_calls(store)
    keys = store.list("openai/costs")
    assert keys == expected
    assert len(keys) == len(set(keys)) == 1001
    assert (keys[0], keys[999], keys[1000]) == (
        "openai/costs/2026-11-01/page-000.json", "openai/costs/2026-11-07/page-141.json",
        "openai/costs/2026-11-07/page-142.json")
    assert calls == ["ListObjectsV2", "ListObjectsV2"]  # S3 pages hold 1,000 keys at most

    small = S3Store(f"s3://{s3_server.bucket}/{ROOT}", landing=tmp_path / "landing", page_size=100)
    small_calls = record_calls(small)
    assert small.list("openai/costs") == expected
    assert small_calls == ["ListObjectsV2"] * 11
    assert small.list("openai/costs/2026-11-08") == []
    assert small.list("openai/costs/2026-11-09") == []

    read = [store.read(key) for key in (keys[0], keys[999], keys[1000])]
    assert [f.data for f in read] == [b'{"page": 0}', b'{"page": 141}', b'{"page": 142}']
    assert calls[2:] == ["GetObject"] * 3


def test_s3_and_local_stores_list_and_read_the_same_tree(s3_server: S3Server, tmp_path):
    files = {
        "openai/costs/2026-11-02/p1.json": b'{"page": 1}',
        "openai/costs/2026-11-02/p0.json": b'{"page": 0}',
        "openai/costs/2026-11-02/.p2.json.tmp": b"partial upload",
        "openai/costs/2026-11-03/p0.json": b"{}",
        "openai/usage/completions/2026-11-02/p0.json": b"{}",
        "app_logs/2026-11-02/a.jsonl.gz": b"\x1f\x8b\x08\x00 not really gzip",
    }
    for key, data in files.items():
        (tmp_path / "tree" / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tree" / key).write_bytes(data)
    assert upload_tree(tmp_path / "tree", s3_server.bucket, "deliveries/") == sorted(f"deliveries/{k}" for k in files)

    local, s3 = LocalStore(tmp_path / "tree"), open_store(f"s3://{s3_server.bucket}/deliveries", tmp_path / "landing")
    for prefix, expected in [
        ("openai/costs/2026-11-02", ["openai/costs/2026-11-02/p0.json", "openai/costs/2026-11-02/p1.json"]),
        ("openai/costs", ["openai/costs/2026-11-02/p0.json", "openai/costs/2026-11-02/p1.json",
                          "openai/costs/2026-11-03/p0.json"]),
        ("openai", ["openai/costs/2026-11-02/p0.json", "openai/costs/2026-11-02/p1.json",
                    "openai/costs/2026-11-03/p0.json", "openai/usage/completions/2026-11-02/p0.json"]),
        ("openai/costs/2026-11-02/p0.json", []),  # a file is not a folder
        ("anthropic", []),
    ]:
        assert local.list(prefix) == s3.list(prefix) == expected
    for store in (local, s3):
        with pytest.raises(ValueError, match="unsafe object key"):
            store.list("../")
    key = "app_logs/2026-11-02/a.jsonl.gz"
    assert s3.read(key) == local.read(key) == SourceFile(key, b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(FileNotFoundError, match="no object deliveries/app_logs/2026-11-02/b.jsonl in s3://"):
        s3.read("app_logs/2026-11-02/b.jsonl")


# ---------------------------------------------------------------------------------------------
# incremental downloads


def test_an_unchanged_object_is_read_from_the_landing_copy(s3_server: S3Server, tmp_path):
    body = b'{"object": "page", "data": [], "has_more": false, "next_page": null}'
    key = "openai/costs/2026-11-02/page-001.json"
    put_objects(s3_server.bucket, {f"{ROOT}/{key}": body})
    uri, landing = f"s3://{s3_server.bucket}/{ROOT}", tmp_path / "landing"
    landed = landing / "s3" / s3_server.bucket / ROOT / key

    store = S3Store(uri, landing=landing)
    calls = record_calls(store)
    assert store.list("openai/costs/2026-11-02") == [key]
    first = store.read(key)
    assert first == SourceFile(key, body)
    assert first.sha256 == hashlib.sha256(body).hexdigest()
    assert calls == ["ListObjectsV2", "GetObject"]
    assert landed.read_bytes() == body
    assert sidecar(landed) == {"etag": etag(body), "size": len(body), "sha256": first.sha256}
    assert sorted(p.name for p in landed.parent.iterdir()) == [".page-001.json.s3.json", "page-001.json"]
    stat = landed.stat()

    assert store.read(key) == first
    assert calls == ["ListObjectsV2", "GetObject"]  # nothing fetched again

    later = S3Store(uri, landing=landing)  # another run: lists the day, then reads it
    later_calls = record_calls(later)
    assert later.list("openai/costs/2026-11-02") == [key]
    assert later.read(key) == first
    assert later_calls == ["ListObjectsV2"]

    direct = S3Store(uri, landing=landing)  # a key read without listing: one HEAD, no body
    direct_calls = record_calls(direct)
    assert direct.read(key) == first
    assert direct_calls == ["HeadObject"]
    assert (landed.stat().st_mtime_ns, landed.stat().st_ino) == (stat.st_mtime_ns, stat.st_ino)


def test_a_changed_or_damaged_object_is_fetched_again(s3_server: S3Server, tmp_path):
    key = "app_logs/2026-11-02/app-01.jsonl"
    old, new = b'{"attempt": 1}\n', b'{"attempt": 2}\n'  # same size, new content, new ETag
    put_objects(s3_server.bucket, {f"{ROOT}/{key}": old})
    store = S3Store(f"s3://{s3_server.bucket}/{ROOT}", landing=tmp_path / "landing")
    calls = record_calls(store)
    assert [store.read(k).data for k in store.list("app_logs")] == [old]
    put_objects(s3_server.bucket, {f"{ROOT}/{key}": new})

    assert [store.read(k).data for k in store.list("app_logs")] == [new]
    assert calls == ["ListObjectsV2", "GetObject", "ListObjectsV2", "GetObject"]
    landed = store.landed_path(key)
    assert landed.read_bytes() == new
    assert sidecar(landed) == {"etag": etag(new), "size": 15, "sha256": hashlib.sha256(new).hexdigest()}

    landed.write_bytes(b'{"attempt": 9}\n')  # the landing copy edited in place: same size
    assert store.read(key).data == new
    assert calls[4:] == ["GetObject"]
    assert landed.read_bytes() == new
    assert store.read(key).data == new
    assert calls[5:] == []


# ---------------------------------------------------------------------------------------------
# keys that would leave the root


@pytest.mark.parametrize("bad", ["openai/../../escape.json", "openai//escape.json", "openai/./x.json"])
def test_a_listed_key_that_is_not_a_plain_relative_path_is_refused(s3_server: S3Server, tmp_path, bad):
    put_objects(s3_server.bucket, {f"{ROOT}/openai/costs/2026-11-02/page-001.json": b"{}", f"{ROOT}/{bad}": b"{}"})
    store = S3Store(f"s3://{s3_server.bucket}/{ROOT}", landing=tmp_path / "work" / "landing")
    keys = store.list("openai")
    assert keys == sorted(["openai/costs/2026-11-02/page-001.json", bad])  # listed, so it is counted
    calls = record_calls(store)
    assert store.read(bad) == SourceFile(bad, b"", refused="object key is not a plain relative path (.., //): not read")
    assert calls == []  # never requested
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written anywhere


def test_a_key_with_backslashes_is_read_and_lands_inside_the_landing_folder(s3_server: S3Server, tmp_path):
    key = "app_logs/2026-11-02/x\\..\\..\\..\\back\\slash.jsonl"
    put_objects(s3_server.bucket, {f"{ROOT}/{key}": b"{}\n"})
    store = S3Store(f"s3://{s3_server.bucket}/{ROOT}", landing=tmp_path / "work" / "landing")
    assert store.list("app_logs") == [key]
    assert store.read(key).data == b"{}\n"
    landed = [p for p in (tmp_path / "work").rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert landed == [tmp_path / "work" / "landing" / "s3" / s3_server.bucket / ROOT / "app_logs" / "2026-11-02"
                      / "x\\..\\..\\..\\back\\slash.jsonl"]


def test_reading_a_key_that_would_leave_the_root_is_refused_before_any_request(s3_server: S3Server, tmp_path):
    put_objects(s3_server.bucket, {"escape.json": b"{}"})
    store = S3Store(f"s3://{s3_server.bucket}/{ROOT}", landing=tmp_path / "work" / "landing")
    calls = record_calls(store)
    for key in ["../../escape.json", "openai/../../../escape.json", "/escape.json"]:
        with pytest.raises(ValueError, match="unsafe object key"):
            store.read(key)
    assert calls == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_object_key_that_is_also_a_folder_of_other_keys_fails_loudly(s3_server: S3Server, tmp_path):
    put_objects(s3_server.bucket, {f"{ROOT}/openai/costs": b"a file", f"{ROOT}/openai/costs/page-001.json": b"{}"})
    store = S3Store(f"s3://{s3_server.bucket}/{ROOT}", landing=tmp_path / "landing")
    assert store.list("openai") == ["openai/costs", "openai/costs/page-001.json"]
    assert store.read("openai/costs").data == b"a file"
    with pytest.raises(OSError) as info:
        store.read("openai/costs/page-001.json")
    landed = tmp_path / "landing" / "s3" / s3_server.bucket / ROOT / "openai" / "costs" / "page-001.json"
    assert info.value.__notes__ == [f"while landing {landed} (an object key that is also a folder of other keys?)"]


# ---------------------------------------------------------------------------------------------
# the AWS environment: endpoint, retries


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_s3_specific_endpoint_variable_wins(s3_server: S3Server, tmp_path, monkeypatch):
    put_objects(s3_server.bucket, {f"{ROOT}/worker_logs/2026-11-02/w.jsonl": b"{}\n"})
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")  # nothing listens
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
    store = open_store(f"s3://{s3_server.bucket}/{ROOT}", tmp_path / "landing")
    assert store.client.meta.endpoint_url == s3_server.endpoint
    assert [store.read(k).data for k in store.list("worker_logs")] == [b"{}\n"]


class _SlowDown(http.server.BaseHTTPRequestHandler):
    """Answers every request with S3's 503 SlowDown and counts the requests."""

    def do_GET(self):
        self.server.requests += 1
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def slow_down_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowDown)
    server.requests = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(("setting", "requests"), [("1", 1), ("2", 2)])
def test_retries_stop_after_the_configured_number_of_attempts(monkeypatch, tmp_path, setting, requests):
    with slow_down_server() as server:
        point_aws_at(monkeypatch, f"http://127.0.0.1:{server.server_address[1]}", tmp_path)
        store = SourceStore(uri="s3://my-bucket/exports", landing_dir=str(tmp_path / "landing"),
                            s3_max_attempts=setting).store()
        with pytest.raises(ClientError, match="SlowDown"):
            store.list("openai/costs")
        assert server.requests == requests


def test_retry_settings_come_from_the_environment_through_the_sources_resource(monkeypatch, tmp_path):
    point_aws_at(monkeypatch, f"http://127.0.0.1:{_closed_port()}", tmp_path)
    monkeypatch.setenv("DARKCOMPUTE_SOURCE_URI", "s3://b-1/x")

    def store():
        return configured_resources()["sources"].process_config_and_initialize().store()

    assert store().client.meta.config.retries == {"mode": "standard", "total_max_attempts": 10}
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("DARKCOMPUTE_S3_MAX_ATTEMPTS", "4")
    assert store().client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}
    for bad in ("0", "-1", "ten"):
        monkeypatch.setenv("DARKCOMPUTE_S3_MAX_ATTEMPTS", bad)
        with pytest.raises(ValueError, match=f"DARKCOMPUTE_S3_MAX_ATTEMPTS must be a positive whole number, got '{bad}'"):
            _ = store().client


# ---------------------------------------------------------------------------------------------
# the source resource, unchanged, on an s3:// URI


def test_the_source_store_resource_reads_a_day_from_s3(s3_server: S3Server, tmp_path, monkeypatch):
    upload_tree(SAMPLES / "openai" / "usage", s3_server.bucket, f"{ROOT}/openai/usage")
    sources = SourceStore(uri=f"s3://{s3_server.bucket}/{ROOT}", landing_dir=str(tmp_path / "landing"))
    files = sources.day_files("openai/usage/completions", date(2026, 11, 2))
    local = LocalStore(SAMPLES)
    expected = [local.read(f"openai/usage/completions/2026-11-02/page-00{i}.json") for i in (1, 2)]
    assert files == expected
    for f in files:
        landed = tmp_path / "landing" / "s3" / s3_server.bucket / ROOT / f.key
        assert landed.read_bytes() == f.data
        assert sidecar(landed)["sha256"] == f.sha256


# ---------------------------------------------------------------------------------------------
# end to end: `darkcompute reconcile --all` from a bucket equals the same from the folder


MART_QUERIES = {
    "fct_spend_reconciliation": "select * exclude (reconciled_at) from fct_spend_reconciliation order by all",
    "fct_dark_compute": "select * from fct_dark_compute order by all",
    "rejected_records": "select * from rejected_records order by all",
}


@pytest.fixture(scope="module")
def reconciled_both_ways(moto_endpoint, tmp_path_factory):
    """The committed sample world reconciled from the local folder and from a loopback bucket."""
    tmp = tmp_path_factory.mktemp("s3_e2e")
    with pytest.MonkeyPatch.context() as env:
        for name in ("DARKCOMPUTE_SOURCE_URI", "DARKCOMPUTE_LAKE_DIR", "DARKCOMPUTE_WAREHOUSE"):
            env.setenv(name, "unset")  # the CLI overwrites them; restored when the context ends
        codes = {"local": main(["reconcile", "--all", "--source", str(SAMPLES), "--lake", str(tmp / "local-lake"),
                                "--warehouse", str(tmp / "local.duckdb"), "--quiet"])}
        with s3_bucket(env, moto_endpoint, tmp) as s3:
            uploaded = upload_tree(SAMPLES, s3.bucket, ROOT)
            codes["s3"] = main(["reconcile", "--all", "--source", f"s3://{s3.bucket}/{ROOT}",
                                "--lake", str(tmp / "s3-lake"), "--warehouse", str(tmp / "s3.duckdb"), "--quiet"])
            landing = tmp / "s3-lake" / "landing" / "s3" / s3.bucket
    return {"tmp": tmp, "codes": codes, "uploaded": uploaded, "landing": landing}


def _rows(warehouse: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(query).fetchall()


def test_reconciling_from_s3_gives_the_rows_of_the_local_folder(reconciled_both_ways):
    run = reconciled_both_ways
    assert run["codes"] == {"local": 0, "s3": 0}
    for table, query in MART_QUERIES.items():
        local, s3 = _rows(run["tmp"] / "local.duckdb", query), _rows(run["tmp"] / "s3.duckdb", query)
        assert s3 == local, table
        assert len(local) > 0, table
    days = _rows(run["tmp"] / "s3.duckdb", "select distinct usage_date, status from fct_spend_reconciliation order by 1")
    exported = sorted(date.fromisoformat(p.name) for p in (SAMPLES / "openai" / "costs").iterdir())
    assert days == [(d, "final") for d in exported]


def test_the_openai_invoice_per_day_is_the_sum_of_the_cost_pages(reconciled_both_ways):
    pages: dict[date, Decimal] = defaultdict(Decimal)
    for path in sorted((SAMPLES / "openai" / "costs").glob("*/*.json")):
        for bucket in loads(path.read_bytes())["data"]:
            day = datetime.fromtimestamp(bucket["start_time"], timezone.utc).date()
            for result in bucket["results"]:
                pages[day] += result["amount"]["value"]
    invoice = _rows(reconciled_both_ways["tmp"] / "s3.duckdb",
                    "select usage_date, sum(invoice_cost_usd) from fct_spend_reconciliation "
                    "where provider = 'openai' group by usage_date order by usage_date")
    assert invoice == sorted(pages.items())
    assert all(type(v) is Decimal and v > 0 for v in pages.values())


def test_every_object_read_landed_once_as_delivered(reconciled_both_ways):
    run = reconciled_both_ways
    landed = sorted(p.relative_to(run["landing"]).as_posix() for p in run["landing"].rglob("*")
                    if p.is_file() and not p.name.startswith("."))
    hidden = sorted(p.name for p in run["landing"].rglob(".*"))
    assert set(landed) <= set(run["uploaded"])
    read_by_ingest = [k for k in run["uploaded"] if k.split("/")[2] in ("openai", "app_logs", "worker_logs")]
    assert set(read_by_ingest) <= set(landed)
    assert hidden == sorted(f".{k.rsplit('/', 1)[1]}.s3.json" for k in landed)  # one sidecar each, no temp files
    for key in landed:
        data = (run["landing"] / key).read_bytes()
        assert data == (SAMPLES / key[len(ROOT) + 1 :]).read_bytes(), key
        assert sidecar(run["landing"] / key) == {"etag": etag(data), "size": len(data),
                                                 "sha256": hashlib.sha256(data).hexdigest()}
