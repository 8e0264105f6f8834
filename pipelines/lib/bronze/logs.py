"""Bronze schema of model calls from application and worker logs."""

import pyarrow as pa

from .common import TS

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
        ("request_count", pa.int64()),  # requests whose usage the record carries (1 for one call)
        ("gateway_cost_usd", pa.decimal128(38, 12)),  # LiteLLM's response_cost: the gateway's estimate
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
