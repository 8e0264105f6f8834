"""Live pulls from the OpenAI and Anthropic Admin APIs, against a real HTTP server on loopback.

`tests/apiserver.py` serves the documented pages (provider-formats.md sections 1 and 2) from an
in-memory dataset for 2026-11-02 (plus buckets on the days either side that a one-day pull must
not receive), two results per page, and answers planned faults first. Every test asserts the
exact pages, requests, waits and rows; the key must appear nowhere the pull writes or raises.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
import traceback
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pytest

from pipelines.defs.anthropic.parse import parse_cost_pages as parse_anthropic_costs
from pipelines.defs.anthropic.parse import parse_usage_pages as parse_anthropic_usage
from pipelines.defs.anthropic.pull import AnthropicAdminAPI, anthropic_api_pages, anthropic_client, pull_anthropic_day
from pipelines.defs.openai.parse import parse_cost_pages, parse_usage_pages
from pipelines.defs.openai.pull import OpenAIAdminAPI, openai_api_pages, openai_client, pull_openai_day
from pipelines.lib.http import ApiError, retry_after_seconds
from pipelines.lib.store import LocalStore

from .apiserver import ANTHROPIC_KEY, OPENAI_KEY, api_server  # noqa: F401  (the fixture)

DAY = date(2026, 11, 2)
COMPLETIONS = "/v1/organization/usage/completions"
EMBEDDINGS = "/v1/organization/usage/embeddings"
COSTS = "/v1/organization/costs"
MESSAGES = "/v1/organizations/usage_report/messages"
COST_REPORT = "/v1/organizations/cost_report"

OPENAI_WINDOW = "start_time=1793577600&end_time=1793664000&bucket_width=1d"
OPENAI_FIRST_QUERIES = {
    COMPLETIONS: f"{OPENAI_WINDOW}&group_by=project_id&group_by=model&group_by=batch&group_by=service_tier&limit=1",
    EMBEDDINGS: f"{OPENAI_WINDOW}&group_by=project_id&group_by=model&limit=1",
    COSTS: f"{OPENAI_WINDOW}&group_by=project_id&group_by=line_item&limit=1",
}
OPENAI_FILES = [
    "openai/usage/completions/2026-11-02/page-001.json",
    "openai/usage/completions/2026-11-02/page-002.json",
    "openai/usage/embeddings/2026-11-02/page-001.json",
    "openai/costs/2026-11-02/page-001.json",
    "openai/costs/2026-11-02/page-002.json",
    "openai/costs/2026-11-02/page-003.json",
]
ANTHROPIC_FILES = [
    "anthropic/usage_report/2026-11-02/page-001.json",
    "anthropic/usage_report/2026-11-02/page-002.json",
    "anthropic/cost_report/2026-11-02/page-001.json",
    "anthropic/cost_report/2026-11-02/page-002.json",
]


class Sleeps:
    """The client's sleep: records every wait, and really waits when `real`."""

    def __init__(self, real: bool = False):
        self.real = real
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(float(seconds))
        if self.real:
            time.sleep(seconds)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def relative(files: list[Path], root: Path) -> list[str]:
    return [f.relative_to(root).as_posix() for f in files]


def everything_written(root: Path) -> str:
    """Every file under `root` (hidden manifests and temporaries included), as text."""
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(root.rglob("*")) if p.is_file())


# ---------------------------------------------------------------------------------------------
# OpenAI


def test_openai_pull_lands_every_page_exactly_as_served_after_one_503_and_one_429(api_server, tmp_path):
    api_server.fail(COMPLETIONS, 503)
    api_server.fail(COSTS, 429, retry_after="1")
    sleeps = Sleeps(real=True)
    root = tmp_path / "landing"

    files = pull_openai_day(openai_client(OPENAI_KEY, api_server.url, sleep=sleeps), DAY, root)

    assert relative(files, root) == OPENAI_FILES
    assert [sha(f.read_bytes()) for f in files] == [s.sha256 for s in api_server.served]
    assert [(r.path, r.status) for r in api_server.received] == [
        (COMPLETIONS, 503), (COMPLETIONS, 200), (COMPLETIONS, 200), (EMBEDDINGS, 200),
        (COSTS, 429), (COSTS, 200), (COSTS, 200), (COSTS, 200),
    ]  # 6 pages + 2 retried requests
    assert sleeps.waits == [0.5, 1.0]  # exponential back-off after the 503; Retry-After: 1 after the 429
    rate_limited, retried = api_server.requests_to(COSTS)[:2]
    assert retried.at - rate_limited.at >= 1.0
    assert {r.headers["authorization"] for r in api_server.received} == {f"Bearer {OPENAI_KEY}"}

    # first pages carry the documented parameters, repeated bare group_by keys; later pages add the cursor
    for path, query in OPENAI_FIRST_QUERIES.items():
        assert api_server.requests_to(path)[0].query == query
    completions = [s for s in api_server.served if s.path == COMPLETIONS]
    assert api_server.requests_to(COMPLETIONS)[2].params == {
        "start_time": ["1793577600"], "end_time": ["1793664000"], "bucket_width": ["1d"],
        "group_by": ["project_id", "model", "batch", "service_tier"], "limit": ["1"],
        "page": [json.loads(completions[0].body)["next_page"]],
    }

    # the manifest beside each day's pages records their content hashes and queries
    manifest = json.loads((root / "openai/costs/2026-11-02/.manifest.json").read_text())
    costs = [s for s in api_server.served if s.path == COSTS]
    assert manifest["source"] == "openai/costs" and manifest["day"] == "2026-11-02"
    assert [(p["file"], p["bytes"], p["sha256"], p["query"]) for p in manifest["pages"]] == [
        (f"page-00{i}.json", len(s.body), s.sha256, s.query) for i, s in enumerate(costs, start=1)
    ]
    assert OPENAI_KEY not in everything_written(tmp_path)


def test_pulled_openai_pages_parse_to_exact_rows(api_server, tmp_path):
    root = tmp_path / "landing"
    pull_openai_day(openai_client(OPENAI_KEY, api_server.url), DAY, root)
    store = LocalStore(root)  # how the ingest reads the landing zone: the hidden manifest is not a page
    assert store.list("openai/costs/2026-11-02") == OPENAI_FILES[3:]

    costs = parse_cost_pages([store.read(k) for k in store.list("openai/costs/2026-11-02")], folder_date=DAY)
    assert costs.counts == {"lines_read": 5, "records": 5, "skipped": 0, "rejected": 0, "files": 3}
    assert pc.sum(costs.records["amount"]).as_py() == Decimal("0.76065")
    assert sorted((r["project_id"], r["line_item"], r["amount"], r["usage_date"])
                  for r in costs.records.to_pylist()) == [
        ("proj_app", "gpt-4o-mini-2024-07-18, cached input", Decimal("0.00135"), DAY),
        ("proj_app", "gpt-4o-mini-2024-07-18, input", Decimal("0.0045"), DAY),
        ("proj_app", "gpt-4o-mini-2024-07-18, output", Decimal("0.006"), DAY),
        ("proj_app", "web search tool calls", Decimal("0.06"), DAY),
        ("proj_jobs", "gpt-4o-mini-2024-07-18, input", Decimal("0.6888"), DAY),
    ]

    usage = parse_usage_pages([store.read(k) for k in store.list("openai/usage/completions/2026-11-02")],
                              endpoint="completions", folder_date=DAY)
    assert usage.counts == {"lines_read": 3, "records": 3, "skipped": 0, "rejected": 0, "files": 2}
    assert sorted((r["project_id"], r["model"], r["input_tokens"], r["input_cached_tokens"],
                   r["input_cache_write_tokens"], r["output_tokens"], r["num_model_requests"], r["usage_date"])
                  for r in usage.records.to_pylist()) == [
        ("proj_app", "gpt-4o-mini-2024-07-18", 50_000, 18_000, 2_000, 10_000, 50, DAY),
        ("proj_jobs", "gpt-4o-2024-08-06", 7_000, 0, 0, 1_500, 4, DAY),
        ("proj_jobs", "gpt-4o-mini-2024-07-18", 120_000, 100_000, 0, 4_000, 30, DAY),
    ]
    embeddings = parse_usage_pages([store.read(k) for k in store.list("openai/usage/embeddings/2026-11-02")],
                                   endpoint="embeddings", folder_date=DAY)
    assert [(r["model"], r["input_tokens"], r["num_model_requests"]) for r in embeddings.records.to_pylist()] == [
        ("text-embedding-3-small", 640_000, 12)]


def test_a_repull_with_fewer_pages_replaces_the_day(api_server, tmp_path):
    root = tmp_path / "landing"
    pull_openai_day(openai_client(OPENAI_KEY, api_server.url), DAY, root)
    api_server.results_per_page = 10
    files = pull_openai_day(openai_client(OPENAI_KEY, api_server.url), DAY, root)
    assert relative(files, root) == [
        "openai/usage/completions/2026-11-02/page-001.json",
        "openai/usage/embeddings/2026-11-02/page-001.json",
        "openai/costs/2026-11-02/page-001.json",
    ]
    assert sorted(p.name for p in (root / "openai/costs/2026-11-02").iterdir()) == [".manifest.json", "page-001.json"]
    manifest = json.loads((root / "openai/costs/2026-11-02/.manifest.json").read_text())
    assert [p["sha256"] for p in manifest["pages"]] == [api_server.served[-1].sha256]


# ---------------------------------------------------------------------------------------------
# Anthropic


def test_anthropic_pull_lands_every_page_with_bracket_group_by_and_version_header(api_server, tmp_path):
    api_server.fail(MESSAGES, 503)
    api_server.fail(COST_REPORT, 429, retry_after="0")
    sleeps = Sleeps()
    root = tmp_path / "landing"

    files = pull_anthropic_day(anthropic_client(ANTHROPIC_KEY, api_server.url, sleep=sleeps), DAY, root)

    assert relative(files, root) == ANTHROPIC_FILES
    assert [sha(f.read_bytes()) for f in files] == [s.sha256 for s in api_server.served]
    assert [(r.path, r.status) for r in api_server.received] == [
        (MESSAGES, 503), (MESSAGES, 200), (MESSAGES, 200), (COST_REPORT, 429), (COST_REPORT, 200), (COST_REPORT, 200),
    ]  # 4 pages + 2 retried requests
    assert sleeps.waits == [0.5, 0.0]
    assert {(r.headers["x-api-key"], r.headers["anthropic-version"]) for r in api_server.received} == {
        (ANTHROPIC_KEY, "2023-06-01")}
    assert all("authorization" not in r.headers for r in api_server.received)
    window = {"starting_at": ["2026-11-02T00:00:00Z"], "ending_at": ["2026-11-03T00:00:00Z"], "bucket_width": ["1d"]}
    assert api_server.requests_to(MESSAGES)[0].params == window | {
        "group_by[]": ["workspace_id", "model", "service_tier", "context_window", "inference_geo"], "limit": ["1"]}
    first_cost_page = [s for s in api_server.served if s.path == COST_REPORT][0]
    assert api_server.requests_to(COST_REPORT)[2].params == window | {
        "group_by[]": ["workspace_id", "description"], "limit": ["1"],
        "page": [json.loads(first_cost_page.body)["next_page"]]}

    store = LocalStore(root)
    costs = parse_anthropic_costs([store.read(k) for k in store.list("anthropic/cost_report/2026-11-02")],
                                  folder_date=DAY)
    assert costs.counts == {"lines_read": 3, "records": 3, "skipped": 0, "rejected": 0, "files": 2}
    # cents "36.0102" + "45.8265" + "50" = 131.8367 cents; the next day's bucket was not pulled
    assert pc.sum(costs.records["amount_usd"]).as_py() == Decimal("1.318367")
    usage = parse_anthropic_usage([store.read(k) for k in store.list("anthropic/usage_report/2026-11-02")],
                                  folder_date=DAY)
    assert sorted((r["workspace_id"] or "", r["model"], r["service_tier"], r["uncached_input_tokens"],
                   r["cache_read_input_tokens"], r["cache_creation_5m_input_tokens"],
                   r["cache_creation_1h_input_tokens"], r["output_tokens"]) for r in usage.records.to_pylist()) == [
        ("", "claude-sonnet-4-5-20250929", "standard", 120_034, 880_120, 40_210, 0, 30_551),
        ("wrkspc_jobs", "claude-haiku-4-5-20251001", "standard", 70_000, 0, 0, 0, 9_000),
        ("wrkspc_jobs", "claude-sonnet-4-5-20250929", "batch", 5_000, 0, 0, 1_000, 2_000),
    ]
    assert ANTHROPIC_KEY not in everything_written(tmp_path)


# ---------------------------------------------------------------------------------------------
# failures: loud, bounded, and without the key


def test_retry_after_is_read_as_seconds_or_an_http_date():
    now = datetime(2026, 11, 2, 7, 28, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("1", now) == 1.0
    assert retry_after_seconds(" 0 ", now) == 0.0
    assert retry_after_seconds("Mon, 02 Nov 2026 07:28:05 GMT", now) == 5.0
    assert retry_after_seconds("Mon, 02 Nov 2026 07:27:00 GMT", now) == 0.0  # in the past: retry now
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_a_server_that_always_fails_fails_the_pull_loudly_after_the_budget(api_server, tmp_path):
    api_server.fail(EMBEDDINGS, 503, times=None)
    sleeps = Sleeps()
    root = tmp_path / "landing"

    with pytest.raises(ApiError) as failure:
        pull_openai_day(openai_client(OPENAI_KEY, api_server.url, attempts=4, sleep=sleeps), DAY, root)

    assert str(failure.value) == (
        f"GET {api_server.url}{EMBEDDINGS}?{OPENAI_FIRST_QUERIES[EMBEDDINGS]} failed after 4 attempts: "
        "HTTP 503 Service Unavailable")
    assert failure.value.status == 503
    assert [r.status for r in api_server.requests_to(EMBEDDINGS)] == [503, 503, 503, 503]
    assert len(api_server.received) == 2 + 4  # the two completions pages, then four tries
    assert sleeps.waits == [0.5, 1.0, 2.0]
    assert not root.exists()  # nothing lands until every listing was fetched whole
    assert OPENAI_KEY not in "".join(traceback.format_exception(failure.value)) + repr(failure.value)


def test_connection_errors_are_retried_within_the_budget(tmp_path):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    client = anthropic_client(ANTHROPIC_KEY, f"http://127.0.0.1:{port}", attempts=3, sleep=sleeps)
    with pytest.raises(ApiError) as failure:
        pull_anthropic_day(client, DAY, tmp_path)
    assert str(failure.value).startswith(f"GET http://127.0.0.1:{port}{MESSAGES}?starting_at=2026-11-02T00%3A00%3A00Z")
    assert " failed after 3 attempts: connection failed (" in str(failure.value)
    assert sleeps.waits == [0.5, 1.0] and failure.value.status is None


def test_a_retry_after_beyond_the_budget_stops_at_once(api_server, tmp_path):
    api_server.fail(COSTS, 429, retry_after="120", times=None)
    sleeps = Sleeps()
    with pytest.raises(ApiError) as failure:
        pull_openai_day(openai_client(OPENAI_KEY, api_server.url, max_wait=60, sleep=sleeps), DAY, tmp_path)
    assert str(failure.value) == (
        f"GET {api_server.url}{COSTS}?{OPENAI_FIRST_QUERIES[COSTS]} failed after 1 attempt "
        "(the server asked to wait 120 s, more than the 60 s budget): HTTP 429 Too Many Requests")
    assert len(api_server.requests_to(COSTS)) == 1 and sleeps.waits == []


def test_a_wrong_key_is_not_retried_and_not_echoed(api_server, tmp_path):
    wrong = "sk-admin-WRONG-5b2d90c1e7"
    with pytest.raises(ApiError) as failure:
        pull_openai_day(openai_client(wrong, api_server.url), DAY, tmp_path)
    assert str(failure.value) == (
        f"GET {api_server.url}{COMPLETIONS}?{OPENAI_FIRST_QUERIES[COMPLETIONS]}: HTTP 401 Unauthorized "
        "(check the admin key)")
    assert [r.status for r in api_server.received] == [401]
    assert wrong not in "".join(traceback.format_exception(failure.value))


def test_the_server_refuses_the_other_providers_group_by_style_and_a_missing_version(api_server):
    openai = openai_client(OPENAI_KEY, api_server.url, attempts=1)
    with pytest.raises(ApiError) as failure:
        openai.get(COMPLETIONS, [("start_time", "1793577600"), ("group_by[]", "model")])
    assert failure.value.status == 400
    assert "unknown query parameter(s) ['group_by[]']" in str(failure.value)

    anthropic = anthropic_client(ANTHROPIC_KEY, api_server.url, attempts=1)
    with pytest.raises(ApiError) as failure:
        anthropic.get(COST_REPORT, [("starting_at", "2026-11-02T00:00:00Z"), ("group_by", "description")])
    assert failure.value.status == 400

    anthropic.headers.pop("anthropic-version")
    with pytest.raises(ApiError) as failure:
        anthropic.get(COST_REPORT, [("starting_at", "2026-11-02T00:00:00Z")])
    assert failure.value.status == 401
    assert [r.status for r in api_server.received] == [400, 400, 401]


@pytest.mark.parametrize(("fault", "reason"), [
    ("missing", "has_more is true but next_page is missing"),
    ("repeat", "the server repeated the cursor"),
])
def test_a_broken_cursor_fails_the_pull(api_server, tmp_path, fault, reason):
    api_server.cursor_fault = fault
    with pytest.raises(ApiError, match=reason):
        pull_anthropic_day(anthropic_client(ANTHROPIC_KEY, api_server.url), DAY, tmp_path / "landing")
    assert not (tmp_path / "landing").exists()


# ---------------------------------------------------------------------------------------------
# Dagster: the assets, with and without keys, and the key nowhere in what Dagster records


def materialize(tmp_path, *, attempts: int = 6):
    instance = dg.DagsterInstance.ephemeral()
    landing = str(tmp_path / "landing")
    resources = {
        "openai_admin": OpenAIAdminAPI.from_env(landing=landing, attempts=attempts, backoff_seconds=0.0),
        "anthropic_admin": AnthropicAdminAPI.from_env(landing=landing, attempts=attempts, backoff_seconds=0.0),
    }
    result = dg.materialize([openai_api_pages, anthropic_api_pages], partition_key=DAY.isoformat(),
                            resources=resources, instance=instance, raise_on_error=False)
    recorded = [dg.serialize_value(e) for e in instance.all_logs(result.run_id)]
    recorded.append(dg.serialize_value(instance.get_run_by_id(result.run_id)))
    return result, "\n".join(recorded)


def with_keys(monkeypatch, api_server):
    monkeypatch.setenv("OPENAI_ADMIN_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("DARKCOMPUTE_OPENAI_API_URL", api_server.url)
    monkeypatch.setenv("DARKCOMPUTE_ANTHROPIC_API_URL", api_server.url)


@pytest.mark.slow
def test_the_assets_pull_the_partition_and_the_keys_appear_nowhere(api_server, tmp_path, monkeypatch, capfd):
    with_keys(monkeypatch, api_server)
    api_server.fail(COSTS, 429, retry_after="0")

    result, recorded = materialize(tmp_path)

    assert result.success
    metadata = {e.materialization.asset_key.to_user_string(): e.materialization.metadata
                for e in result.get_asset_materialization_events()}
    served_bytes = {provider: sum(len(s.body) for s in api_server.served if s.path.startswith(prefix))
                    for provider, prefix in (("openai", "/v1/organization/"), ("anthropic", "/v1/organizations/"))}
    assert {k: (m["pulled"].value, m["pages"].value, m["bytes"].value) for k, m in metadata.items()} == {
        "openai_api_pages": (True, 6, served_bytes["openai"]),
        "anthropic_api_pages": (True, 4, served_bytes["anthropic"]),
    }
    assert len(api_server.received) == 6 + 1 + 4
    landed = sorted(p.relative_to(tmp_path / "landing").as_posix() for p in (tmp_path / "landing").rglob("page-*.json"))
    assert landed == sorted(OPENAI_FILES + ANTHROPIC_FILES)
    output = capfd.readouterr()
    # the scans cover the materialization metadata, the manifests and Dagster's console log
    assert "openai/costs/2026-11-02/page-003.json" in recorded and "anthropic_api_pages" in output.err
    assert len(list((tmp_path / "landing").rglob(".manifest.json"))) == 5
    for key in (OPENAI_KEY, ANTHROPIC_KEY):
        assert key not in recorded
        assert key not in everything_written(tmp_path)
        assert key not in output.out + output.err


@pytest.mark.slow
def test_without_keys_the_assets_pull_nothing_and_say_so(api_server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY", raising=False)

    result, _ = materialize(tmp_path)

    assert result.success
    metadata = {e.materialization.asset_key.to_user_string(): e.materialization.metadata
                for e in result.get_asset_materialization_events()}
    assert {k: (m["pulled"].value, m["reason"].value) for k, m in metadata.items()} == {
        "openai_api_pages": (False, "OPENAI_ADMIN_KEY is not set: nothing pulled"),
        "anthropic_api_pages": (False, "ANTHROPIC_ADMIN_KEY is not set: nothing pulled"),
    }
    assert api_server.received == []
    assert not (tmp_path / "landing").exists()


@pytest.mark.slow
def test_a_failing_pull_fails_the_asset_with_an_error_free_of_the_key(api_server, tmp_path, monkeypatch, capfd):
    with_keys(monkeypatch, api_server)
    api_server.fail(COSTS, 503, times=None)
    api_server.fail(COST_REPORT, 500, times=None)

    result, recorded = materialize(tmp_path, attempts=2)

    assert not result.success
    failures = {e.step_key: e.step_failure_data.error.cause.message.strip() if e.step_failure_data.error.cause
                else e.step_failure_data.error.message.strip()
                for e in result.all_events if e.is_step_failure}
    assert failures == {
        "openai_api_pages": f"pipelines.lib.http.ApiError: GET {api_server.url}{COSTS}?{OPENAI_FIRST_QUERIES[COSTS]} "
                            "failed after 2 attempts: HTTP 503 Service Unavailable",
        "anthropic_api_pages": "pipelines.lib.http.ApiError: GET "
                               f"{api_server.url}{COST_REPORT}?{api_server.requests_to(COST_REPORT)[0].query} "
                               "failed after 2 attempts: HTTP 500 Internal Server Error",
    }
    assert sorted(p.name for p in tmp_path.rglob("page-*.json")) == []
    output = capfd.readouterr()
    assert recorded.count("failed after 2 attempts") >= 2 and "failed after 2 attempts" in output.err
    for key in (OPENAI_KEY, ANTHROPIC_KEY):
        assert key not in recorded
        assert key not in output.out + output.err
