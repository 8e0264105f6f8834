"""One run at a time per lake: an exclusive `flock` on `<lake>/.run.lock`.

The lock belongs to the open file, so it dies with the process that holds it: a run killed with
`kill -9` leaves the file behind, but never a lock, and the next run takes it at once. The file
holds the holder's pid and start time, only to tell a second run who it is waiting for.

A process that holds the lock can ask for it again (the in-process Dagster steps of a CLI run do):
it is counted, not taken twice, since a second `flock` from the same process on another open
file would conflict with its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from pipelines.lib.disk import explain

LOCK_NAME = ".run.lock"
EXIT_BUSY = 75  # EX_TEMPFAIL (sysexits.h): try again later

_held: dict[Path, list] = {}  # lock file -> [open file, times taken] for the locks this process holds
_guard = threading.Lock()


class LakeBusy(RuntimeError):
    """Another process holds the lake's run lock."""

    def __init__(self, lake: Path, holder: dict):
        self.lake, self.holder = lake, holder
        if "pid" in holder:
            who = f"pid {holder['pid']}, started {holder.get('started', 'at an unknown time')}"
        else:
            who = "a Dagster run's step, or one starting this instant"
        super().__init__(f"another run ({who}) is in progress on {lake}")


def lock_path(lake: str | Path) -> Path:
    return Path(lake).resolve() / LOCK_NAME


@contextmanager
def hold(lake: str | Path, shared: bool = False) -> Iterator[None]:
    """Hold the lake's run lock for the block; raise `LakeBusy` at once if another process holds
    it. `shared=True` takes it shared (several holders, none exclusive): what a Dagster step of a
    run launched outside the CLI takes, so a CLI run and a daemon step never overlap."""
    acquire(lake, shared)
    try:
        yield
    finally:
        release(lake)


def acquire(lake: str | Path, shared: bool = False) -> None:
    """Take the lake's run lock (see `hold`); a process that holds it already counts one more."""
    path = lock_path(lake)
    with _guard:
        if path in _held:
            _held[path][1] += 1
        else:
            _held[path] = [_acquire(path, shared), 1, shared]


def release(lake: str | Path) -> None:
    """Give back one `acquire`; the last one releases the lock. Releasing a lock this process
    does not hold does nothing (a Dagster teardown after a setup that failed)."""
    path = lock_path(lake)
    with _guard:
        if path not in _held:
            return
        _held[path][1] -= 1
        if _held[path][1] == 0:
            handle, _, shared = _held.pop(path)
            if not shared:
                handle.truncate(0)  # no stale pid for the next run to report
            handle.close()  # closing the file releases the lock


def _acquire(path: Path, shared: bool):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
    except OSError as exc:  # the lake's folder cannot be made or written: say where, which setting, what to do
        raise explain(exc, path.parent, "DARKCOMPUTE_LAKE_DIR", during="taking the lake's run lock",
                      value=str(path.parent)) from exc
    try:
        fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        text = handle.read()
        handle.close()
        raise LakeBusy(path.parent, _holder(text)) from None
    except BaseException:
        handle.close()
        raise
    if not shared:
        handle.truncate(0)
        handle.write(json.dumps({"pid": os.getpid(),
                                 "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}))
        handle.flush()
    return handle


def _holder(text: str) -> dict:
    """Who holds the lock, from the file: the exclusive holder's pid and start time, or nothing
    (the holder has not written yet, or only Dagster steps hold it shared)."""
    try:
        holder = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(holder, dict) or not process_alive(holder.get("pid")):
        return {}  # a killed run's leftover: the lock is held by someone else
    return holder


def process_alive(pid) -> bool:
    """Whether a process with this pid exists on this machine."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True
