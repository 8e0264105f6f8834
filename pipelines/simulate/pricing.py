"""Exact money for the simulator: integer token sums times Decimal catalog rates, and JSON that
writes those Decimals as exact number literals (never through float)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl
from genai_prices.data_snapshot import get_snapshot

from pipelines.lib.prices import CATALOG_PROVIDER, Rates, catalog_rates, modality_rates

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
    price_tier: str | None = None  # set only where a writer must tell tiers apart (Anthropic long context)


# What a provider bills per million tokens where a planted world says it differs from the catalog
# (plants_pricing.Plants.billed_rate: a negotiated discount, a price the catalog has not caught up
# with, a model no catalog lists); None: the catalog's list rate. simulate() sets it for its run.
BILLED_RATE: ContextVar[Callable[[str, str, date, str], Decimal | None] | None] = ContextVar("billed_rate",
                                                                                            default=None)


def rates(provider: str, model: str, day: date) -> Rates:
    """Catalog list rates for a model the simulator bills; a model missing from the catalog is a bug."""
    found = catalog_rates(provider, model, day)
    if found is None:
        raise LookupError(f"genai-prices has no {provider} rates for {model!r} on {day}")
    return found


def cost(provider: str, model: str, day: date, token_class: str, tokens: int) -> Decimal:
    """Exact cost in dollars of `tokens` tokens of one class at the rate the provider bills (rate
    per million tokens): the catalog's list rate unless a planted world bills another (BILLED_RATE)."""
    billed = BILLED_RATE.get()
    rate = billed(provider, model, day, token_class) if billed is not None else None
    if rate is None:
        rate = getattr(rates(provider, model, day), token_class)
    return (rate * int(tokens)).scaleb(-6)


# Price tiers the simulator bills (OpenAI Batch API and Flex processing: half the list price), the
# rest at list. `price_tier` names a call's tier the way the reconciliation's cells do.
TIER_FACTOR = {"batch": Decimal("0.5"), "flex": Decimal("0.5")}
TIER_PREFIX = {"batch": "batch | ", "flex": "flex | "}  # the Costs API line item's tier prefix
# Anthropic long context (a prompt of more than 200k tokens, plants_pricing): the whole request at
# twice the input rates and 1.5 times the output rate
LONG_CONTEXT = "long_context"
LONG_CONTEXT_FACTOR = {UNCACHED_INPUT: Decimal(2), CACHE_READ: Decimal(2), CACHE_WRITE_5M: Decimal(2),
                       CACHE_WRITE_1H: Decimal(2), OUTPUT: Decimal("1.5")}


def price_tier(long_context: bool = False) -> pl.Expr:
    """A call's price tier: `batch`, `flex`, or `standard` (Anthropic's Priority Tier is at list);
    with `long_context` (the calls carry the plant's `long_context` flag) `long_context` where set."""
    tier = (pl.when(pl.col("batch").fill_null(False)).then(pl.lit("batch"))
            .when(pl.col("service_tier") == "flex").then(pl.lit("flex")))
    if long_context:
        tier = tier.when(pl.col("long_context")).then(pl.lit(LONG_CONTEXT))
    return tier.otherwise(pl.lit("standard"))


def _tier_factor(tier: str, token_class: str) -> Decimal:
    return LONG_CONTEXT_FACTOR[token_class] if tier == LONG_CONTEXT else TIER_FACTOR.get(tier, Decimal(1))


def tier_cost(provider: str, model: str, day: date, token_class: str, tokens: int, tier: str,
              modality: str = "text") -> Decimal:
    """Exact cost of `tokens` tokens of one class at the tier's price (audio or image tokens at the
    catalog's audio or image rate of the class)."""
    if modality != "text":
        _, info = get_snapshot().find_provider_model(model, None, CATALOG_PROVIDER[provider], None)
        rate = modality_rates(info, day)[modality][token_class]
        return (rate * int(tokens)).scaleb(-6) * _tier_factor(tier, token_class)
    return cost(provider, model, day, token_class, tokens) * _tier_factor(tier, token_class)


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
