"""Where a long command is: a progress bar in a terminal; one plain line per step, with its
seconds, when the output is piped (a log file, CI) — `simulate 2026-11-02: 0.4 s`."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from pipelines.cli.output import console


class Steps:
    """`with Steps("simulating", total) as steps:` then `steps.done("simulate 2026-11-02")` after
    each step (the seconds are since the previous step ended, or the start)."""

    def __init__(self, what: str, total: int | None, quiet: bool = False):
        self.quiet = quiet
        self.total = total
        self.what = what
        columns = (TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
        self.progress = Progress(*columns, console=console, transient=True, disable=quiet or not console.is_terminal)
        self.started = time.perf_counter()

    def __enter__(self) -> Steps:
        self.progress.__enter__()
        self.task = self.progress.add_task(self.what, total=self.total)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def next(self, label: str) -> None:
        """The step now running, shown on the bar."""
        self.progress.update(self.task, description=label)

    def done(self, label: str) -> None:
        now = time.perf_counter()
        self.progress.advance(self.task)
        if not self.quiet and not console.is_terminal:
            console.print(f"{label}: {now - self.started:.1f} s")
        self.started = now

    @contextmanager
    def step(self, label: str):
        self.next(label)
        self.started = time.perf_counter()
        yield
        self.done(label)
