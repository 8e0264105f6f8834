"""List prices from genai-prices, as per-million-token rates per token class.

The reconciliation prices *aggregates* (a day's tokens per cell), so it must not call
`calc_price` on summed usage: that would apply per-request long-context tiers to the sum.
Instead it takes the catalog's base (first-tier) rate for each token class, in force on the
day of use, and multiplies in SQL. `calc_price` is right only for single calls.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

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


# --- Negotiated and private prices (the overrides file) -------------------------------------------

OVERRIDE_COLUMNS = ("provider", "model", "token_class", "modality", "rate_mtok", "valid_from", "valid_to", "note")
MODALITIES = ("text", "audio", "image")
DEFAULT_OVERRIDES = Path(__file__).resolve().parents[2] / "prices" / "overrides.csv"
_MAX_RATE = Decimal("1e9")  # DECIMAL(18, 9)


class OverridesError(ValueError):
    """The overrides file is malformed: every problem, one a line, each naming file, line and field."""


@dataclass(frozen=True)
class Override:
    """One negotiated or private rate: `rate_mtok` (USD per million tokens, standard tier) replaces
    the catalog's rate of (provider, canonical_model, token_class, modality) from `valid_from`
    (inclusive) to `valid_to` (exclusive; None: open)."""

    provider: str
    canonical_model: str
    token_class: str
    modality: str
    rate_mtok: Decimal
    valid_from: date
    valid_to: date | None
    origin: str  # "<file>:<line>"
    note: str

    def in_force(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    def parameter(self) -> dict:
        """As the dbt run parameter `price_overrides` carries it (JSON: the rate and days as text)."""
        return {"provider": self.provider, "canonical_model": self.canonical_model, "token_class": self.token_class,
                "modality": self.modality, "rate_mtok": str(self.rate_mtok), "valid_from": self.valid_from.isoformat(),
                "valid_to": self.valid_to.isoformat() if self.valid_to else None, "origin": self.origin}


def _date(text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError
    return date.fromisoformat(text)


def load_overrides(path: str | Path | None = None) -> list[Override]:
    """The overrides file (`prices/overrides.csv` unless `path` names another), validated.

    A CSV with the header `provider,model,token_class,modality,rate_mtok,valid_from,valid_to,note`;
    blank lines and lines starting with `#` are skipped. `modality` empty means `text`, `valid_to`
    empty means still in force. Raises OverridesError listing every problem as
    `<file> line <n>, field <name>: <what>`: an unknown provider or token class, an empty model, a
    rate that is not a non-negative decimal of at most 9 places, a day that is not YYYY-MM-DD, a
    range that ends before it starts, two ranges of one (provider, model, token class, modality)
    that overlap. A missing file is an error too (the default file is committed, empty)."""
    path = Path(path) if path else DEFAULT_OVERRIDES
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise OverridesError(f"{path}: cannot read the price overrides file ({exc.strerror or exc})") from exc
    errors: list[str] = []
    header: list[str] | None = None
    out: list[Override] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([text]))]
        if header is None:
            header = fields
            if tuple(fields) != OVERRIDE_COLUMNS:
                errors.append(f"{path} line {number}, field header: expected the columns "
                              f"{','.join(OVERRIDE_COLUMNS)}, got {','.join(fields)}")
                break
            continue
        if len(fields) != len(OVERRIDE_COLUMNS):
            errors.append(f"{path} line {number}, field row: expected {len(OVERRIDE_COLUMNS)} fields, got {len(fields)}")
            continue
        row = dict(zip(OVERRIDE_COLUMNS, fields, strict=True))
        where = f"{path} line {number}, field"
        bad = len(errors)
        if row["provider"] not in CATALOG_PROVIDER:
            errors.append(f"{where} provider: expected one of {', '.join(CATALOG_PROVIDER)}, got {row['provider']!r}")
        if not row["model"]:
            errors.append(f"{where} model: empty")
        if row["token_class"] not in TOKEN_CLASSES:
            errors.append(f"{where} token_class: expected one of {', '.join(TOKEN_CLASSES)}, "
                          f"got {row['token_class']!r}")
        modality = row["modality"] or "text"
        if modality not in MODALITIES:
            errors.append(f"{where} modality: expected one of {', '.join(MODALITIES)} (empty: text), "
                          f"got {row['modality']!r}")
        try:
            rate = Decimal(row["rate_mtok"])
            if not rate.is_finite() or rate.as_tuple().exponent < -9 or abs(rate) >= _MAX_RATE:
                raise ValueError
        except (ArithmeticError, ValueError):
            errors.append(f"{where} rate_mtok: expected USD per million tokens like '2.50' (at most 9 decimals), "
                          f"got {row['rate_mtok']!r}")
            rate = None
        if rate is not None and rate < 0:
            errors.append(f"{where} rate_mtok: negative ({row['rate_mtok']})")
        days = {}
        for name in ("valid_from", "valid_to"):
            if name == "valid_to" and not row[name]:
                days[name] = None
                continue
            try:
                days[name] = _date(row[name])
            except ValueError:
                errors.append(f"{where} {name}: expected a day YYYY-MM-DD, got {row[name]!r}")
        if days.get("valid_from") and days.get("valid_to") and days["valid_to"] <= days["valid_from"]:
            errors.append(f"{where} valid_to: {days['valid_to']} is not after valid_from {days['valid_from']} "
                          "(valid_to is exclusive)")
        if len(errors) > bad:
            continue
        out.append(Override(row["provider"], canonical_model(row["provider"], row["model"]), row["token_class"],
                            modality, rate, days["valid_from"], days["valid_to"], f"{path}:{number}", row["note"]))
    if header is None and not errors:
        errors.append(f"{path} line {len(lines) + 1}, field header: no header line "
                      f"({','.join(OVERRIDE_COLUMNS)})")
    by_key: dict[tuple, list[Override]] = {}
    for item in out:
        by_key.setdefault((item.provider, item.canonical_model, item.token_class, item.modality), []).append(item)
    for (provider, model, token_class, modality), items in by_key.items():
        items.sort(key=lambda o: o.valid_from)
        for before, after in pairwise(items):
            if before.valid_to is None or after.valid_from < before.valid_to:
                line = after.origin.rsplit(":", 1)[1]
                errors.append(f"{path} line {line}, field valid_from: the range from {after.valid_from} overlaps "
                              f"line {before.origin.rsplit(':', 1)[1]}'s ({before.valid_from} to "
                              f"{before.valid_to or 'open'}) for {provider} {model} {token_class} {modality}")
    if errors:
        raise OverridesError("invalid price overrides:\n" + "\n".join(errors))
    return out
