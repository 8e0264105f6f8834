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

import pyarrow as pa
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import TieredPrices

# OpenTelemetry provider names (what the marts use) -> genai-prices provider ids.
CATALOG_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "aws.bedrock": "aws"}

TOKEN_CLASSES = ("uncached_input", "cache_read", "cache_write_5m", "cache_write_1h", "output")

CATALOG_SCHEMA = pa.schema([("provider", pa.string()), ("canonical_model", pa.string()),
                            ("token_class", pa.string()), ("modality", pa.string()),
                            ("rate_mtok", pa.decimal128(18, 9))])

# genai-prices' price keys of the audio and image parts of a token class (OpenAI's usage pages
# count them apart): a class whose key the catalog leaves unpriced takes the text rate.
MODALITY_PRICES = {
    "audio": {"uncached_input": "input_audio_mtok", "cache_read": "cache_audio_read_mtok",
              "output": "output_audio_mtok"},
    "image": {"uncached_input": "input_image_mtok", "cache_read": "cache_image_read_mtok",
              "output": "output_image_mtok"},
}

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
    """Base-tier list rates for `model` at `provider` on `day`, or None when the catalog lacks it."""
    provider_id = CATALOG_PROVIDER.get(provider)
    if provider_id is None or model is None or model == ALL:
        return None
    try:
        _, info = get_snapshot().find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None
    return rates_of(info, day)


def rates_of(info, day: date) -> Rates:
    """The base-tier list rates of one catalog model on `day` (its prices at noon UTC).

    Classes the catalog does not price separately fall back the way providers bill them:
    cache reads at the input rate, 5-minute cache writes at the input rate, 1-hour writes at
    the 5-minute rate.
    """
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


def modality_rates(info, day: date) -> dict[str, dict[str, Decimal]]:
    """The audio and image rates of one catalog model on `day`, per token class, for each modality
    the catalog prices at least one class of (a class it does not price takes the text rate)."""
    prices = info.get_prices(datetime.combine(day, time(12), tzinfo=timezone.utc))
    text = rates_of(info, day).per_class()
    out = {}
    for modality, keys in MODALITY_PRICES.items():
        own = {token_class: _base(getattr(prices, key, None)) for token_class, key in keys.items()}
        if any(rate is not None for rate in own.values()):
            out[modality] = {c: own.get(c) if own.get(c) is not None else rate for c, rate in text.items()}
    return out


def catalog_models(provider: str) -> list:
    """Every catalog model a name at `provider` can resolve to, first match first: the catalog
    provider's own models, then those of its fallback providers (one step, as genai-prices
    looks them up). A model id listed twice keeps its first entry."""
    snapshot = get_snapshot()
    provider_id = CATALOG_PROVIDER.get(provider)
    own = next((p for p in snapshot.providers if p.id == provider_id), None)
    if own is None:
        return []
    chain = [own] + [p for fid in (own.fallback_model_providers or []) for p in snapshot.providers if p.id == fid]
    seen, out = set(), []
    for catalog_provider in chain:
        for info in catalog_provider.models:
            if info.id not in seen:
                seen.add(info.id)
                out.append(info)
    return out


def catalog_table(day: date) -> pa.Table:
    """The price catalog in force on `day`: one row per provider, catalog model, token class and
    modality (`provider, canonical_model, token_class, modality, rate_mtok`), for every provider
    darkcompute reads: `text` rows for every model, `audio` and `image` rows for the models the
    catalog prices those tokens for. Tens of models a provider: Python builds it once a day, SQL
    joins it."""
    rows = [
        {"provider": provider, "canonical_model": info.id, "token_class": token_class, "modality": modality,
         "rate_mtok": rate}
        for provider in CATALOG_PROVIDER
        for info in catalog_models(provider)
        for modality, rates in {"text": rates_of(info, day).per_class(), **modality_rates(info, day)}.items()
        for token_class, rate in rates.items()
    ]
    return pa.Table.from_pylist(rows, schema=CATALOG_SCHEMA)


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
