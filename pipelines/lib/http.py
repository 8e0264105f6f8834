"""A small paginating JSON client for the providers' admin APIs, on the standard library.

Responses are kept as the raw bytes received (money must not go through float; pages are
landed as delivered) and parsed only to follow the cursor, with `money.loads`. Transient
failures (429, 5xx, 408, timeouts, connection errors: refused, reset, or dropped before the
response or in the middle of its body, which `http.client` reports as `RemoteDisconnected` or
`IncompleteRead` against the announced length) are retried through tenacity with
exponential back-off, honouring `Retry-After` (seconds or an HTTP date); the budget is bounded
by a number of attempts and by the longest single wait. Every error names the URL, never a
secret: the client is told its secrets and redacts them (and their URL, JSON and base64
encodings) from any text it raises, before any cut. A 200 body that holds a secret (a server or
proxy echoing the request headers) is refused before anything is written. Redirects are refused,
so credentials are never forwarded to another host. An empty pull (pages that hold no results)
never replaces a landing that has some.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import tenacity

from .disk import write_atomic
from .money import loads
from .pages import all_empty, page_results

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


ERROR_DETAIL_CHARS = 300  # of an error body, kept in the message (after redaction)


def secret_forms(secret: str) -> list[str]:
    """The ways `secret` shows up in text a server sends back, longest first: as is (which covers
    `Bearer <key>`), URL-encoded (either hex case, `+` for a space), JSON-escaped, and base64
    (standard and URL-safe, at each of the three byte alignments it can have inside a longer
    encoded string, such as a Basic credential)."""
    if not secret:
        return []
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret)[1:-1].replace("/", "\\/")}
    for quoted in (urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret, safe="")):
        forms |= {quoted, _hex_case(quoted, str.lower)}
    raw = secret.encode()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        # the characters that depend on the secret's bits only: from the first whole sextet after
        # the `offset` bytes before it to the last whole sextet inside it
        core = encoded[-(-offset * 8 // 6):(offset + len(raw)) * 8 // 6]
        if len(core) >= 8:
            forms |= {core, core.replace("+", "-").replace("/", "_")}
    return sorted(forms, key=lambda f: (-len(f), f))


def _hex_case(text: str, case) -> str:
    """`text` with the hex digits of its `%XX` escapes in `case`."""
    parts = text.split("%")
    return parts[0] + "".join("%" + case(p[:2]) + p[2:] for p in parts[1:])


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every non-empty secret, in any of its `secret_forms`, replaced by `[redacted]`.
    Redact a whole text before cutting it: a cut through a secret leaves a piece no search finds."""
    for secret in secrets:
        for form in secret_forms(secret):
            text = text.replace(form, REDACTED)
    return text


def holds_secret(body: bytes, secrets: Sequence[str]) -> bool:
    """Whether `body` carries a secret: in any of its `secret_forms`, or, when the body is JSON,
    in any string once decoded (which undoes `\\u` escapes)."""
    for secret in secrets:
        if any(form.encode() in body for form in secret_forms(secret)):
            return True
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return any(secret and secret in text for text in _strings(doc) for secret in secrets)


def _strings(doc) -> Iterator[str]:
    """Every string of a parsed JSON document, object keys included."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


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
                body = response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, _read_quietly(exc)
            exc.close()
            reason = redact(f"HTTP {status} {exc.reason}", self.secrets)  # the reason phrase is the server's too
            if status in (401, 403):  # an error body may echo the credential: leave it out
                raise ApiError(f"GET {safe}: {reason} (check the admin key)", url=safe, status=status) from None
            detail = self._error_detail(body)
            if status == 429 or status == 408 or status >= 500:
                raise TransientError(
                    reason, url=safe, status=status, retry_after=retry_after_seconds(exc.headers.get("Retry-After"))
                ) from None
            message = f"GET {safe}: {reason}" + (f": {detail}" if detail else "")
            raise ApiError(message, url=safe, status=status) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            why = getattr(exc, "reason", None) or exc
            raise TransientError(redact(f"connection failed ({why})", self.secrets), url=safe) from None
        if holds_secret(body, self.secrets):
            raise ApiError(
                f"GET {safe}: the response contains the admin key (or an encoding of it), so it was not "
                "written anywhere. The server echoes the request's credentials: check that the API URL points at "
                "the provider itself and not at a proxy or test server that echoes requests, and rotate the key "
                "if this response may have been stored or logged elsewhere.",
                url=safe, status=200,
            )
        return body

    def _error_detail(self, body: bytes) -> str:
        """The start of an error body for a message: the whole body redacted first, then cut (a
        cut first would leave a piece of a key that no redaction recognizes)."""
        text = redact(body.decode("utf-8", "replace"), self.secrets)
        if holds_secret(text.encode(), self.secrets):  # an encoding redact() does not undo (JSON \\u escapes)
            return "(the body echoes the admin key; left out)"
        return text[:ERROR_DETAIL_CHARS].strip()

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
                raise ApiError(redact(f"GET {url}: the server repeated the cursor {cursor!r}", self.secrets), url=url)
            seen.add(cursor)
        url = self.safe_url(self.url(path, params))
        raise ApiError(f"GET {url}: more than {self.max_pages} pages", url=url)


def _read_quietly(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read() or b""
    except (OSError, http.client.HTTPException):
        return b""


# ---------- landing the pages, as received


def land_pages(folder: Path, pages: Sequence[Page], *, source: str, day: str, results: int | None = None) -> list[Path]:
    """Write `pages` as `folder/page-NNN.json`, byte for byte, and a `.manifest.json` beside them.

    Each file is written under a hidden temporary name and renamed into place (atomic); pages
    left from an earlier pull with more pages are removed, so the folder holds exactly this
    pull. The manifest (hidden: the store lists no dot-files) records each page's request
    query, size and SHA-256 (and the pull's result count when given), and is written last.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = [write_atomic(folder / f"page-{n:03d}.json", page.body) for n, page in enumerate(pages, start=1)]
    keep = {p.name for p in written}
    for stale in folder.glob("page-*.json"):
        if stale.name not in keep:
            stale.unlink()
    manifest = {
        "source": source,
        "day": day,
        "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        **({"results": results} if results is not None else {}),
        "pages": [
            {"file": path.name, "path": page.path, "query": page.query, "bytes": len(page.body), "sha256": page.sha256}
            for path, page in zip(written, pages, strict=True)
        ],
    }
    write_atomic(folder / ".manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return written


@dataclass(frozen=True)
class Listing:
    """One paginated listing to pull: where its pages land (`prefix/<day>/` under the landing
    root), the API path and the query parameters of its first page."""

    prefix: str
    path: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Pulled:
    """What a pull did with one listing: the folder, the pages it landed (none when `kept`), the
    results the pull held, whether it was empty (every page readable, none with a result) and
    whether, being empty, it left a previous landing with results in place."""

    listing: Listing
    folder: Path
    files: list[Path]
    results: int
    empty: bool
    kept: bool


def pull_listings(client: JsonClient, listings: Sequence[Listing], day: str, landing_root: str | Path) -> list[Path]:
    """Fetch every page of every listing, then land them (`<root>/<prefix>/<day>/page-NNN.json`);
    the files landed. See `pull_and_land`."""
    return [f for pulled in pull_and_land(client, listings, day, landing_root) for f in pulled.files]


def pull_and_land(client: JsonClient, listings: Sequence[Listing], day: str, landing_root: str | Path) -> list[Pulled]:
    """Fetch every page of every listing, then land them (`<root>/<prefix>/<day>/page-NNN.json`).

    Nothing is written until every listing has been fetched whole, so a failed pull leaves the
    previous landing of the day as it was. A listing whose pages hold no result (a key for the
    wrong organization answers so) does not replace a landing of the day that holds some: it is
    reported `kept`, and the previous pages stay.
    """
    fetched = [(listing, list(client.pages(listing.path, listing.params))) for listing in listings]
    out: list[Pulled] = []
    for listing, pages in fetched:
        folder = Path(landing_root) / listing.prefix / day
        results = sum(page_results(page.body) or 0 for page in pages)
        empty = all_empty(page.body for page in pages)
        if empty and _holds_results(folder):
            out.append(Pulled(listing, folder, [], results, empty=True, kept=True))
            continue
        files = land_pages(folder, pages, source=listing.prefix, day=day, results=results)
        out.append(Pulled(listing, folder, files, results, empty=empty, kept=False))
    return out


def _holds_results(folder: Path) -> bool:
    """Whether a landed folder holds pages and not all of them are empty (a link planted among
    them is not followed: it counts as a page that is not empty, so the pull keeps its hands off)."""
    pages = sorted(folder.glob("page-*.json")) if folder.is_dir() and not folder.is_symlink() else []
    return bool(pages) and not all_empty(b"" if p.is_symlink() or not p.is_file() else p.read_bytes() for p in pages)
