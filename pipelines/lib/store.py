"""Where the sources live: a local folder, or S3 (`pipelines.lib.s3`) through the same interface.

A store lists keys (paths relative to its root, with `/`) and reads their bytes. Sources are
untrusted: keys are checked so that none escapes the root, and a local store never follows a
symbolic link nor reads anything but a regular file. Such an entry is still listed, and reading
it gives a `SourceFile` with no bytes and the reason it was `refused` (e.g. "symbolic link: not
followed"), which the parsers turn into a whole-file rejected row: skipped, never silently.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

SYMLINK = "symbolic link: not followed"
NOT_REGULAR = "not a regular file: not read"


@dataclass(frozen=True)
class SourceFile:
    """One delivered file: its key under the store root, its bytes and their SHA-256. A file the
    store refused to read (a symbolic link, a FIFO, ...) has no bytes and says why in `refused`."""

    key: str
    data: bytes
    refused: str | None = None

    @property
    def sha256(self) -> str | None:
        return None if self.refused else hashlib.sha256(self.data).hexdigest()


def safe_key(key: str) -> str:
    """`key` as a normalized relative path, or ValueError if it would leave the root.

    Only `/` separates folders: a backslash (or any other character a file name may hold) is
    part of a name, so `back\\slash.jsonl` is one file and `..\\x` cannot climb out of the root."""
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or any(p in ("..", "", "/") for p in parts) or "\0" in key:
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
    """Sources in a local folder. The root itself may be a link (it is configuration); nothing
    under it is followed: a link to a file or folder is listed as one refused key, and a link
    (or any non-regular file) met while reading is refused, checked on the open file itself."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.uri = str(self.root)

    def list(self, prefix: str) -> list[str]:
        """Keys of the regular files under `prefix` and of the links and special files met there
        (never followed; `read` refuses them), sorted; none if the folder is missing. Hidden
        names (`.name`: partial uploads, sidecars) are left out."""
        base = self.root / safe_key(prefix)
        if base.is_symlink():
            return [safe_key(prefix)]  # a linked folder: one key, refused when read
        if not base.is_dir():
            return []
        keys = []
        for folder, dirs, files in os.walk(base):  # never descends into a linked folder
            here = Path(folder)
            links = [d for d in dirs if (here / d).is_symlink()]
            dirs[:] = [d for d in dirs if d not in links]
            keys += [(here / name).relative_to(self.root).as_posix()
                     for name in files + links if not name.startswith(".")]
        return sorted(keys)

    def read(self, key: str, land: bool = True) -> SourceFile:
        """The file's bytes (a local file is read in place: nothing is copied either way). Every
        folder on the way and the file are opened without following links, so a link anywhere
        under the root, even one swapped in after `list`, is refused, never read."""
        parts = safe_key(key).split("/")
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | (0 if last else os.O_DIRECTORY)
                try:
                    child = os.open(part, flags, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(part, fd):  # O_NOFOLLOW met a link
                        return SourceFile(key=key, data=b"", refused=SYMLINK)
                    if exc.errno == errno.ENXIO:  # a socket, or a FIFO no one writes to
                        return SourceFile(key=key, data=b"", refused=NOT_REGULAR)
                    raise
                os.close(fd)
                fd = child
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return SourceFile(key=key, data=b"", refused=NOT_REGULAR)
            with os.fdopen(fd, "rb") as f:
                fd = -1
                return SourceFile(key=key, data=f.read())
        finally:
            if fd >= 0:
                os.close(fd)


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def open_store(uri: str | Path, landing: str | Path | None = None, **s3_options) -> Store:
    """The store for a source URI: `s3://bucket/prefix` (objects land under `landing`, default
    `lake/landing`; `s3_options` are `S3Store`'s `max_attempts` and `retry_mode`), or a local
    path or `file://` URI."""
    text = str(uri)
    if text.startswith("s3://"):
        from .s3 import S3Store  # boto3 is imported only when a source is on S3

        return S3Store(text, landing=landing, **s3_options)
    if text.startswith("file://"):
        text = text[len("file://") :]
    return LocalStore(text)
