"""Money without floats: JSON is parsed with Decimal for every non-integer number."""

from __future__ import annotations

import json
from decimal import Context, Decimal, InvalidOperation
from typing import Any

# DuckDB and Parquet column type for dollars everywhere.
MONEY_PRECISION, MONEY_SCALE = 38, 12
MAX_AMOUNT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)
_CONTEXT = Context(prec=MONEY_PRECISION + 2)


def loads(text: str | bytes) -> Any:
    """`json.loads` that keeps every fractional number as an exact `Decimal`."""
    return json.loads(text, parse_float=Decimal)


def to_decimal(value: Any) -> Decimal:
    """A JSON money value (number or decimal string) as Decimal; floats are refused.

    Raises ValueError with a short reason for anything that is not a finite number.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"money must be a JSON number or decimal string, got {type(value).__name__}")
    if isinstance(value, (int, Decimal)):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a decimal amount: {value!r}") from None
    else:
        raise ValueError(f"money must be a number or decimal string, got {type(value).__name__}")
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    if abs(amount) >= MAX_AMOUNT:
        raise ValueError(f"amount {value!r} does not fit DECIMAL({MONEY_PRECISION}, {MONEY_SCALE})")
    return amount.quantize(Decimal(1).scaleb(-MONEY_SCALE), context=_CONTEXT)
