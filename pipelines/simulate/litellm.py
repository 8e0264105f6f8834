"""Log lines in the LiteLLM proxy's logging payload (`StandardLoggingPayload`), and job-level
aggregate records (one line with a whole job's usage and its `request_count`).

A LiteLLM line is what the proxy's logging callbacks write for a call: `custom_llm_provider`
(openai, anthropic, bedrock), `model` (the alias the application asked for), `prompt_tokens`
(cache read and creation included, as LiteLLM's OpenAI-format usage counts them),
`completion_tokens`, the usage object in `metadata.usage_object` (`prompt_tokens_details.cached_tokens`
for OpenAI; `cache_read_input_tokens` and `cache_creation_input_tokens` for Anthropic and
Bedrock), `startTime` in Unix seconds, `id` (the provider's response id) and `trace_id` (the
application's request id), the virtual key's team and alias, `end_user`, and request tags that
the default attribution rule reads: `billing.account:<x>`, `feature:<x>`, `tenant_id:<x>`,
`job_type:<x>`, `job_id:<x>`. `messages` and `response` hold a placeholder, as a proxy with
message logging on would hold the text. `response_cost` is a rough estimate, as the gateway's is.

Built column-wise with Polars `concat_str`; values are ids, vocabulary words and numbers (no
JSON escaping needed, see logs._check_plain).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from pipelines.lib.prices import catalog_rates

from .pricing import TOKEN_CLASSES
from .truth import class_tokens

GATEWAY_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "aws.bedrock": "bedrock"}
PLACEHOLDER = "(simulated text)"


def _str(value: pl.Expr) -> pl.Expr:
    return pl.lit('"') + value + pl.lit('"')


def _null_or(value: pl.Expr, render) -> pl.Expr:
    return pl.when(value.is_null()).then(pl.lit("null")).otherwise(render(value))


def _tag(name: str, column: str) -> pl.Expr:
    """`"name:value"`, or null (left out of the tag list) when the value is null."""
    return pl.lit(f'"{name}:') + pl.col(column) + pl.lit('"')


def with_gateway_cost(calls: pl.DataFrame, day: date, factor: Decimal) -> pl.DataFrame:
    """`gateway_cost` (a decimal literal, exact to the picodollar) on the LiteLLM rows: `factor` x the
    call's list cost at genai-prices' rates of the day (its billed token classes, text rates), as a
    gateway whose price map is off by that factor would log it (0.7: 30% under a bill at list).
    The cost is floored to the picodollar; other rows get null. A model the catalog does not list
    is logged at 0, as LiteLLM logs a model missing from its cost map."""
    factor = Decimal(factor)
    if factor < 0:
        raise ValueError("the gateway's cost factor must not be negative")
    num, exp = factor.as_integer_ratio()
    litellm_rows = calls.filter(pl.col("log_format") == "litellm").select("provider", "model").unique()
    # picodollars per token of each class: USD per million tokens x 1e6
    known = [(r["provider"], r["model"], catalog_rates(r["provider"], r["model"], day))
             for r in litellm_rows.iter_rows(named=True)]
    per_token = pl.DataFrame(
        [{"provider": provider, "model": model, **{f"pico_{c}": int(getattr(found, c).scaleb(6)) for c in TOKEN_CLASSES}}
         for provider, model, found in known if found is not None],
        schema={"provider": pl.String, "model": pl.String, **{f"pico_{c}": pl.Int64 for c in TOKEN_CLASSES}},
    )
    tokens = class_tokens()
    pico = sum(tokens[c].cast(pl.Int64) * pl.col(f"pico_{c}") for c in TOKEN_CLASSES)
    scaled = (pl.lit(num, pl.Int128) * pico.cast(pl.Int128)) // pl.lit(exp, pl.Int128)
    rendered = pl.concat_str([(scaled // 10**12).cast(pl.String), pl.lit("."),
                              (scaled % 10**12).cast(pl.String).str.zfill(12)])
    return (
        calls.join(per_token, on=["provider", "model"], how="left", maintain_order="left")
        .with_columns(gateway_cost=pl.when(pl.col("log_format") == "litellm").then(
            pl.coalesce(rendered, pl.lit("0.000000000000"))))
        .drop([f"pico_{c}" for c in TOKEN_CLASSES])
    )


def litellm_line(exact_cost: bool = False) -> pl.Expr:
    """The payload of every row (with the `logged_*` columns of logs._said), ending in a newline.
    `exact_cost`: `response_cost` is the row's `gateway_cost` (with_gateway_cost), else a rough
    estimate from the token counts."""
    prompt, completion = pl.col("logged_input"), pl.col("logged_output").fill_null(0)
    read, written = pl.col("logged_cache_read").fill_null(0), pl.col("logged_cache_creation").fill_null(0)
    seconds = pl.concat_str([(pl.col("ts_ms") // 1000).cast(pl.String), pl.lit("."),
                             (pl.col("ts_ms") % 1000).cast(pl.String).str.zfill(3)])
    end_seconds = pl.concat_str([((pl.col("ts_ms") + 1500) // 1000).cast(pl.String), pl.lit("."),
                                 ((pl.col("ts_ms") + 1500) % 1000).cast(pl.String).str.zfill(3)])
    openai = pl.col("provider") == "openai"
    usage = pl.concat_str([
        pl.lit('{"completion_tokens":'), completion.cast(pl.String),
        pl.lit(',"prompt_tokens":'), prompt.cast(pl.String),
        pl.lit(',"total_tokens":'), (prompt + completion).cast(pl.String),
        pl.lit(',"prompt_tokens_details":{"cached_tokens":'), read.cast(pl.String), pl.lit("}"),
        pl.when(openai).then(pl.lit("")).otherwise(pl.concat_str([
            pl.lit(',"cache_read_input_tokens":'), read.cast(pl.String),
            pl.lit(',"cache_creation_input_tokens":'), written.cast(pl.String)])),
        pl.lit("}"),
    ])
    cost = (pl.col("gateway_cost") if exact_cost
            else ((prompt * 3 + completion * 12) / 10_000_000).round(9).cast(pl.String))
    tags = pl.concat_str([_tag("billing.account", "billing_account"), _tag("feature", "feature"),
                          _tag("tenant_id", "tenant_id"), _tag("job_type", "job_type"), _tag("job_id", "job_id")],
                         separator=",", ignore_nulls=True)
    team = pl.coalesce(pl.col("feature"), pl.col("job_type"))
    return pl.concat_str([
        pl.lit('{"id":'), _null_or(pl.col("response_id"), _str),
        pl.lit(',"trace_id":'), _null_or(pl.coalesce(pl.col("request_id"), pl.col("job_id")), _str),
        pl.lit(',"call_type":'), pl.when(pl.col("operation") == "embeddings").then(pl.lit('"aembedding"'))
        .otherwise(pl.lit('"acompletion"')),
        pl.lit(',"stream":false,"response_cost":'), cost,
        pl.lit(',"status":'), pl.when(pl.col("status") == "error").then(pl.lit('"failure"')).otherwise(pl.lit('"success"')),
        pl.lit(',"custom_llm_provider":"'), pl.col("provider").replace_strict(GATEWAY_PROVIDER), pl.lit('"'),
        pl.lit(',"total_tokens":'), (prompt + completion).cast(pl.String),
        pl.lit(',"prompt_tokens":'), prompt.cast(pl.String),
        pl.lit(',"completion_tokens":'), completion.cast(pl.String),
        pl.lit(',"startTime":'), seconds, pl.lit(',"endTime":'), end_seconds,
        pl.lit(',"model":"'), pl.col("request_model"), pl.lit('","model_group":"'), pl.col("request_model"),
        pl.lit('","api_base":null,"metadata":{"user_api_key_hash":"sim","user_api_key_alias":'),
        _null_or(team, lambda v: _str(v + pl.lit("-key"))),
        pl.lit(',"user_api_key_team_id":"team-sim","user_api_key_team_alias":'),
        _null_or(team, lambda v: _str(v + pl.lit("-team"))),
        pl.lit(',"user_api_key_user_id":null,"spend_logs_metadata":null,"usage_object":'), usage,
        pl.lit('},"cache_hit":null,"request_tags":['), tags.fill_null(""),
        pl.lit('],"end_user":'), _null_or(pl.col("user_id"), _str),
        pl.lit(f',"messages":[{{"role":"user","content":"{PLACEHOLDER}"}}],"response":{{"choices":[{{"message":'
               f'{{"role":"assistant","content":"{PLACEHOLDER}"}}}}]}},"error_str":null,"model_parameters":{{}},'
               '"hidden_params":{"litellm_model_name":"'), pl.col("request_model"),
        pl.lit('","response_cost":'), cost,
        pl.lit("}}\n"),
    ])


AGGREGATE_KEYS = ["log_kind", "log_file", "late", "provider", "operation", "request_model", "billing_account",
                  "service_tier", "batch", "tenant_id", "job_id", "job_type", "queue", "trigger", "parent_request_id"]


def aggregate(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per job and cell of the rows written as aggregates: summed logged usage, the number
    of requests (`request_count`), the last call's time."""
    return rows.group_by(AGGREGATE_KEYS, maintain_order=True).agg(
        pl.col("ts_ms").max(), pl.col("seq").min(),
        pl.col("logged_input").sum(), pl.col("logged_output").sum(),
        pl.col("logged_cache_read").sum(), pl.col("logged_cache_creation").sum(),
        request_count=pl.len(),
    )
