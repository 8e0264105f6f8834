"""List prices from genai-prices, as per-million-token rates per token class.

The reconciliation prices *aggregates* (a day's tokens per cell), so it must not call
`calc_price` on summed usage: that would apply per-request long-context tiers to the sum.
Instead it takes the catalog's base (first-tier) rate for each token class, in force on the
day of use, and multiplies in SQL. `calc_price` is right only for single calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from functools import lru_cache

from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import TieredPrices

# OpenTelemetry provider names (what the marts use) -> genai-prices provider ids.
CATALOG_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "aws.bedrock": "aws"}

TOKEN_CLASSES = ("uncached_input", "cache_read", "cache_write_5m", "cache_write_1h", "output")

ALL = "__all__"  # the cell of a report not grouped by a dimension (model, account, price tier)


@dataclass(frozen=True)
class Rates:
    """USD per million tokens for each token class, and the catalog's canonical model id."""

    model_id: str
    uncached_input: Decimal
    cache_read: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    output: Decimal

    def per_class(self) -> dict[str, Decimal]:
        return {name: getattr(self, name) for name in TOKEN_CLASSES}


def _base(price: Decimal | TieredPrices | None) -> Decimal | None:
    if price is None:
        return None
    return price.base if isinstance(price, TieredPrices) else price


@lru_cache(maxsize=4096)
def catalog_rates(provider: str, model: str | None, day: date) -> Rates | None:
    """Base-tier list rates for `model` at `provider` on `day`, or None when the catalog lacks it.

    Classes the catalog does not price separately fall back the way providers bill them:
    cache reads at the input rate, 5-minute cache writes at the input rate, 1-hour writes at
    the 5-minute rate.
    """
    provider_id = CATALOG_PROVIDER.get(provider)
    if provider_id is None or model is None or model == ALL:
        return None
    try:
        _, info = get_snapshot().find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None
    prices = info.get_prices(datetime.combine(day, time(12), tzinfo=timezone.utc))
    uncached = _base(prices.input_mtok) or Decimal(0)
    write_5m = _base(prices.cache_write_mtok)
    write_5m = uncached if write_5m is None else write_5m
    write_1h = _base(prices.cache_write_1h_mtok)
    write_1h = write_5m if write_1h is None else write_1h
    read = _base(prices.cache_read_mtok)
    return Rates(
        model_id=info.id,
        uncached_input=uncached,
        cache_read=uncached if read is None else read,
        cache_write_5m=write_5m,
        cache_write_1h=write_1h,
        output=_base(prices.output_mtok) or Decimal(0),
    )


def canonical_model(provider: str, model: str | None) -> str:
    """The catalog's id for a model name (aliases and dated snapshots map to one id).

    Names the catalog does not know are returned lower-cased, unchanged otherwise, so that
    an unknown model still forms its own cell instead of disappearing. No name (a report not
    grouped by model) and the placeholder `__all__` are the cell `__all__`, never a catalog match.
    """
    if model is None or model == ALL:
        return ALL
    provider_id = CATALOG_PROVIDER.get(provider)
    if provider_id is not None:
        try:
            return get_snapshot().find_provider_model(model, None, provider_id, None)[1].id
        except LookupError:
            pass
    return model.lower()
