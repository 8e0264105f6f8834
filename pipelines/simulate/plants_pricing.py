"""Planted causes of a gap between the bill and the catalog (issue 13's acceptance world).

Each plant is one keyword argument of `simulate()`, off by default (a world without them keeps
its bytes), and each is a cause `fct_spend_diagnosis` must name:

- `negotiated_discount=(provider, factor)`: the provider bills every token line at `factor` x the
  catalog's list rate (0.8: a negotiated 20% off), e.g. `("aws.bedrock", Decimal("0.8"))`, a
  private rate on the one AWS account every Bedrock principal bills to. Written into the exports
  (the CUR's `line_item_unblended_cost`, as the net rate) and the truth; the catalog knows nothing
  of it, so the diagnosis shows it as a price gap until the rate is in a price overrides file;
- `stale_price=(provider, model, token_class, rate_mtok)`: the provider bills that class of that
  model at `rate_mtok` per million tokens from the first day, a price genai-prices has not caught
  up with (a stale catalog entry);
- `long_context_day=day`: on that day every Anthropic `doc_qa` request on Claude Sonnet in the app
  workspace sends a prompt 200,000 tokens longer (uncached input), so it crosses the 200k-token
  threshold: the whole request is billed at the long-context rates (2x input, 1.5x output), the
  usage and cost reports carry `context_window` `200k-1M`, the logs the long prompt;
- `credit=(day, account, amount)`: an OpenAI `Credit` cost line of `amount` (negative) on that
  project and day;
- `unpriced_model=name`: OpenAI's `ingest_summarization` jobs on the jobs project are served by
  a model no catalog lists (a private or brand-new model), billed at `PRIVATE_RATES`.

The calls are planted before a gateway prices them (litellm.with_gateway_cost: at list, so it
misses the negotiated, stale and long-context prices, and logs $0 for the model it cannot price,
as LiteLLM does for a model missing from its cost map). No random draw: the rest of the world
keeps its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from .pricing import CACHE_READ, CACHE_WRITE_1H, CACHE_WRITE_5M, OUTPUT, UNCACHED_INPUT, rates
from .providers import ANTHROPIC, OPENAI, SONNET, WORKSPACE_APP
from .world import PROJECT_JOBS

LONG_CONTEXT_FEATURE = "doc_qa"
LONG_PROMPT_TOKENS = 200_000  # added to each long-context request's uncached input
UNPRICED_JOB_TYPE = "ingest_summarization"
CREDIT_LINE_ITEM = "Credit"
# USD per million tokens of the model no catalog lists
PRIVATE_RATES = {UNCACHED_INPUT: Decimal("0.50"), CACHE_READ: Decimal("0.25"), CACHE_WRITE_5M: Decimal("0.50"),
                 CACHE_WRITE_1H: Decimal("0.50"), OUTPUT: Decimal("2.00")}


@dataclass(frozen=True)
class Plants:
    """The planted causes of one simulated world (all off: a world at list prices)."""

    negotiated_discount: tuple[str, Decimal] | None = None
    stale_price: tuple[str, str, str, Decimal] | None = None
    long_context_day: date | None = None
    credit: tuple[date, str, Decimal] | None = None
    unpriced_model: str | None = None

    def __post_init__(self) -> None:
        if self.negotiated_discount is not None and not 0 <= Decimal(self.negotiated_discount[1]) <= 1:
            raise ValueError("negotiated_discount: the factor of list must be between 0 and 1")
        if self.credit is not None and Decimal(self.credit[2]) >= 0:
            raise ValueError("credit: the amount of a credit line is negative")

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.negotiated_discount, self.stale_price, self.long_context_day,
                                           self.credit, self.unpriced_model))

    def billed_rate(self, provider: str, model: str, day: date, token_class: str) -> Decimal | None:
        """The rate the provider bills per million tokens, where a plant sets one (None: list)."""
        if self.unpriced_model is not None and (provider, model) == (OPENAI, self.unpriced_model):
            rate = PRIVATE_RATES[token_class]
        elif self.stale_price is not None and (provider, model, token_class) == self.stale_price[:3]:
            rate = Decimal(self.stale_price[3])
        else:
            rate = None
        if self.negotiated_discount is not None and provider == self.negotiated_discount[0]:
            if rate is None:
                rate = getattr(rates(provider, model, day), token_class)
            rate = rate * Decimal(self.negotiated_discount[1])
        return rate

    def calls(self, calls: pl.DataFrame, day: date) -> pl.DataFrame:
        """The day's billed calls with the long-context prompts and the uncatalogued model."""
        if self.long_context_day is not None:
            long = ((day == self.long_context_day) & (pl.col("provider") == ANTHROPIC)
                    & (pl.col("billing_account") == WORKSPACE_APP) & (pl.col("feature") == LONG_CONTEXT_FEATURE)
                    & (pl.col("model") == SONNET[0])).fill_null(False)
            calls = calls.with_columns(long_context=long).with_columns(
                input_tokens=pl.col("input_tokens") + pl.when(pl.col("long_context")).then(LONG_PROMPT_TOKENS)
                .otherwise(0))
        if self.unpriced_model is not None:
            private = ((pl.col("provider") == OPENAI) & (pl.col("billing_account") == PROJECT_JOBS)
                       & (pl.col("job_type") == UNPRICED_JOB_TYPE)).fill_null(False)
            calls = calls.with_columns(
                model=pl.when(private).then(pl.lit(self.unpriced_model)).otherwise(pl.col("model")),
                request_model=pl.when(private).then(pl.lit(self.unpriced_model)).otherwise(pl.col("request_model")),
            )
        return calls

    def non_token(self, day: date) -> list[dict]:
        """The day's planted non-token cost lines (as world.DayWorld.non_token lists them)."""
        if self.credit is None or self.credit[0] != day:
            return []
        return [{"provider": OPENAI, "billing_account": self.credit[1], "line_item": CREDIT_LINE_ITEM,
                 "amount": Decimal(self.credit[2])}]
