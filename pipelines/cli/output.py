"""What the CLI prints: one console for data, one for errors, and the rules for showing
untrusted values (no markup, control characters escaped)."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

# Everything printed holds data from untrusted sources (job types, accounts, models, SQL results):
# no console interprets it. A job type "[/x]" is not a closing tag, "root:x:0" holds no emoji code,
# numbers are not re-coloured; styles are passed as `style=`, never written inside the text.
console = Console(markup=False, emoji=False, highlight=False)
errors = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)
# control characters in data (an escape sequence in a job type) are shown, never sent to the terminal
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7f, 0xa0))}


def warn(message: str) -> None:
    """An error for the user, on stderr, printed as-is (no markup, no wrapping)."""
    errors.print(message, style="red")


def shown(value) -> str:
    """A value as the terminal should show it: its text, control characters escaped."""
    return "" if value is None else str(value).translate(_CONTROL)


def first_line(message: str) -> str:
    """The first non-empty line of an error message (DuckDB adds the statement and a caret below)."""
    return next((line.strip() for line in str(message).splitlines() if line.strip()), "")


def dollars(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"
