"""Whole-number settings read from the environment where they are used (the ground floor cannot
import `pipelines.defs.settings`)."""

from __future__ import annotations

import os


def positive_int(name: str, default: int) -> int:
    """The environment variable `name` as a whole number of at least 1 (`default` when unset or
    empty); a clear ValueError naming the variable otherwise."""
    text = os.environ.get(name) or str(default)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {text!r}")
    return value
