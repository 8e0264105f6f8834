"""Sources in S3 or any S3-compatible store, downloaded incrementally into the landing zone.

`S3Store("s3://bucket/prefix")` has the interface of `LocalStore`: `uri`, `list(prefix)` and
`read(key)`, keys relative to `prefix`. Everything about the connection comes from the standard
AWS chain (credentials, region, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3`, `~/.aws/config`);
nothing here overrides it. Retries use botocore's own retry modes: `standard`, or `adaptive`
when `AWS_RETRY_MODE=adaptive`, with at most `DARKCOMPUTE_S3_MAX_ATTEMPTS` requests per call, the
first one included (default 10; botocore's `total_max_attempts`).

Every object read lands at `<landing>/s3/<bucket>/<object key>` as delivered, beside a hidden
sidecar `.<name>.s3.json` recording its ETag, size and SHA-256. An object whose ETag and size
still match its sidecar (and whose landed bytes still hash to it) is read from the landing copy
and not fetched again. Files are written under a temporary name and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from functools import lru_cache
from pathlib import Path

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from .store import SourceFile, safe_key

DEFAULT_MAX_ATTEMPTS = 10
BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
NOT_FOUND = ("404", "NoSuchKey", "NotFound")


def retry_config() -> Config:
    """The client's retry settings from the environment (see the module docstring)."""
    text = os.environ.get("DARKCOMPUTE_S3_MAX_ATTEMPTS") or str(DEFAULT_MAX_ATTEMPTS)
    try:
        attempts = int(text)
    except ValueError:
        attempts = 0
    if attempts < 1:
        raise ValueError(f"DARKCOMPUTE_S3_MAX_ATTEMPTS must be a positive whole number, got {text!r}")
    mode = "adaptive" if os.environ.get("AWS_RETRY_MODE") == "adaptive" else "standard"
    return Config(retries={"mode": mode, "total_max_attempts": attempts})


def s3_client():
    """A boto3 S3 client configured by the environment (credentials, region, endpoint, config
    files) with `retry_config()`. Only botocore's loader of its bundled models is shared between
    clients: it is most of the cost of building one, and it reads nothing of the environment but
    `AWS_DATA_PATH` (once per process)."""
    session = botocore.session.Session()
    session.register_component("data_loader", _data_loader())
    return boto3.session.Session(botocore_session=session).client("s3", config=retry_config())


@lru_cache(maxsize=1)
def _data_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def default_landing() -> Path:
    """`DARKCOMPUTE_LANDING_DIR`, else `<DARKCOMPUTE_LAKE_DIR>/landing` (`lake/landing`)."""
    landing = os.environ.get("DARKCOMPUTE_LANDING_DIR")
    return Path(landing) if landing else Path(os.environ.get("DARKCOMPUTE_LAKE_DIR") or "lake") / "landing"


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
    """Sources under `s3://bucket/prefix`, read through a landing folder (see the module)."""

    def __init__(self, uri: str, landing: str | Path | None = None, page_size: int | None = None):
        self.bucket, self.root = parse_s3_uri(uri)
        self.uri = f"s3://{self.bucket}/{self.root}" if self.root else f"s3://{self.bucket}"
        self.landing = Path(landing) if landing else default_landing()
        self.page_size = page_size
        self._base = f"{self.root}/" if self.root else ""
        self._client = None
        self._listed: dict[str, tuple[str, int]] = {}  # key -> (ETag, size) as last listed

    @property
    def client(self):
        """The boto3 S3 client, built on first use from the environment's AWS settings."""
        if self._client is None:
            self._client = s3_client()
        return self._client

    def list(self, prefix: str) -> list[str]:
        """Keys of the objects under the folder `prefix`, sorted; hidden names and folder markers
        are left out, as `LocalStore` leaves out hidden files and folders. A key that is not a
        plain relative path (`..`, `//`, a backslash) raises ValueError naming it."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket,
            Prefix=f"{self._base}{safe_key(prefix)}/",
            PaginationConfig={"PageSize": self.page_size} if self.page_size else {},
        )
        keys = []
        for page in pages:
            for obj in page.get("Contents", []):
                key = obj["Key"][len(self._base) :]
                if key.endswith("/"):
                    continue
                if _unsafe(key):
                    raise ValueError(f"unsafe object key: {obj['Key']!r} in s3://{self.bucket}")
                if key.rsplit("/", 1)[-1].startswith("."):
                    continue
                self._listed[key] = (obj["ETag"], obj["Size"])
                keys.append(key)
        return sorted(keys)

    def read(self, key: str) -> SourceFile:
        """The object's bytes as delivered: from the landing copy when its ETag and size match
        what the store listed (or, for a key not listed, what HeadObject says), else downloaded
        and landed. A missing object raises FileNotFoundError."""
        key = safe_key(key)
        path = self.landed_path(key)
        expected = self._listed.get(key) or self._head(key)
        data = _landed(path, *expected)
        if data is None:
            data, etag = self._download(key)
            _land(path, data, etag)
        return SourceFile(key=key, data=data)

    def landed_path(self, key: str) -> Path:
        """Where the object `key` (relative to the store root) lands."""
        return self.landing / "s3" / self.bucket / safe_key(f"{self._base}{safe_key(key)}")

    def _head(self, key: str) -> tuple[str, int]:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=f"{self._base}{key}")
        except ClientError as exc:
            raise self._missing(key, exc) from exc
        return head["ETag"], head["ContentLength"]

    def _download(self, key: str) -> tuple[bytes, str]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=f"{self._base}{key}")
        except ClientError as exc:
            raise self._missing(key, exc) from exc
        return response["Body"].read(), response["ETag"]

    def _missing(self, key: str, exc: ClientError) -> Exception:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
            return FileNotFoundError(f"no object {self._base}{key} in s3://{self.bucket}")
        return exc


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


def _land(path: Path, data: bytes, etag: str) -> None:
    """Write the object and then its sidecar, each atomically (temporary name, then rename)."""
    meta = {"etag": etag, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, data)
        _write_atomic(_sidecar(path), json.dumps(meta).encode())
    except OSError as exc:
        exc.add_note(f"while landing {path} (an object key that is also a folder of other keys?)")
        raise


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
