"""A loopback stand-in for the OpenAI and Anthropic Admin APIs (provider-formats.md, sections 1-2).

`ApiServer` serves the documented pages (OpenAI `object: "page"` of `bucket`s with unix-second
times; Anthropic reports with RFC 3339 `starting_at`/`ending_at`) from an in-memory dataset of
buckets whose results are raw JSON texts, so number literals are served exactly as written. It
splits a listing across pages (`has_more`, opaque `next_page` cursors), checks the auth headers
and the query parameters (repeated bare `group_by` for OpenAI, `group_by[]` for Anthropic, known
names and values only, `limit` within the documented range), answers planned faults (a 429 with
`Retry-After`, a 503) before the real answer, and records every request it received.
`ThreadingHTTPServer` on 127.0.0.1, port 0, in a thread; the `api_server` fixture stops it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

OPENAI_KEY = "sk-admin-TESTONLY-openai-7c1f2a9e4b"
ANTHROPIC_KEY = "sk-ant-admin01-TESTONLY-anthropic-3d8e5f60"
ANTHROPIC_VERSION = "2023-06-01"

DAY_START = 1793577600  # 2026-11-02T00:00:00Z
DAY = 86400
WIDTH_LIMITS = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}  # (default, max) buckets per page

OPENAI_USAGE_GROUPS = {"project_id", "user_id", "api_key_id", "model"}
OPENAI_FILTERS = {"project_ids", "user_ids", "api_key_ids", "models"}


@dataclass(frozen=True)
class Route:
    """What one endpoint accepts."""

    provider: str  # "openai" or "anthropic"
    group_by: frozenset[str]
    widths: frozenset[str]
    max_limit: int | None = None  # overrides the per-width maximum (costs)
    filters: frozenset[str] = frozenset()


ROUTES = {
    "/v1/organization/usage/completions": Route(
        "openai", frozenset(OPENAI_USAGE_GROUPS | {"batch", "service_tier"}), frozenset(WIDTH_LIMITS),
        filters=frozenset(OPENAI_FILTERS | {"batch"})),
    "/v1/organization/usage/embeddings": Route(
        "openai", frozenset(OPENAI_USAGE_GROUPS), frozenset(WIDTH_LIMITS), filters=frozenset(OPENAI_FILTERS)),
    "/v1/organization/costs": Route(
        "openai", frozenset({"project_id", "line_item", "api_key_id"}), frozenset({"1d"}), max_limit=180,
        filters=frozenset({"project_ids", "api_key_ids"})),
    "/v1/organizations/usage_report/messages": Route(
        "anthropic",
        frozenset({"api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo", "speed",
                   "account_id", "service_account_id"}),
        frozenset(WIDTH_LIMITS),
        filters=frozenset({"api_key_ids[]", "workspace_ids[]", "models[]", "service_tiers[]", "context_window[]"})),
    "/v1/organizations/cost_report": Route(
        "anthropic", frozenset({"workspace_id", "description"}), frozenset({"1d"}), max_limit=31),
}


@dataclass(frozen=True)
class Bucket:
    """One time bucket of a listing: [start, end) in unix seconds, results as raw JSON texts."""

    start: int
    end: int
    results: tuple[str, ...]


@dataclass
class Received:
    """One request as the server saw it, and the status it answered."""

    path: str
    query: str
    params: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    status: int
    at: float  # time.monotonic() when it arrived


@dataclass(frozen=True)
class Served:
    """The body of one successful (200) page."""

    path: str
    query: str
    body: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass
class Fault:
    status: int
    retry_after: str | None
    times: int | None  # None: forever
    body: bytes | None = None  # None: a short error object
    echo: bool = False  # a 200: the real page, plus the request's headers echoed back in it


class BadRequest(Exception):
    pass


@dataclass
class ApiServer:
    """The stand-in API. `dataset` maps an endpoint path to its buckets (all of one width,
    `widths[path]`, default `1d`); `results_per_page` splits results across pages."""

    dataset: dict[str, list[Bucket]]
    widths: dict[str, str] = field(default_factory=dict)
    results_per_page: int = 2
    cursor_fault: str | None = None  # "missing": has_more without next_page; "repeat": the first cursor again
    openai_key: str = OPENAI_KEY
    anthropic_key: str = ANTHROPIC_KEY
    received: list[Received] = field(default_factory=list)
    served: list[Served] = field(default_factory=list)

    def __post_init__(self):
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------- lifecycle

    def start(self) -> ApiServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5  # a stuck client cannot hold a thread for ever

            def do_GET(self):  # noqa: N802 (http.server's naming)
                server._handle(self)

            def log_message(self, format, *args):  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # ---------- planned faults

    def fail(self, path: str, status: int, *, retry_after: str | None = None, times: int | None = 1,
             body: bytes | None = None) -> None:
        """Answer the next `times` requests for `path` (None: every one) with `status` (and `body`)."""
        self._faults[path].append(Fault(status, retry_after, times, body))

    def echo_headers(self, path: str, *, times: int | None = 1) -> None:
        """Answer the next `times` requests for `path` with the real page plus a `request_headers`
        object echoing every header received (credentials included), as a debugging proxy might."""
        self._faults[path].append(Fault(200, None, times, echo=True))

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    # ---------- one request

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        parts = urllib.parse.urlsplit(h.path)
        params = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        status, body, headers = self._answer(parts.path, parts.query, params, h.headers)
        with self._lock:
            headers_seen = {k.lower(): v for k, v in h.headers.items()}
            self.received.append(Received(parts.path, parts.query, params, headers_seen, status, arrived))
            if status == 200:
                self.served.append(Served(parts.path, parts.query, body))
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)

    def _answer(self, path, query, params, headers) -> tuple[int, bytes, dict]:
        route = ROUTES.get(path)
        if route is None:
            return 404, _error("not_found", f"no route {path}"), {}
        denied = self._auth(route.provider, headers)
        if denied:
            return 401, _error("authentication_error", denied), {}
        fault = None
        with self._lock:
            faults = self._faults[path]
            if faults:
                fault = faults[0]
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        faults.popleft()
                extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                if not fault.echo:
                    body = fault.body if fault.body is not None else _error(
                        "rate_limit" if fault.status == 429 else "overloaded", "try again")
                    return fault.status, body, extra
        try:
            page = self._page(path, route, query, params)
            if fault is not None and fault.echo:
                echoed = json.dumps({"request_headers": dict(headers.items())})
                page = page[:-1] + b", " + echoed[1:-1].encode() + b"}"
            return 200, page, {}
        except BadRequest as exc:
            return 400, _error("invalid_request_error", str(exc)), {}

    def _auth(self, provider: str, headers) -> str | None:
        if provider == "openai":
            got = headers.get("Authorization")
            if got != f"Bearer {self.openai_key}":
                return f"Incorrect API key provided: {got}"  # echoes what it got, as real APIs half do
            return None
        if headers.get("x-api-key") != self.anthropic_key:
            return f"invalid x-api-key: {headers.get('x-api-key')}"
        if headers.get("anthropic-version") != ANTHROPIC_VERSION:
            return "anthropic-version header is required"
        return None

    # ---------- the listing and its pages

    def _page(self, path: str, route: Route, query: str, params: dict[str, list[str]]) -> bytes:
        start, end, width, limit = self._check(route, params, self.widths.get(path, "1d"))
        if route.provider == "openai":
            buckets = [b for b in self.dataset.get(path, []) if b.start >= start and (end is None or b.start < end)]
        else:
            buckets = [b for b in self.dataset.get(path, []) if b.start >= start and (end is None or b.end <= end)]
        pages = _split(buckets, self.results_per_page, limit)
        listing = _listing_id(path, query)
        index = 0
        if "page" in params:
            index = _cursor_index(params["page"][0], listing, len(pages))
        chunk = pages[index] if pages else []
        cursor = _cursor(listing, index + 1) if index + 1 < len(pages) else None
        if cursor and self.cursor_fault == "missing":
            return _render(route.provider, chunk, None, has_more=True).encode()
        if len(pages) > 1 and self.cursor_fault == "repeat":  # page 2 points back at itself
            cursor = _cursor(listing, 1)
        return _render(route.provider, chunk, cursor).encode()

    def _check(self, route: Route, params: dict[str, list[str]], served_width: str):
        """The request's (start, end, width, limit), or BadRequest naming what is wrong."""
        if route.provider == "openai":
            group_key, start_key, end_key = "group_by", "start_time", "end_time"
            known = {"start_time", "end_time", "bucket_width", "group_by", "limit", "page"} | route.filters
        else:
            group_key, start_key, end_key = "group_by[]", "starting_at", "ending_at"
            known = {"starting_at", "ending_at", "bucket_width", "group_by[]", "limit", "page"} | route.filters
        unknown = sorted(set(params) - known)
        if unknown:
            raise BadRequest(f"unknown query parameter(s) {unknown} (group_by style: {group_key})")
        for name, values in params.items():
            if name not in (group_key,) and name not in route.filters and len(values) > 1:
                raise BadRequest(f"{name} given {len(values)} times")
        groups = params.get(group_key, [])
        if len(set(groups)) != len(groups) or not set(groups) <= route.group_by:
            raise BadRequest(f"invalid {group_key} values {groups}")
        if start_key not in params:
            raise BadRequest(f"{start_key} is required")
        start = _instant(route.provider, params[start_key][0], start_key)
        end = _instant(route.provider, params[end_key][0], end_key) if end_key in params else None
        width = params.get("bucket_width", ["1d"])[0]
        if width not in route.widths:
            raise BadRequest(f"bucket_width {width!r} is not allowed here")
        if width != served_width:
            raise BadRequest(f"this server holds {served_width} buckets, not {width}")
        default, most = WIDTH_LIMITS[width]
        most = route.max_limit or most
        try:
            limit = int(params.get("limit", [str(default)])[0])
        except ValueError:
            raise BadRequest("limit is not an integer") from None
        if not 1 <= limit <= most:
            raise BadRequest(f"limit must be between 1 and {most}")
        return start, end, width, limit


def _instant(provider: str, text: str, name: str) -> int:
    try:
        if provider == "openai":
            return int(text)
        if not text.endswith("Z"):
            raise ValueError
        return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
    except ValueError:
        expected = "unix seconds" if provider == "openai" else "RFC 3339 UTC"
        raise BadRequest(f"{name} {text!r} is not {expected}") from None


def _split(buckets: list[Bucket], per_page: int, limit: int) -> list[list[tuple[Bucket, list[str]]]]:
    """Pages of (bucket, its results on this page): at most `per_page` results and `limit`
    buckets per page; a bucket may continue on the next page; an empty bucket takes a slot."""
    items = [(b, r) for b in buckets for r in (b.results or (None,))]
    pages: list[list[tuple[Bucket, list[str]]]] = []
    page: list[tuple[Bucket, list[str]]] = []
    used = 0
    for bucket, result in items:
        new_bucket = not page or page[-1][0] is not bucket
        if used == per_page or (new_bucket and len(page) == limit):
            pages.append(page)
            page, used, new_bucket = [], 0, True
        if new_bucket:
            page.append((bucket, []))
        if result is not None:
            page[-1][1].append(result)
        used += 1
    if page:
        pages.append(page)
    return pages


def _render(provider: str, chunk: list[tuple[Bucket, list[str]]], cursor: str | None, has_more: bool = False) -> str:
    """The page as the provider writes it, results spliced in as raw JSON text."""
    more = "true" if cursor or has_more else "false"
    nxt = json.dumps(cursor)
    if provider == "openai":
        buckets = ", ".join(
            '{"object": "bucket", "start_time": %d, "end_time": %d, "results": [%s]}' % (b.start, b.end, ", ".join(rs))
            for b, rs in chunk
        )
        return '{"object": "page", "data": [%s], "has_more": %s, "next_page": %s}' % (buckets, more, nxt)
    buckets = ", ".join(
        '{"starting_at": "%s", "ending_at": "%s", "results": [%s]}'
        % (_rfc3339(b.start), _rfc3339(b.end), ", ".join(rs))
        for b, rs in chunk
    )
    return '{"data": [%s], "has_more": %s, "next_page": %s}' % (buckets, more, nxt)


def _rfc3339(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _listing_id(path: str, query: str) -> str:
    """Which listing a request belongs to: its path and query without the cursor."""
    pairs = [(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True) if k != "page"]
    return hashlib.sha256(f"{path}?{urllib.parse.urlencode(pairs)}".encode()).hexdigest()[:12]


def _cursor(listing: str, index: int) -> str:
    return "page_" + base64.urlsafe_b64encode(f"{listing}:{index}".encode()).decode()


def _cursor_index(cursor: str, listing: str, pages: int) -> int:
    try:
        owner, index = base64.urlsafe_b64decode(cursor.removeprefix("page_")).decode().split(":")
        index = int(index)
    except ValueError:
        raise BadRequest(f"invalid page cursor {cursor!r}") from None
    if owner != listing or not 0 < index < pages:
        raise BadRequest(f"page cursor {cursor!r} does not belong to this query")
    return index


def _error(kind: str, message: str) -> bytes:
    return json.dumps({"error": {"type": kind, "message": message}}).encode()


# ---------- the documented dataset (2026-11-02, plus a bucket the day before that must not be pulled)

def _day(offset: int = 0) -> tuple[int, int]:
    return DAY_START + offset * DAY, DAY_START + (offset + 1) * DAY


def completion(project: str, model: str, inp: int, cached: int, written: int, out: int, requests: int) -> str:
    return json.dumps({
        "object": "organization.usage.completions.result", "input_tokens": inp, "input_cached_tokens": cached,
        "input_cache_write_tokens": written, "input_uncached_tokens": inp - cached - written, "output_tokens": out,
        "num_model_requests": requests, "project_id": project, "user_id": None, "api_key_id": None,
        "model": model, "batch": False, "service_tier": "default"})


def embedding(project: str, model: str, inp: int, requests: int) -> str:
    return json.dumps({
        "object": "organization.usage.embeddings.result", "input_tokens": inp, "num_model_requests": requests,
        "project_id": project, "user_id": None, "api_key_id": None, "model": model})


def cost(line_item: str | None, project: str, amount: str, quantity: str = "null") -> str:
    """A Costs API result; `amount` is the JSON number literal exactly as served."""
    return ('{"object": "organization.costs.result", "amount": {"value": %s, "currency": "usd"}, "line_item": %s, '
            '"project_id": "%s", "api_key_id": null, "quantity": %s, "quantity_unit": %s}'
            % (amount, json.dumps(line_item), project, quantity, '"tokens"' if quantity != "null" else "null"))


def anthropic_usage(workspace: str | None, model: str, uncached: int, read: int, w5m: int, w1h: int, out: int,
                    tier: str = "standard") -> str:
    return json.dumps({
        "uncached_input_tokens": uncached, "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": w5m, "ephemeral_1h_input_tokens": w1h},
        "output_tokens": out, "server_tool_use": {"web_search_requests": 0},
        "workspace_id": workspace, "api_key_id": None, "account_id": None, "service_account_id": None,
        "model": model, "service_tier": tier, "context_window": "0-200k", "inference_geo": None})


def anthropic_cost(workspace: str | None, description: str, amount_cents: str, model: str | None,
                   token_type: str | None, cost_type: str = "tokens") -> str:
    """A cost_report result; `amount_cents` is the decimal string in cents, as served."""
    return json.dumps({
        "amount": amount_cents, "currency": "USD", "workspace_id": workspace, "description": description,
        "cost_type": cost_type, "model": model, "token_type": token_type,
        "service_tier": "standard" if model else None, "context_window": "0-200k" if model else None,
        "inference_geo": None})


MINI = "gpt-4o-mini-2024-07-18"
SONNET = "claude-sonnet-4-5-20250929"

DATASET = {
    "/v1/organization/usage/completions": [
        Bucket(*_day(-1), (completion("proj_app", MINI, 999, 0, 0, 99, 9),)),
        Bucket(*_day(), (
            completion("proj_app", MINI, 50_000, 18_000, 2_000, 10_000, 50),
            completion("proj_jobs", MINI, 120_000, 100_000, 0, 4_000, 30),
            completion("proj_jobs", "gpt-4o-2024-08-06", 7_000, 0, 0, 1_500, 4),
        )),
    ],
    "/v1/organization/usage/embeddings": [
        Bucket(*_day(), (embedding("proj_jobs", "text-embedding-3-small", 640_000, 12),)),
    ],
    "/v1/organization/costs": [
        Bucket(*_day(-1), (cost(f"{MINI}, input", "proj_app", "9.99"),)),
        Bucket(*_day(), (
            cost(f"{MINI}, input", "proj_app", "0.0045000", "30000"),
            cost(f"{MINI}, cached input", "proj_app", "0.00135", "18000"),
            cost(f"{MINI}, output", "proj_app", "0.0060000", "10000"),
            cost("web search tool calls", "proj_app", "0.06"),
            cost(f"{MINI}, input", "proj_jobs", "0.68880000"),
        )),
    ],
    "/v1/organizations/usage_report/messages": [
        Bucket(*_day(), (
            anthropic_usage(None, SONNET, 120_034, 880_120, 40_210, 0, 30_551),
            anthropic_usage("wrkspc_jobs", SONNET, 5_000, 0, 0, 1_000, 2_000, tier="batch"),
            anthropic_usage("wrkspc_jobs", "claude-haiku-4-5-20251001", 70_000, 0, 0, 0, 9_000),
        )),
    ],
    "/v1/organizations/cost_report": [
        Bucket(*_day(), (
            anthropic_cost(None, "Claude Sonnet 4.5 Usage - Input Tokens", "36.0102", SONNET, "uncached_input_tokens"),
            anthropic_cost(None, "Claude Sonnet 4.5 Usage - Output Tokens", "45.8265", SONNET, "output_tokens"),
            anthropic_cost("wrkspc_jobs", "Web Search Usage", "50", None, None, cost_type="web_search"),
        )),
        Bucket(*_day(1), (anthropic_cost(None, "Claude Sonnet 4.5 Usage - Input Tokens", "1000", SONNET,
                                         "uncached_input_tokens"),)),
    ],
}


@pytest.fixture
def api_server():
    """The stand-in API on loopback with the documented dataset, two results per page."""
    server = ApiServer(dataset=DATASET).start()
    try:
        yield server
    finally:
        server.stop()
