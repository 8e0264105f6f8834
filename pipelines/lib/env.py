"""Whole-number settings, checked where the resource layer hands them over (the ground floor
reads no environment: its callers pass the values)."""

from __future__ import annotations


def positive_int(name: str, text: str | int | None, default: int) -> int:
    """`text`, the value of the setting `name`, as a whole number of at least 1 (`default` when
    it is None or empty); a clear ValueError naming the setting otherwise."""
    text = str(default) if text is None or text == "" else str(text)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {text!r}")
    return value
