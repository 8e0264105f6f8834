"""Filesystem errors that say what to do: the path, the setting that chose it, and the fix.

PyArrow reports a full disk as "Error writing bytes to file ... No space left on device" with no
path, and DuckDB as "Could not write file ..." (or, after a failed commit, "cannot rollback - no
transaction is active"). `explain` turns such an error into a `StorageError` that names the path,
the environment variable that put it there (`DARKCOMPUTE_LAKE_DIR`, `DARKCOMPUTE_WAREHOUSE`,
`DARKCOMPUTE_DUCKDB_TEMP_DIR`, `DARKCOMPUTE_LANDING_DIR`) with the value the caller configured,
and what to do about it. Nothing here reads the environment: the resources pass the values.
"""

from __future__ import annotations

import errno
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

# errno -> (what happened, what to do); {setting} is the variable that chose the path
_CAUSES = {
    errno.ENOSPC: ("no space left on the device", "free space on that disk or set {setting} to a folder on a disk "
                   "with room, then run again"),
    errno.EDQUOT: ("the disk quota is exhausted", "free space or raise the quota, or set {setting} to a folder on "
                   "another disk, then run again"),
    errno.EFBIG: ("the file is larger than this process may write (file size limit)", "raise the limit "
                  "(`ulimit -f`) or set {setting} to a folder on another disk, then run again"),
    errno.EACCES: ("permission denied", "let the user running darkcompute write there, or set {setting} to a "
                   "folder it can write, then run again"),
    errno.EPERM: ("operation not permitted", "let the user running darkcompute write there, or set {setting} to "
                  "a folder it can write, then run again"),
    errno.EROFS: ("the file system is read-only", "set {setting} to a folder on a writable disk, then run again"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "move that file away or set {setting} to "
                    "another folder, then run again"),
    errno.EISDIR: ("the path is a folder, not a file", "move that folder away or set {setting} to another path, "
                   "then run again"),
    errno.EEXIST: ("a file is in the way of a folder", "move that file away or set {setting} to another folder, "
                   "then run again"),
}
_STRERRORS = {os.strerror(code).lower(): code for code in _CAUSES}
_QUOTED_PATH = re.compile(r'"([^"]+)"')


class StorageError(OSError):
    """A filesystem error on a path darkcompute chose from a setting; `str()` says what to do."""

    def __init__(self, code: int | None, message: str, path: str, setting: str):
        super().__init__(code, message, path)
        self.message, self.path, self.setting = message, path, setting

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # picklable (Dagster serializes errors across processes)
        return (type(self), (self.errno, self.message, self.path, self.setting))


def error_code(exc: BaseException) -> int | None:
    """The errno of an OSError, or the one named in a DuckDB or PyArrow message ("File too large")."""
    if isinstance(exc, OSError) and exc.errno in _CAUSES:
        return exc.errno
    text = str(exc).lower()
    return next((code for name, code in _STRERRORS.items() if name in text), None)


def is_disk_error(exc: BaseException) -> bool:
    """Whether `exc` is the disk refusing a read or write (not a bug or bad data)."""
    if isinstance(exc, StorageError):
        return True
    if isinstance(exc, OSError) and not isinstance(exc, duckdb.Error):
        return exc.errno is not None
    text = str(exc)
    return error_code(exc) is not None or "max_temp_directory_size" in text or "failed to offload" in text.lower()


def explain(exc: BaseException, path: str | Path, setting: str, during: str = "",
            value: str | Path | None = None) -> StorageError:
    """`exc` as a StorageError naming `path`, `setting` with `value` (the setting's value; empty:
    the setting was not set and its default chose the path) and what to do."""
    if isinstance(exc, StorageError):
        return exc
    code = error_code(exc)
    cause, todo = _CAUSES.get(code, (None, "check that path (free space, permissions, its type) or set {setting} "
                                           "to another folder, then run again"))
    if cause is None and ("max_temp_directory_size" in str(exc) or "failed to offload" in str(exc).lower()):
        cause, todo = "DuckDB's spill folder is full", _CAUSES[errno.ENOSPC][1]
    detail = str(exc).strip() or type(exc).__name__
    named = f"{setting}={value}" if value else f"{setting} (not set: the default)"
    message = (f"{during + ': ' if during else ''}{cause or detail} at {path} (chosen by {named}); "
               f"{todo.format(setting=setting)}. [{detail}]")
    return StorageError(code, message, str(path), setting)


@contextmanager
def explained(places: list[tuple[str | Path, str, str | Path | None]], during: str = "") -> Iterator[None]:
    """Turn a disk error raised inside the block into a StorageError. `places` are (folder or
    file, setting, the setting's value or None when unset) triples; the error's path (its
    `filename`, or the first quoted path of a DuckDB message) picks the most specific place, else
    the first one."""
    try:
        yield
    except StorageError:
        raise
    except (OSError, duckdb.Error) as exc:
        if not is_disk_error(exc):
            raise
        path, setting, value = where(exc, places)
        raise explain(exc, path, setting, during=during, value=value) from exc


def where(exc: BaseException, places: list[tuple[str | Path, str, str | Path | None]]) -> tuple[str, str, str | None]:
    """The (path, setting, value) an error is about: its own path when it lies under one of
    `places` (the most specific one)."""
    named = getattr(exc, "filename", None) or next(iter(_QUOTED_PATH.findall(str(exc))), None)
    if named:
        resolved = Path(os.path.abspath(named))
        under = [(len(Path(os.path.abspath(p)).parts), i) for i, (p, _, _) in enumerate(places)
                 if resolved == Path(os.path.abspath(p)) or Path(os.path.abspath(p)) in resolved.parents]
        if under:
            _, setting, value = places[max(under, key=lambda u: (u[0], -u[1]))[1]]
            return str(named), setting, value
    path, setting, value = places[0]
    return str(named or path), setting, value


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` whole or not at all: a temporary file named uniquely (a UUID, so two
    threads or processes writing the same file never share one) beside `path`, then a rename over
    it, so a reader sees the old file or the new one, never a part. A write that fails half-way
    leaves no temporary file. No fsync: a crash of the machine may lose the new file, not mix it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
