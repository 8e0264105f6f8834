"""Where the sources live: a local folder, or S3 (`pipelines.lib.s3`) through the same interface.

A store lists keys (paths relative to its root, with `/`) and reads their bytes. Keys are
checked so that none escapes the root.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol


@dataclass(frozen=True)
class SourceFile:
    """One delivered file: its key under the store root, its bytes and their SHA-256."""

    key: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def safe_key(key: str) -> str:
    """`key` as a normalized relative path, or ValueError if it would leave the root."""
    text = key.replace("\\", "/")
    parts = PurePosixPath(text).parts
    if not parts or text.startswith("/") or any(p in ("..", "", "/") for p in parts):
        raise ValueError(f"unsafe object key: {key!r}")
    return "/".join(parts)


class Store(Protocol):
    """What every store offers: its URI, sorted keys under a folder, and a key's bytes."""

    uri: str

    def list(self, prefix: str) -> list[str]: ...

    def read(self, key: str, land: bool = True) -> SourceFile:
        """The file's bytes; `land=False` asks a remote store not to keep a local copy."""
        ...


class LocalStore:
    """Sources in a local folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.uri = str(self.root)

    def list(self, prefix: str) -> list[str]:
        """Keys of the regular files under `prefix`, sorted; none if the folder is missing."""
        base = self.root / safe_key(prefix)
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")
        )

    def read(self, key: str, land: bool = True) -> SourceFile:
        """The file's bytes (a local file is read in place: nothing is copied either way)."""
        return SourceFile(key=key, data=(self.root / safe_key(key)).read_bytes())


def open_store(uri: str | Path, landing: str | Path | None = None) -> Store:
    """The store for a source URI: `s3://bucket/prefix` (objects land under `landing`, default
    `DARKCOMPUTE_LANDING_DIR` or `<DARKCOMPUTE_LAKE_DIR>/landing`), or a local path or `file://` URI."""
    text = str(uri)
    if text.startswith("s3://"):
        from .s3 import S3Store  # boto3 is imported only when a source is on S3

        return S3Store(text, landing=landing)
    if text.startswith("file://"):
        text = text[len("file://") :]
    return LocalStore(text)
