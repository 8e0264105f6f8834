"""Sources in S3 or any S3-compatible store, downloaded incrementally into the landing zone.

`S3Store("s3://bucket/prefix")` has the interface of `LocalStore`: `uri`, `list(prefix)` and
`read(key)`, keys relative to `prefix`. Everything about the connection comes from the standard
AWS chain (credentials, region, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3`, `~/.aws/config`);
nothing here overrides it. Retries use botocore's own retry modes: `standard`, or `adaptive`
when the store's `retry_mode` is `adaptive` (the `sources` resource binds it to `AWS_RETRY_MODE`),
with at most `max_attempts` requests per call, the first one included (the resource binds it to
`DARKCOMPUTE_S3_MAX_ATTEMPTS`, default 10; botocore's `total_max_attempts`). botocore retries 5xx, throttling
and connections lost before a response (and a listing cut short, whose XML then fails to parse
and counts as a 500), but not a connection lost while an object's body is read, after the call
has returned, nor a response cut inside its headers. Those are retried here, within the same
budget: every request spent on one object read or listing page counts, botocore's own retries
included. What fails for good names the object or listing: botocore's error with a note, or
`S3TransferError`. A store may be shared by threads (the count of requests is per thread).

Every object read lands at `<landing>/s3/<bucket>/<object key>` (the landing folder is the
caller's: `DARKCOMPUTE_LANDING_DIR`, default `lake/landing`) as delivered, beside a hidden
sidecar `.<name>.s3.json` recording its ETag, size and SHA-256. An object whose ETag and size
still match its sidecar (and whose landed bytes still hash to it) is read from the landing copy
and not fetched again. Files are written under a temporary name and renamed into place.
"""

from __future__ import annotations

import errno
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError

from .disk import explain, write_atomic
from .store import SourceFile, safe_key

UNSAFE_KEY = "object key is not a plain relative path (.., //): not read"

DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_LANDING = Path("lake") / "landing"  # DARKCOMPUTE_LANDING_DIR's documented default
RETRY_MODES = ("standard", "adaptive")
BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
NOT_FOUND = ("404", "NoSuchKey", "NotFound")
MAX_LIST_PAGES = 100_000  # 100 million keys under one folder is a runaway, not a delivery
# before retrying a broken response: botocore's back-off for non-throttling errors,
# random(0, 1) x min(50 ms x 2^(n - 1), 20 s) before the n-th retry
BROKEN_BACKOFF = 0.05
BROKEN_BACKOFF_MAX = 20.0


class IncompleteResponseError(BotoCoreError):
    """A response that ended before the headers the operation always carries (cut mid-headers)."""

    fmt = "the {operation} response lacks {missing} (the connection broke mid-response?)"


# A connection lost while a response body was being read: botocore does not retry these.
BROKEN_RESPONSE = (IncompleteReadError, ReadTimeoutError, ResponseStreamingError, ProtocolError,
                   Urllib3ReadTimeoutError, IncompleteResponseError)


class S3TransferError(OSError):
    """An object or listing that could not be read whole within the retry budget."""


def retry_config(attempts: int = DEFAULT_MAX_ATTEMPTS, mode: str = "standard") -> Config:
    """botocore's retry settings: at most `attempts` requests per call, the first included, in
    retry mode `adaptive` when `mode` says so, else `standard` (see the module docstring)."""
    mode = "adaptive" if mode == "adaptive" else "standard"
    return Config(retries={"mode": mode, "total_max_attempts": attempts})


def s3_client(attempts: int = DEFAULT_MAX_ATTEMPTS, mode: str = "standard"):
    """A boto3 S3 client configured by the AWS chain (credentials, region, endpoint, config
    files) with `retry_config(attempts, mode)`. Only botocore's loader of its bundled models is
    shared between clients: it is most of the cost of building one, and it reads nothing of the
    environment but `AWS_DATA_PATH` (once per process)."""
    session = botocore.session.Session()
    session.register_component("data_loader", _data_loader())
    return boto3.session.Session(botocore_session=session).client("s3", config=retry_config(attempts, mode))


@lru_cache(maxsize=1)
def _data_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, root prefix without slashes, possibly empty) of `s3://bucket[/prefix]`."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not BUCKET_NAME.fullmatch(bucket):
        raise ValueError(f"invalid bucket name in {uri!r}")
    prefix = prefix.strip("/")
    return bucket, safe_key(prefix) if prefix else ""


class S3Store:
    """Sources under `s3://bucket/prefix`, read through a landing folder (see the module): at
    most `max_attempts` requests per object read or listing page, botocore retry mode
    `retry_mode` (`standard` or `adaptive`)."""

    def __init__(self, uri: str, landing: str | Path | None = None, page_size: int | None = None, *,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, retry_mode: str = "standard"):
        self.bucket, self.root = parse_s3_uri(uri)
        self.uri = f"s3://{self.bucket}/{self.root}" if self.root else f"s3://{self.bucket}"
        self.landing = Path(landing) if landing else DEFAULT_LANDING
        self.page_size = page_size
        self.max_attempts, self.retry_mode = max_attempts, retry_mode
        self._base = f"{self.root}/" if self.root else ""
        self._client = None
        self._calls = threading.local()  # .sent: requests this thread's calls sent, retries included
        self._listed: dict[str, tuple[str, int]] = {}  # key -> (ETag, size) as last listed
        self._refused: set[str] = set()  # listed keys that are not plain relative paths

    @property
    def client(self):
        """The boto3 S3 client, built on first use from the environment's AWS settings."""
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def list(self, prefix: str) -> list[str]:
        """Keys of the objects under the folder `prefix`, sorted; hidden names and folder markers
        are left out, as `LocalStore` leaves out hidden files and folders. A key that is not a
        plain relative path (`..`, `//`) is listed as it is, and `read` refuses it (it would land
        outside the landing folder): a whole-file rejected row, never a file read."""
        folder = f"{self._base}{safe_key(prefix)}/"
        params = {"Bucket": self.bucket, "Prefix": folder} | ({"MaxKeys": self.page_size} if self.page_size else {})
        what = f"listing s3://{self.bucket}/{folder}"
        keys: list[str] = []
        tokens: set[str] = set()
        query = params
        for _ in range(MAX_LIST_PAGES):
            page = self._request(what, lambda client, query=query: client.list_objects_v2(**query))
            for obj in page.get("Contents", []):
                key = obj["Key"][len(self._base) :]
                if key.endswith("/"):
                    continue
                if key.rsplit("/", 1)[-1].startswith("."):
                    continue
                if _unsafe(key):
                    self._refused.add(key)
                self._listed[key] = (obj["ETag"], obj["Size"])
                keys.append(key)
            if not page.get("IsTruncated"):
                return sorted(keys)
            token = page.get("NextContinuationToken")
            if not token or token in tokens:
                raise S3TransferError(f"{what}: a truncated page without a new continuation token")
            tokens.add(token)
            query = params | {"ContinuationToken": token}
        raise S3TransferError(f"{what}: more than {MAX_LIST_PAGES} pages")

    def read(self, key: str, land: bool = True) -> SourceFile:
        """The object's bytes as delivered: from the landing copy when its ETag and size match
        what the store listed (or, for a key not listed, what HeadObject says), else downloaded
        and landed. A missing object raises FileNotFoundError; one that cannot be read whole
        within the retry budget raises (S3TransferError, or botocore's error with a note naming
        the object), and nothing is landed. With `land=False` the object is downloaded and never
        written to disk (Bedrock invocation logs carry prompt and response bodies). A listed key
        that is not a plain relative path is refused (no request, no bytes); any other such key
        raises ValueError."""
        if key in self._refused:
            return SourceFile(key=key, data=b"", refused=UNSAFE_KEY)
        key = safe_key(key)
        if not land:
            return SourceFile(key=key, data=self._download(key)[0])
        path = self.landed_path(key)
        expected = self._listed.get(key) or self._head(key)
        data = _landed(path, *expected)
        if data is None:
            data, etag = self._download(key)
            _land(path, data, etag, self.landing)
        return SourceFile(key=key, data=data)

    def landed_path(self, key: str) -> Path:
        """Where the object `key` (relative to the store root) lands."""
        return self.landing / "s3" / self.bucket / safe_key(f"{self._base}{safe_key(key)}")

    def _head(self, key: str) -> tuple[str, int]:
        def etag_and_size(head: dict) -> tuple[str, int]:
            _require(head, "HeadObject", "ETag", "ContentLength")
            return head["ETag"], head["ContentLength"]

        try:
            return self._request(f"reading {self._name(key)}",
                                 lambda client: client.head_object(Bucket=self.bucket, Key=f"{self._base}{key}"),
                                 etag_and_size)
        except ClientError as exc:
            self._raise_if_missing(key, exc)
            raise

    def _download(self, key: str) -> tuple[bytes, str]:
        def body_and_etag(response: dict) -> tuple[bytes, str]:
            try:
                _require(response, "GetObject", "ETag")
                return response["Body"].read(), response["ETag"]
            finally:
                response["Body"].close()

        try:
            return self._request(f"reading {self._name(key)}",
                                 lambda client: client.get_object(Bucket=self.bucket, Key=f"{self._base}{key}"),
                                 body_and_etag)
        except ClientError as exc:
            self._raise_if_missing(key, exc)
            raise

    def _request(self, what: str, call: Callable, read: Callable = lambda response: response):
        """`read(call(client))`: one S3 call and the read of its response, made again when the
        connection broke mid-response, until `max_attempts` requests were spent on it in all
        (botocore's own retries inside `call` included: a retry's client is allowed only the
        requests left). An error that ends it names `what`."""
        budget, spent, broken = self.max_attempts, 0, 0
        client = self.client
        while True:
            sent = self._sent()
            try:
                return read(call(client))
            except BROKEN_RESPONSE as exc:
                spent += max(self._sent() - sent, 1)
                broken += 1
                if spent >= budget:
                    raise S3TransferError(
                        f"{what}: the connection broke mid-response {broken} time{'s' if broken > 1 else ''}; "
                        f"gave up after {spent} request{'s' if spent > 1 else ''} "
                        f"(DARKCOMPUTE_S3_MAX_ATTEMPTS={budget}): {exc}"
                    ) from exc
                time.sleep(random.random() * min(BROKEN_BACKOFF * 2 ** (broken - 1), BROKEN_BACKOFF_MAX))
                client = self._new_client(budget - spent)
            except (ClientError, BotoCoreError) as exc:
                exc.add_note(f"while {what}")
                raise

    def _new_client(self, attempts: int | None = None):
        """A client from the environment whose every request the store counts, per thread (a
        call runs in the calling thread: the count stays right when threads share the store)."""
        client = s3_client(attempts or self.max_attempts, self.retry_mode)
        client.meta.events.register("before-send.s3", self._count_request)
        return client

    def _count_request(self, **_) -> None:
        self._calls.sent = self._sent() + 1

    def _sent(self) -> int:
        return getattr(self._calls, "sent", 0)

    def _name(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._base}{key}"

    def _raise_if_missing(self, key: str, exc: ClientError) -> None:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
            raise FileNotFoundError(f"no object {self._base}{key} in s3://{self.bucket}") from exc


def _require(response: dict, operation: str, *fields: str) -> None:
    missing = [f for f in fields if f not in response]
    if missing:
        raise IncompleteResponseError(operation=operation, missing=" and ".join(missing))


def _unsafe(key: str) -> bool:
    try:
        return safe_key(key) != key
    except ValueError:
        return True


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.s3.json")


def _landed(path: Path, etag: str, size: int) -> bytes | None:
    """The landed bytes if the sidecar records `etag` and `size` and the bytes still hash to
    the recorded SHA-256; None otherwise (never landed, changed since, or damaged)."""
    try:
        meta = json.loads(_sidecar(path).read_text())
        if (meta.get("etag"), meta.get("size")) != (etag, size) or path.stat().st_size != size:
            return None
        data = path.read_bytes()
    except (OSError, ValueError, AttributeError):
        return None
    return data if hashlib.sha256(data).hexdigest() == meta.get("sha256") else None


def _land(path: Path, data: bytes, etag: str, landing: Path) -> None:
    """Write the object and then its sidecar, each atomically (temporary name, then rename); a
    disk error names the landing folder `landing` and its setting."""
    meta = {"etag": etag, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
        write_atomic(_sidecar(path), json.dumps(meta).encode())
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS):
            raise explain(exc, path, "DARKCOMPUTE_LANDING_DIR", during="landing an S3 object",
                          value=str(landing)) from exc
        exc.add_note(f"while landing {path} (an object key that is also a folder of other keys?)")
        raise


