"""The bronze tables: names and Arrow schemas, the contract between the source wings (which
write them) and the reconciliation (which reads them). One partition per delivery day."""

from __future__ import annotations

import pyarrow as pa

from .ingest import FILES_SCHEMA, REJECTS_SCHEMA
from .money import MONEY_PRECISION, MONEY_SCALE

MONEY = pa.decimal128(MONEY_PRECISION, MONEY_SCALE)
TS = pa.timestamp("us", tz="UTC")

_LINEAGE = [("source_file", pa.string()), ("source_line", pa.int64()), ("file_sha256", pa.string())]
_BUCKET = [("folder_date", pa.date32()), ("usage_date", pa.date32()), ("bucket_start", TS), ("bucket_end", TS)]

OPENAI_USAGE = pa.schema(
    _BUCKET
    + [
        ("endpoint", pa.string()),
        ("project_id", pa.string()),
        ("api_key_id", pa.string()),
        ("user_id", pa.string()),
        ("model", pa.string()),
        ("batch", pa.bool_()),
        ("service_tier", pa.string()),
        ("input_tokens", pa.int64()),
        ("input_cached_tokens", pa.int64()),
        ("input_cache_write_tokens", pa.int64()),
        ("input_uncached_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("num_model_requests", pa.int64()),
    ]
    + _LINEAGE
)

OPENAI_COSTS = pa.schema(
    _BUCKET
    + [
        ("project_id", pa.string()),
        ("api_key_id", pa.string()),
        ("line_item", pa.string()),
        ("amount", MONEY),
        ("currency", pa.string()),
        ("quantity", MONEY),
        ("quantity_unit", pa.string()),
    ]
    + _LINEAGE
)

MODEL_CALLS = pa.schema(
    [
        ("log_source", pa.string()),
        ("folder_date", pa.date32()),
        ("usage_date", pa.date32()),
        ("ts", TS),
        ("provider", pa.string()),
        ("model", pa.string()),
        ("request_model", pa.string()),
        ("response_model", pa.string()),
        ("operation", pa.string()),
        ("usage_known", pa.bool_()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cache_read_tokens", pa.int64()),
        ("cache_creation_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("billing_account", pa.string()),
        ("service_tier", pa.string()),
        ("batch", pa.bool_()),
        ("attempt", pa.int32()),
        ("status", pa.string()),
        ("request_id", pa.string()),
        ("response_id", pa.string()),
        ("user_id", pa.string()),
        ("tenant_id", pa.string()),
        ("feature", pa.string()),
        ("job_id", pa.string()),
        ("job_type", pa.string()),
        ("queue", pa.string()),
        ("trigger", pa.string()),
        ("parent_request_id", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("line_md5", pa.string()),
    ]
)

# table name in the lake's bronze layer -> schema; each has a `<name>_rejects` and `<name>_files`.
TABLES = {
    "openai_usage": OPENAI_USAGE,
    "openai_costs": OPENAI_COSTS,
    "app_calls": MODEL_CALLS,
    "worker_calls": MODEL_CALLS,
}
REJECTS = REJECTS_SCHEMA
FILES = FILES_SCHEMA
