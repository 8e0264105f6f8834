"""App-log lines in the OpenTelemetry Collector file exporter's OTLP/JSON encoding.

One line is one `ExportTraceServiceRequest`: `{"resourceSpans": [{"resource": {...}, "scopeSpans":
[{"scope": {...}, "spans": [...]}]}]}`, with the proto3 JSON mapping of the OTLP/JSON spec:
lowerCamelCase field names, trace and span ids as lowercase hex, 64-bit integers
(`startTimeUnixNano`, `intValue`) as decimal strings, enums (`kind`: 3 = CLIENT, status `code`: 2 =
ERROR) as numbers, attributes as `{"key": ..., "value": {"stringValue" | "intValue" | "boolValue":
...}}`. A span carries the same attribute names as a flat line (`gen_ai.*`, `billing.account`,
`attempt`, ...); `service.name` and the SDK are resource attributes. Some lines hold two spans
(two calls of the same file, consecutive in time).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from .world import hex_ids

SPAN_KIND_CLIENT = 3
RESOURCE = ('{"attributes":[{"key":"service.name","value":{"stringValue":"darkcompute-app"}},'
            '{"key":"deployment.environment.name","value":{"stringValue":"production"}},'
            '{"key":"telemetry.sdk.name","value":{"stringValue":"opentelemetry"}},'
            '{"key":"telemetry.sdk.language","value":{"stringValue":"python"}}]}')
SCOPE = '{"name":"darkcompute.genai","version":"1.4.0"}'


def _attribute(key: str, value: str | pl.Expr, kind: str) -> pl.Expr:
    """One attribute, or null when the value is null (the attribute is then left out)."""
    value = pl.col(value) if isinstance(value, str) else value
    head = pl.lit(f'{{"key":"{key}","value":{{')
    if kind == "string":
        return head + pl.lit('"stringValue":"') + value + pl.lit('"}}')
    if kind == "int":
        return head + pl.lit('"intValue":"') + value.cast(pl.String) + pl.lit('"}}')
    return head + pl.lit('"boolValue":') + value.cast(pl.String) + pl.lit("}}")


ATTRIBUTES = (  # (key, column, kind); the first is never null
    ("gen_ai.provider.name", "provider", "string"),
    ("gen_ai.operation.name", "operation", "string"),
    ("gen_ai.request.model", "request_model", "string"),
    ("gen_ai.response.model", "logged_response_model", "string"),
    ("gen_ai.response.id", "response_id", "string"),
    ("gen_ai.usage.input_tokens", "logged_input", "int"),
    ("gen_ai.usage.output_tokens", "logged_output", "int"),
    ("gen_ai.usage.cache_read.input_tokens", "logged_cache_read", "int"),
    ("gen_ai.usage.cache_creation.input_tokens", "logged_cache_creation", "int"),
    ("billing.account", "billing_account", "string"),
    ("service_tier", "service_tier", "string"),
    ("batch", "batch", "bool"),
    ("attempt", "attempt", "int"),
    ("status", "status", "string"),
    ("request_id", "request_id", "string"),
    ("user_id", "user_id", "string"),
    ("tenant_id", "tenant_id", "string"),
    ("feature", "feature", "string"),
)


def render_lines(spans: pl.DataFrame, day: date, seed: int) -> pl.DataFrame:
    """OTLP/JSON lines (logs.LINES_SCHEMA) of app calls (with `folder_date`, `seq`, `otlp_pair` and
    the `logged_*` columns of logs.render_call_lines)."""
    start_ns = pl.col("ts_ms") * 1_000_000
    end_ns = start_ns + (200 + 15 * pl.col("output_tokens")) * 1_000_000
    request_hex = pl.col("request_id").str.slice(4)
    attributes = pl.concat_str([_attribute(*a) for a in ATTRIBUTES], separator=",", ignore_nulls=True)
    span = pl.concat_str(
        [
            pl.lit('{"traceId":"'), request_hex, request_hex.str.reverse(),
            pl.lit('","spanId":"'), pl.col("span_id"),
            pl.lit('","name":"'), pl.col("operation"), pl.lit(" "), pl.col("request_model"),
            pl.lit(f'","kind":{SPAN_KIND_CLIENT},"startTimeUnixNano":"'), start_ns.cast(pl.String),
            pl.lit('","endTimeUnixNano":"'), end_ns.cast(pl.String),
            pl.lit('","attributes":['), attributes,
            pl.lit('],"status":'),
            pl.when(pl.col("status") == "error").then(pl.lit('{"code":2,"message":"model call failed"}'))
            .otherwise(pl.lit("{}")),
            pl.lit("}"),
        ]
    )
    ids = hex_ids("", day, 9, seed, int(spans["seq"].max()) + 1)
    spans = spans.with_columns(span_id=ids.gather(spans["seq"])).sort(["folder_date", "log_file", "ts_ms", "seq"])
    within = ["folder_date", "log_file"]
    k = pl.int_range(pl.len()).over(within)
    spans = spans.with_columns(span=span, pair=k // 2, k=k)
    pair = ["folder_date", "log_file", "pair"]
    two = pl.col("otlp_pair").first().over(pair) & (pl.len().over(pair) == 2)  # the pair's first call decides
    grouped = (
        spans.with_columns(line_group=pl.when(two).then(pl.col("pair") * 2).otherwise(pl.col("k")))
        .group_by(["folder_date", "log_kind", "log_file", "line_group"], maintain_order=True)
        .agg(pl.col("ts_ms").first(), pl.col("seq").first(), pl.col("span").str.join(","))
    )
    line = pl.concat_str([pl.lit(f'{{"resourceSpans":[{{"resource":{RESOURCE},"scopeSpans":[{{"scope":{SCOPE},'
                                 '"spans":['), pl.col("span"), pl.lit("]}]}]}\n")])
    return grouped.select("folder_date", "log_kind", "log_file", "ts_ms", "seq", line.alias("line"))
