"""Exact money for the simulator: integer token sums times Decimal catalog rates, and JSON that
writes those Decimals as exact number literals (never through float)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pipelines.lib.prices import Rates, catalog_rates

# Token classes of the catalog (see pipelines.lib.prices.TOKEN_CLASSES) that the simulator bills.
UNCACHED_INPUT, CACHE_READ, OUTPUT = "uncached_input", "cache_read", "output"
CACHE_WRITE_5M, CACHE_WRITE_1H = "cache_write_5m", "cache_write_1h"
TOKEN_CLASSES = (UNCACHED_INPUT, CACHE_READ, CACHE_WRITE_5M, CACHE_WRITE_1H, OUTPUT)


@dataclass(frozen=True)
class CostLine:
    """One line of a provider's cost export, in dollars (what the invoice is the sum of)."""

    billing_account: str
    line_item: str
    amount: Decimal
    model: str | None = None  # None for non-token lines
    token_class: str | None = None
    quantity: int | None = None


def rates(provider: str, model: str, day: date) -> Rates:
    """Catalog list rates for a model the simulator bills; a model missing from the catalog is a bug."""
    found = catalog_rates(provider, model, day)
    if found is None:
        raise LookupError(f"genai-prices has no {provider} rates for {model!r} on {day}")
    return found


def cost(provider: str, model: str, day: date, token_class: str, tokens: int) -> Decimal:
    """Exact list cost in dollars of `tokens` tokens of one class (rate is per million tokens)."""
    rate: Decimal = getattr(rates(provider, model, day), token_class)
    return (rate * int(tokens)).scaleb(-6)


def usd(value: Decimal) -> str:
    """A Decimal as a plain decimal string (no exponent), exactly."""
    return format(value, "f")


_MARK = "@@decimal@@"
_MARKED = re.compile(r'"' + _MARK + r'(-?[0-9]+(?:\.[0-9]+)?)"')


def dumps(obj: Any, *, indent: int | None = 2) -> str:
    """`json.dumps` that writes every Decimal as an exact JSON number literal."""

    def mark(o: Any) -> Any:
        if isinstance(o, Decimal):
            return _MARK + usd(o)
        if isinstance(o, dict):
            return {k: mark(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [mark(v) for v in o]
        return o

    return _MARKED.sub(r"\1", json.dumps(mark(obj), indent=indent)) + "\n"
