"""Bronze schemas of the Anthropic Admin API `usage_report/messages` and `cost_report` pages.

Grouping values are kept as the report gives them: `workspace_id` null means the default
workspace (or a report not grouped by workspace) and stays null here. `amount_usd` is the
report's `amount` (a decimal string in cents) divided by 100, exactly.
"""

import pyarrow as pa

from .common import BUCKET, LINEAGE, MONEY

ANTHROPIC_USAGE = pa.schema(
    BUCKET
    + [
        ("workspace_id", pa.string()),
        ("api_key_id", pa.string()),
        ("account_id", pa.string()),
        ("service_account_id", pa.string()),
        ("model", pa.string()),
        ("service_tier", pa.string()),
        ("context_window", pa.string()),
        ("inference_geo", pa.string()),
        ("speed", pa.string()),
        ("uncached_input_tokens", pa.int64()),
        ("cache_read_input_tokens", pa.int64()),
        ("cache_creation_5m_input_tokens", pa.int64()),
        ("cache_creation_1h_input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("web_search_requests", pa.int64()),
    ]
    + LINEAGE
)

ANTHROPIC_COSTS = pa.schema(
    BUCKET
    + [
        ("workspace_id", pa.string()),
        ("description", pa.string()),
        ("cost_type", pa.string()),
        ("model", pa.string()),
        ("token_type", pa.string()),
        ("service_tier", pa.string()),
        ("context_window", pa.string()),
        ("inference_geo", pa.string()),
        ("speed", pa.string()),
        ("amount_usd", MONEY),
        ("currency", pa.string()),
    ]
    + LINEAGE
)
