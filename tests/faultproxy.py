"""A fault-injecting HTTP reverse proxy on 127.0.0.1, for the wire-fault tests.

`FaultProxy(upstream, rate=..., faults=..., seed=...)` forwards every request to `upstream` (moto's
S3 server, the loopback Admin API) and answers a share `rate` of them with a fault instead:

| fault      | what the client sees                                                              |
|------------|-----------------------------------------------------------------------------------|
| `500`      | `500 Internal Server Error`, S3's `InternalError` body (or a JSON `server_error`) |
| `503`      | `503 Slow Down`, S3's `SlowDown` body (or a JSON `overloaded_error`)              |
| `drop`     | the connection closed before any response (the request is not forwarded)          |
| `truncate` | the real response's status and headers, half its body, then the connection closed |

Which request gets which fault is decided by a hash of the seed, the request line and how many
times that request line was seen before, so a run is reproducible whatever the threads do, and
a retried request gets a fresh draw; `only` (a regular expression searched in the decoded
request target) limits the faults to some requests. The proxy counts what it injected and logs
every request.

It is bounded: a fixed number of connection threads (accepting waits when all are busy), a
socket timeout on both sides, at most `max_per_connection` requests on one keep-alive
connection and `max_requests` in all (beyond that it closes connections and counts the
overflow, which the tests assert is zero). Everything listens and connects on loopback only.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import re
import socket
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

FAULTS = ("500", "503", "drop", "truncate")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length"}
LOOPBACK = "127.0.0.1"

S3_ERRORS = {
    "500": (500, "Internal Server Error", "application/xml",
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
            b"<Message>We encountered an internal error. Please try again.</Message>"
            b"<RequestId>FAULTPROXY</RequestId></Error>"),
    "503": (503, "Slow Down", "application/xml",
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message><RequestId>FAULTPROXY</RequestId></Error>"),
}
JSON_ERRORS = {
    "500": (500, "Internal Server Error", "application/json",
            b'{"error": {"type": "server_error", "message": "The server had an error processing your request."}}'),
    "503": (503, "Service Unavailable", "application/json",
            b'{"error": {"type": "overloaded_error", "message": "Overloaded"}}'),
}


@dataclass(frozen=True)
class Seen:
    """One request as the proxy handled it: the method, the request target, and `ok` (forwarded
    and answered in full), the fault injected, or `upstream_error` (the upstream failed: 502)."""

    method: str
    target: str
    outcome: str


class FaultProxy:
    """The proxy in front of `upstream` (`http://127.0.0.1:<port>`). `faults` are drawn from
    uniformly for a faulted request; `only` limits faults to matching request targets; `style`
    picks the error bodies: `s3` (XML) or `json`."""

    def __init__(self, upstream: str, *, rate: float, faults: Sequence[str] = FAULTS, seed: int = 0,
                 only: str | None = None, style: str = "s3", threads: int = 64, timeout: float = 10.0,
                 idle_timeout: float = 5.0, max_per_connection: int = 100, max_requests: int = 5000):
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname != LOOPBACK:
            raise ValueError(f"the upstream must be http://{LOOPBACK}:<port>, got {upstream!r}")
        if not 0.0 <= rate <= 1.0 or not faults or set(faults) - set(FAULTS):
            raise ValueError(f"rate must be in [0, 1] and faults a non-empty subset of {FAULTS}")
        if style not in ("s3", "json"):
            raise ValueError(f"style must be 's3' or 'json', got {style!r}")
        self.upstream = (parts.hostname, parts.port)
        self.rate, self.faults, self.seed = rate, tuple(faults), seed
        self.only = re.compile(only) if only else None
        self.errors = S3_ERRORS if style == "s3" else JSON_ERRORS
        self.timeout, self.idle_timeout = timeout, idle_timeout
        self.max_per_connection, self.max_requests = max_per_connection, max_requests
        self.injected: Counter[str] = Counter()
        self.log: list[Seen] = []
        self.overflow = 0
        self._occurrences: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(threads)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------- lifecycle

    def start(self) -> FaultProxy:
        self._httpd = _Server((LOOPBACK, 0), _handler(self), self._slots)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, hang up every open connection, and wait for the server thread."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.hang_up_all()
            self._thread.join(timeout=5)
            self._httpd = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # ---------- what happened

    @property
    def requests(self) -> int:
        """Requests received (faulted or forwarded)."""
        return len(self.log)

    @property
    def answered(self) -> int:
        """Requests forwarded and answered in full."""
        return sum(1 for s in self.log if s.outcome == "ok")

    def reset(self) -> None:
        """Forget the counts, the log and the draws (the next run starts from the same seed)."""
        with self._lock:
            self.injected.clear()
            self.log.clear()
            self._occurrences.clear()
            self.overflow = 0

    # ---------- the draw

    def draw(self, method: str, target: str) -> str | None:
        """The fault for this request (None: forward it): `fault_for` its request line and the
        number of times that request line was seen before."""
        with self._lock:
            n = self._occurrences[(method, target)]
            self._occurrences[(method, target)] += 1
        return self.fault_for(method, target, n)

    def fault_for(self, method: str, target: str, n: int) -> str | None:
        """The fault the `n`-th request (from 0) for `method target` gets, or None."""
        if self.only is not None and not self.only.search(urllib.parse.unquote(target)):
            return None
        digest = hashlib.sha256(f"{self.seed}\0{method}\0{target}\0{n}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.rate:
            return None
        return self.faults[int.from_bytes(digest[8:12], "big") % len(self.faults)]

    def _record(self, method: str, target: str, outcome: str) -> None:
        with self._lock:
            self.log.append(Seen(method, target, outcome))
            if outcome in FAULTS:
                self.injected[outcome] += 1

    def _admit(self) -> bool:
        with self._lock:
            if len(self.log) >= self.max_requests:
                self.overflow += 1
                return False
            return True

    # ---------- one request

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        """Answer one request: a fault, or the upstream's answer relayed in full."""
        if not self._admit():
            h.close_connection = True
            return
        body = _request_body(h)
        fault = self.draw(h.command, h.path)
        if fault in self.errors:
            self._record(h.command, h.path, fault)
            status, reason, content_type, payload = self.errors[fault]
            _send(h, status, reason, [("Content-Type", content_type)], payload, head=h.command == "HEAD")
            return
        if fault == "drop":
            self._record(h.command, h.path, fault)
            _hang_up(h)
            return
        try:
            status, reason, headers, payload = self._forward(h, body)
        except (OSError, http.client.HTTPException) as exc:  # not a planned fault: logged apart, as a 502
            self._record(h.command, h.path, "upstream_error")
            _send(h, 502, "Bad Gateway", [("Content-Type", "text/plain")], f"upstream failed: {exc}".encode())
            return
        if fault == "truncate":
            self._record(h.command, h.path, fault)
            _send_truncated(h, status, reason, headers, payload)
            return
        self._record(h.command, h.path, "ok")
        _send(h, status, reason, headers, payload, head=h.command == "HEAD")

    def _forward(self, h: BaseHTTPRequestHandler, body: bytes | None):
        connection = http.client.HTTPConnection(*self.upstream, timeout=self.timeout)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
            if body is not None:
                headers["Content-Length"] = str(len(body))
            connection.request(h.command, h.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            if h.command == "HEAD":  # no body: the object's own length is the answer
                kept += [(k, v) for k, v in response.getheaders() if k.lower() == "content-length"]
            return response.status, response.reason, kept, payload
        finally:
            connection.close()


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with at most `slots` connection threads at a time (accepting waits
    for a free one), which knows its open connections to hang them up when it stops."""

    daemon_threads = True

    def __init__(self, address, handler, slots: threading.BoundedSemaphore):
        self.slots = slots
        self.open: set[socket.socket] = set()
        self.open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        self.slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        with self.open_lock:
            self.open.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.open_lock:
                self.open.discard(request)
            self.slots.release()

    def hang_up_all(self) -> None:
        with self.open_lock:
            for connection in self.open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as S3 clients use it
        timeout = proxy.idle_timeout  # an idle or stuck client cannot hold a thread for ever

        def handle(self):
            self.close_connection = True
            self.handle_one_request()
            for _ in range(proxy.max_per_connection - 1):
                if self.close_connection:
                    return
                self.handle_one_request()

        def do_GET(self):  # noqa: N802 (http.server's naming)
            proxy.handle(self)

        do_HEAD = do_PUT = do_POST = do_DELETE = do_GET  # noqa: N815

        def log_message(self, format, *args):  # noqa: A002
            pass

    return Handler


def _request_body(h: BaseHTTPRequestHandler) -> bytes | None:
    """The request's body by its Content-Length (the clients here send no chunked bodies)."""
    length = h.headers.get("Content-Length")
    if length is None:
        return None
    return h.rfile.read(int(length))


def _head_bytes(h: BaseHTTPRequestHandler, status: int, reason: str, headers, length: int) -> bytes:
    lines = [f"{h.protocol_version} {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in HOP_BY_HOP]
    lines += [f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _send(h, status: int, reason: str, headers, payload: bytes, *, head: bool = False) -> None:
    length = next((int(v) for k, v in headers if k.lower() == "content-length"), len(payload)) if head else len(payload)
    h.wfile.write(_head_bytes(h, status, reason, headers, length) + (b"" if head else payload))
    h.wfile.flush()


def _send_truncated(h, status: int, reason: str, headers, payload: bytes) -> None:
    """The status line and headers announcing the whole body, half of it, then hang up; a
    response without a body is cut inside its headers instead."""
    head = _head_bytes(h, status, reason, headers, len(payload))
    h.wfile.write(head + payload[: len(payload) // 2] if payload else head[: len(head) // 2])
    h.wfile.flush()
    _hang_up(h)


def _hang_up(h: BaseHTTPRequestHandler) -> None:
    h.close_connection = True
    with contextlib.suppress(OSError):
        h.connection.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def fault_proxy_to(upstream: str, **options) -> Iterator[FaultProxy]:
    """A running `FaultProxy` in front of `upstream`, stopped on exit."""
    proxy = FaultProxy(upstream, **options).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def fault_proxy() -> Iterator:
    """A factory: `fault_proxy(upstream, rate=..., faults=..., seed=..., style=...)` starts a
    proxy; every proxy it started is stopped at the end of the test."""
    with contextlib.ExitStack() as stack:
        yield lambda upstream, **options: stack.enter_context(fault_proxy_to(upstream, **options))
