"""A small paginating JSON client for the providers' admin APIs, on the standard library.

Responses are kept as the raw bytes received (money must not go through float; pages are
landed as delivered) and parsed only to follow the cursor, with `money.loads`. Transient
failures (429, 5xx, 408, timeouts, connection errors: refused, reset, or dropped before the
response or in the middle of its body, which `http.client` reports as `RemoteDisconnected` or
`IncompleteRead` against the announced length) are retried through tenacity with
exponential back-off, honouring `Retry-After` (seconds or an HTTP date); the budget is bounded
by a number of attempts and by the longest single wait. Every error names the URL, never a
secret: the client is told its secrets and redacts them from any text it raises. Redirects are
refused, so credentials are never forwarded to another host.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import tenacity

from .money import loads

REDACTED = "[redacted]"
USER_AGENT = "darkcompute/0.1"


class ApiError(RuntimeError):
    """A request that failed for good. The message names the URL (without secrets) and why."""

    def __init__(self, message: str, *, url: str, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class TransientError(ApiError):
    """A failure worth retrying; `retry_after` is the server's `Retry-After` in seconds, if any."""

    def __init__(self, message: str, *, url: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, url=url, status=status)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Page:
    """One page as received: the request's path and query (no secrets) and the raw body."""

    path: str
    query: str
    body: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every non-empty secret replaced by `[redacted]`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A `Retry-After` header as seconds to wait (never negative), or None if absent or unreadable.

    RFC 9110: either a non-negative number of seconds or an HTTP date.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would forward the credential headers to the new location."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class JsonClient:
    """GET JSON pages from one API base URL with fixed headers, retries and redaction.

    `secrets` are the strings that must never appear in an error (the API key). `sleep` is
    injectable so that tests can record the waits.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str],
        secrets: Sequence[str] = (),
        attempts: int = 6,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        timeout: float = 30.0,
        max_pages: int = 10_000,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **headers}
        self.secrets = tuple(s for s in secrets if s)
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.timeout = timeout
        self.max_pages = max_pages
        self.sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect)

    # ---------- one request

    def url(self, path: str, params: Sequence[tuple[str, str]] = ()) -> str:
        """The full URL of a request; repeated keys stay repeated, in the given order."""
        query = urllib.parse.urlencode(list(params))
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def safe_url(self, url: str) -> str:
        """`url` fit for an error message: user info dropped, secrets redacted."""
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return redact(urllib.parse.urlunsplit(parts._replace(netloc=netloc)), self.secrets)

    def get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> bytes:
        """The body of a successful GET, retried on transient failures within the budget."""
        url = self.url(path, params)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            wait=self._wait,
            stop=self._stop,
            sleep=self.sleep,
        )
        try:
            return retrying(self._get_once, url)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            attempts = exc.last_attempt.attempt_number
            raise ApiError(
                f"GET {self.safe_url(url)} failed after {attempts} attempt{'s' if attempts > 1 else ''}"
                f"{self._why_stopped(exc.last_attempt)}: {last}",
                url=self.safe_url(url), status=getattr(last, "status", None),
            ) from None

    def _get_once(self, url: str) -> bytes:
        safe = self.safe_url(url)
        request = urllib.request.Request(url, headers=self.headers, method="GET")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, _read_quietly(exc)
            exc.close()
            reason = f"HTTP {status} {exc.reason}"
            if status in (401, 403):  # an error body may echo the credential: leave it out
                raise ApiError(f"GET {safe}: {reason} (check the admin key)", url=safe, status=status) from None
            detail = redact(body[:300].decode("utf-8", "replace"), self.secrets).strip()
            if status == 429 or status == 408 or status >= 500:
                raise TransientError(
                    reason, url=safe, status=status, retry_after=retry_after_seconds(exc.headers.get("Retry-After"))
                ) from None
            message = f"GET {safe}: {reason}" + (f": {detail}" if detail else "")
            raise ApiError(message, url=safe, status=status) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            why = getattr(exc, "reason", None) or exc
            raise TransientError(redact(f"connection failed ({why})", self.secrets), url=safe) from None

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception()
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return retry_after
        return self.backoff * 2 ** (state.attempt_number - 1)

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        return state.attempt_number >= self.attempts or state.upcoming_sleep > self.max_wait

    def _why_stopped(self, last: tenacity.Future) -> str:
        retry_after = getattr(last.exception(), "retry_after", None)
        if retry_after is not None and retry_after > self.max_wait:
            return f" (the server asked to wait {retry_after:g} s, more than the {self.max_wait:g} s budget)"
        return ""

    # ---------- cursor pagination

    def pages(
        self,
        path: str,
        params: Sequence[tuple[str, str]],
        *,
        cursor_param: str = "page",
        next_key: str = "next_page",
        more_key: str = "has_more",
    ) -> Iterator[Page]:
        """Every page of a cursor-paginated listing: follow `next_page` while `has_more`.

        A page that is not a JSON object, a `has_more` without a cursor, a cursor seen before
        or more than `max_pages` pages is an ApiError: the listing cannot be trusted whole.
        """
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(self.max_pages):
            query = list(params) + ([(cursor_param, cursor)] if cursor is not None else [])
            body = self.get(path, query)
            url = self.safe_url(self.url(path, query))
            try:
                doc = loads(body)
            except (ValueError, UnicodeDecodeError):
                raise ApiError(f"GET {url}: the response is not JSON", url=url) from None
            if not isinstance(doc, dict):
                raise ApiError(f"GET {url}: the response is not a JSON object", url=url)
            yield Page(path=path, query=urllib.parse.urlencode(query), body=body)
            if doc.get(more_key) is not True:
                return
            cursor = doc.get(next_key)
            if not isinstance(cursor, str) or not cursor:
                raise ApiError(f"GET {url}: {more_key} is true but {next_key} is missing", url=url)
            if cursor in seen:
                raise ApiError(f"GET {url}: the server repeated the cursor {cursor!r}", url=url)
            seen.add(cursor)
        url = self.safe_url(self.url(path, params))
        raise ApiError(f"GET {url}: more than {self.max_pages} pages", url=url)


def _read_quietly(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read() or b""
    except (OSError, http.client.HTTPException):
        return b""


# ---------- landing the pages, as received


def land_pages(folder: Path, pages: Sequence[Page], *, source: str, day: str) -> list[Path]:
    """Write `pages` as `folder/page-NNN.json`, byte for byte, and a `.manifest.json` beside them.

    Each file is written under a hidden temporary name and renamed into place (atomic); pages
    left from an earlier pull with more pages are removed, so the folder holds exactly this
    pull. The manifest (hidden: the store lists no dot-files) records each page's request
    query, size and SHA-256, and is written last.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = [_write_atomic(folder / f"page-{n:03d}.json", page.body) for n, page in enumerate(pages, start=1)]
    keep = {p.name for p in written}
    for stale in folder.glob("page-*.json"):
        if stale.name not in keep:
            stale.unlink()
    manifest = {
        "source": source,
        "day": day,
        "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "pages": [
            {"file": path.name, "path": page.path, "query": page.query, "bytes": len(page.body), "sha256": page.sha256}
            for path, page in zip(written, pages)
        ],
    }
    _write_atomic(folder / ".manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return written


def _write_atomic(target: Path, data: bytes) -> Path:
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # a write that failed half-way leaves no temporary file
    return target


@dataclass(frozen=True)
class Listing:
    """One paginated listing to pull: where its pages land (`prefix/<day>/` under the landing
    root), the API path and the query parameters of its first page."""

    prefix: str
    path: str
    params: tuple[tuple[str, str], ...]


def pull_listings(client: JsonClient, listings: Sequence[Listing], day: str, landing_root: str | Path) -> list[Path]:
    """Fetch every page of every listing, then land them (`<root>/<prefix>/<day>/page-NNN.json`).

    Nothing is written until every listing has been fetched whole, so a failed pull leaves the
    previous landing of the day as it was.
    """
    fetched = [(listing, list(client.pages(listing.path, listing.params))) for listing in listings]
    written: list[Path] = []
    for listing, pages in fetched:
        written += land_pages(Path(landing_root) / listing.prefix / day, pages, source=listing.prefix, day=day)
    return written
