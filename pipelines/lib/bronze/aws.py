"""Bronze schemas of AWS sources: Bedrock model invocation logs and CUR 2.0 (Data Exports) lines.

`bedrock_invocations` is partitioned by delivery day (the `YYYY/MM/DD` of the object key);
`cur_lines` by billing period: each delivery restates the whole month, so the period's one
partition (dated the first day of the month, see `billing_period_start`) is replaced, never
appended to. Neither table holds a request or response body.
"""

from datetime import date

import pyarrow as pa

from .common import LINEAGE, MONEY, TS

BEDROCK_INVOCATIONS = pa.schema(
    [
        ("folder_date", pa.date32()),
        ("usage_date", pa.date32()),
        ("ts", TS),
        ("account_id", pa.string()),
        ("region", pa.string()),  # the caller's region: the one that bills the request
        ("inference_region", pa.string()),  # where a cross-region profile served it (absent: `region`)
        ("request_id", pa.string()),
        ("operation", pa.string()),
        ("model_id", pa.string()),
        ("identity_arn", pa.string()),
        # the application inference profile ARN when modelId is one, else identity.arn (else accountId)
        ("billing_account", pa.string()),
        ("request_metadata", pa.string()),  # the caller's map, as JSON text
        ("job_type", pa.string()),
        ("attempt", pa.int32()),
        ("usage_known", pa.bool_()),
        # for Anthropic models inputTokenCount EXCLUDES cache reads and writes
        ("input_tokens", pa.int64()),
        ("cache_read_tokens", pa.int64()),
        ("cache_write_tokens", pa.int64()),  # 5-minute and 1-hour writes combined
        ("cache_write_1h_tokens", pa.int64()),  # the 1-hour part, when the response body says (else NULL)
        ("output_tokens", pa.int64()),
        ("service_tier", pa.string()),  # priority, default, flex, reserved: when the record says
        ("guardrail_action", pa.string()),  # INTERVENED or NONE: when the record says
    ]
    + LINEAGE
)

CUR_LINES = pa.schema(
    [
        ("billing_period", pa.date32()),
        ("usage_date", pa.date32()),
        ("usage_start", TS),
        ("usage_end", TS),
        ("line_item_type", pa.string()),  # as delivered: Usage, Credit, Tax, EdpDiscount, ...
        ("line_item_class", pa.string()),  # usage, credit, refund, tax, discount, fee, other
        ("product_code", pa.string()),
        ("product_name", pa.string()),
        ("is_bedrock", pa.bool_()),
        ("usage_type", pa.string()),  # raw text, kept
        ("operation", pa.string()),
        ("resource_id", pa.string()),
        ("description", pa.string()),
        ("usage_account_id", pa.string()),
        ("iam_principal", pa.string()),
        ("billing_account", pa.string()),
        ("usage_type_family", pa.string()),  # first_party, marketplace, marketplace_snake
        ("usage_type_status", pa.string()),  # parsed, unparsed
        ("token_class", pa.string()),
        ("usage_region_code", pa.string()),  # the billing region code, e.g. USE1
        ("is_global", pa.bool_()),
        ("is_batch", pa.bool_()),
        ("usage_tier", pa.string()),  # standard, priority, flex, ... when the usage type names one
        ("model", pa.string()),
        ("model_parse_status", pa.string()),  # foundation_model, inference_profile, product_name, unmatched, none
        ("usage_amount", MONEY),
        ("pricing_unit", pa.string()),
        ("tokens", pa.int64()),  # usage_amount in tokens when pricing_unit is a token unit
        ("unblended_cost", MONEY),
        ("net_unblended_cost", MONEY),
        ("currency", pa.string()),
        ("resource_tags", pa.string()),  # JSON text
    ]
    + LINEAGE
)


def billing_period_start(day: date) -> date:
    """The first day of the billing period (calendar month) containing `day`: the partition
    date of `cur_lines` for that period."""
    return day.replace(day=1)
