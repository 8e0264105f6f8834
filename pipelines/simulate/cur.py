"""AWS CUR 2.0 (Data Exports) for the Bedrock calls: the invoice side of Bedrock.

    cur/darkcompute-cur/data/BILLING_PERIOD=YYYY-MM/part-00000.parquet
        (or, as a CSV export, .../darkcompute-cur-00001.csv.gz)
    cur/darkcompute-cur/metadata/BILLING_PERIOD=YYYY-MM/darkcompute-cur-Manifest.json

One data file per billing period, covering every simulated day of it, in CUR 2.0 column names
(section 3b of the formats reference). Per hour, IAM principal, inference profile and token class
one `Usage` line with a Marketplace usage type (`USE1-MP:USE1_InputTokenCount-Units`, ...; a
global cross-region profile's carry `_Global`, `USE1-MP:USE1_InputTokenCount_Global-Units`: the
caller's region bills, whichever region served); per day one `Tax` and one (negative) `Credit`
line. The CSV export holds the same rows as text: timestamps in ISO 8601 UTC, doubles as their
shortest text, the map columns as JSON objects, NULL as an empty field. Conventions:

- `pricing_unit` is `Units` and `line_item_usage_amount` is a token count (a whole number, exact
  in a double); `line_item_unblended_rate` is the catalog's rate per token, as a string;
- `line_item_unblended_cost` is a double: catalog rate x tokens, which has at most 9 decimal
  places; it is kept under $1,000 per line (hourly lines; a day's tax or credit above that is
  split into lines below it), so the double holds it exactly to
  12 decimal places (`Decimal(repr(x))` and DuckDB's `x::decimal(38, 12)` both give it back);
  the truth uses that exact value;
- timestamps are UTC, stored without a zone (`timestamp[ms]`); absent values are null;
- the manifest (`executionId`, `exportArn`, `exportName`, `billingPeriod`, `dataFiles`, `columns`,
  `queryStatement`, `tableConfigurations`) lists the data file as a full `s3://` URI under
  `bedrock.SOURCE_BUCKET` (`s3.upload` rewrites it to the bucket the tree is uploaded to).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .bedrock import SOURCE_BUCKET
from .pricing import CACHE_READ, CACHE_WRITE_1H, CACHE_WRITE_5M, OUTPUT, UNCACHED_INPUT, CostLine, cost, rates
from .providers import AWS_ACCOUNT, AWS_REGION, BEDROCK, BEDROCK_HAIKU, BEDROCK_SONNET, BEDROCK_SONNET_GLOBAL
from .truth import class_tokens
from .world import DAY_MS, HOUR_MS, day_start_ms

EXPORT = "darkcompute-cur"
PRODUCT_CODE = "AmazonBedrock"
USAGE_TYPES = {
    UNCACHED_INPUT: "USE1-MP:USE1_InputTokenCount-Units",
    CACHE_READ: "USE1-MP:USE1_CacheReadInputTokenCount-Units",
    CACHE_WRITE_5M: "USE1-MP:USE1_CacheWriteInputTokenCount-Units",
    OUTPUT: "USE1-MP:USE1_OutputTokenCount-Units",
}
PRODUCT_NAMES = {BEDROCK_HAIKU: "Claude Haiku 4.5 (Amazon Bedrock Edition)",
                 BEDROCK_SONNET: "Claude Sonnet 4.5 (Amazon Bedrock Edition)",
                 BEDROCK_SONNET_GLOBAL: "Claude Sonnet 4.5 (Amazon Bedrock Edition)"}
FORMATS = ("parquet", "csv")
TAX_RATE, CREDIT_RATE = Decimal("0.06"), Decimal("0.04")  # of the day's Bedrock token cost, to the cent
MAX_LINE_USD = Decimal(1000)
PROFILE_ARN = f"arn:aws:bedrock:{AWS_REGION}:{AWS_ACCOUNT}:inference-profile/"  # + the system profile id

MAP = pa.map_(pa.string(), pa.string())
TS = pa.timestamp("ms")
SCHEMA = pa.schema([
    ("bill_bill_type", pa.string()),
    ("bill_billing_entity", pa.string()),
    ("bill_billing_period_end_date", TS),
    ("bill_billing_period_start_date", TS),
    ("bill_invoice_id", pa.string()),
    ("bill_payer_account_id", pa.string()),
    ("identity_line_item_id", pa.string()),
    ("identity_time_interval", pa.string()),
    ("line_item_currency_code", pa.string()),
    ("line_item_iam_principal", pa.string()),
    ("line_item_line_item_description", pa.string()),
    ("line_item_line_item_type", pa.string()),
    ("line_item_net_unblended_cost", pa.float64()),
    ("line_item_operation", pa.string()),
    ("line_item_product_code", pa.string()),
    ("line_item_resource_id", pa.string()),
    ("line_item_unblended_cost", pa.float64()),
    ("line_item_unblended_rate", pa.string()),
    ("line_item_usage_account_id", pa.string()),
    ("line_item_usage_amount", pa.float64()),
    ("line_item_usage_end_date", TS),
    ("line_item_usage_start_date", TS),
    ("line_item_usage_type", pa.string()),
    ("pricing_public_on_demand_cost", pa.float64()),
    ("pricing_public_on_demand_rate", pa.string()),
    ("pricing_unit", pa.string()),
    ("product", MAP),
    ("resource_tags", MAP),
])


def _utc(ms: int) -> datetime:
    """A naive datetime holding the UTC time of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).replace(tzinfo=None)


def period(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, 1)
    return start, (start + timedelta(days=32)).replace(day=1)


def cur_day(day: date, calls: pl.DataFrame) -> tuple[list[dict], list[CostLine]]:
    """CUR rows and the matching cost lines (dollars, exact) of one usage day's Bedrock calls."""
    calls = calls.filter(pl.col("provider") == BEDROCK).with_columns(**class_tokens())
    if calls.filter(pl.col(CACHE_WRITE_1H) > 0).height:
        raise ValueError("Bedrock invocation logs carry one cache-write count: the world writes 5m only")
    t0 = day_start_ms(day)
    keys = ["hour", "billing_account", "model"]
    hourly = (
        calls.with_columns(hour=((pl.col("ts_ms") - t0) // HOUR_MS).cast(pl.Int64))
        .group_by(keys).agg(pl.col(list(USAGE_TYPES)).sum()).sort(keys)
    )
    rows, lines = [], []
    for r in hourly.iter_rows(named=True):  # one row per hour, principal and model
        start = _utc(t0 + r["hour"] * HOUR_MS)
        for token_class, usage_type in USAGE_TYPES.items():
            if r["model"].startswith("global."):
                usage_type = usage_type.replace("-Units", "_Global-Units")
            tokens = int(r[token_class])
            if tokens <= 0:
                continue
            amount = cost(BEDROCK, r["model"], day, token_class, tokens)
            rate = getattr(rates(BEDROCK, r["model"], day), token_class).scaleb(-6)
            rows.append(_row(day, start, start + timedelta(hours=1), "Usage", amount, principal=r["billing_account"],
                             model=r["model"], usage_type=usage_type, tokens=tokens, rate=rate))
            lines.append(CostLine(r["billing_account"], usage_type, amount, r["model"], token_class, tokens))
    token_cost = sum((c.amount for c in lines), Decimal(0))
    day_start, day_end = _utc(t0), _utc(t0 + DAY_MS)
    for kind, amount, text in (
        ("Tax", (token_cost * TAX_RATE).quantize(Decimal("0.01"), ROUND_HALF_UP), "Tax for product code AmazonBedrock"),
        ("Credit", -(token_cost * CREDIT_RATE).quantize(Decimal("0.01"), ROUND_HALF_UP), "AWS Promotional Credit"),
    ):
        for part in _parts(amount):
            rows.append(_row(day, day_start, day_end, kind, part, description=text))
            lines.append(CostLine(AWS_ACCOUNT, kind, part))
    return rows, lines


def _parts(amount: Decimal) -> list[Decimal]:
    """A day's tax or credit as lines under `MAX_LINE_USD` each, to the cent: one line, unless
    the day is so large (millions of calls) that it must be several."""
    if abs(amount) < MAX_LINE_USD:
        return [amount]
    n = int(abs(amount) // (MAX_LINE_USD - 1)) + 1
    base = (amount / n).quantize(Decimal("0.01"), ROUND_DOWN)
    return [base] * (n - 1) + [amount - base * (n - 1)]


def _row(day: date, start: datetime, end: datetime, kind: str, amount: Decimal, principal: str | None = None,
         model: str | None = None, usage_type: str | None = None, tokens: int = 0, rate: Decimal | None = None,
         description: str | None = None) -> dict:
    value = float(amount)
    if abs(amount) >= MAX_LINE_USD or Decimal(repr(value)) != amount:
        raise ValueError(f"CUR line {amount} would not survive a double exactly")
    p_start, p_end = _month_bounds(day)
    interval = f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"
    line_id = hashlib.sha256(f"{interval}|{kind}|{principal}|{model}|{usage_type}".encode()).hexdigest()[:52]
    product = {"product_name": PRODUCT_NAMES[model] if model else "Amazon Bedrock", "region": AWS_REGION,
               "servicecode": PRODUCT_CODE}
    return {
        "bill_bill_type": "Anniversary",
        "bill_billing_entity": "AWS",
        "bill_billing_period_end_date": p_end,
        "bill_billing_period_start_date": p_start,
        "bill_invoice_id": None,
        "bill_payer_account_id": AWS_ACCOUNT,
        "identity_line_item_id": line_id,
        "identity_time_interval": interval,
        "line_item_currency_code": "USD",
        "line_item_iam_principal": principal,
        "line_item_line_item_description": description or f"{product['product_name']} - {usage_type}",
        "line_item_line_item_type": kind,
        "line_item_net_unblended_cost": value,
        "line_item_operation": "InvokeModel" if model else None,
        "line_item_product_code": PRODUCT_CODE,
        "line_item_resource_id": f"{PROFILE_ARN}{model}" if model else None,
        "line_item_unblended_cost": value,
        "line_item_unblended_rate": None if rate is None else format(rate, "f"),
        "line_item_usage_account_id": AWS_ACCOUNT,
        "line_item_usage_amount": float(tokens),
        "line_item_usage_end_date": end,
        "line_item_usage_start_date": start,
        "line_item_usage_type": usage_type,
        "pricing_public_on_demand_cost": value,
        "pricing_public_on_demand_rate": None if rate is None else format(rate, "f"),
        "pricing_unit": "Units" if model else None,
        "product": list(product.items()),
        "resource_tags": [("user_app", "darkcompute")] if model else [],
    }


def data_key(billing_period: str, fmt: str = "parquet") -> str:
    folder = f"cur/{EXPORT}/data/BILLING_PERIOD={billing_period}"
    return f"{folder}/part-00000.parquet" if fmt == "parquet" else f"{folder}/{EXPORT}-00001.csv.gz"


def manifest_key(billing_period: str) -> str:
    return f"cur/{EXPORT}/metadata/BILLING_PERIOD={billing_period}/{EXPORT}-Manifest.json"


def write_cur(sources: Path, rows_by_period: dict[str, list[dict]], fmt: str = "parquet") -> list[Path]:
    """Write each billing period's data file (Parquet, or gzipped CSV), then its manifest (which
    lists it)."""
    if fmt not in FORMATS:
        raise ValueError(f"CUR format must be one of {FORMATS}, got {fmt!r}")
    files = []
    for billing_period, rows in sorted(rows_by_period.items()):
        data = sources / data_key(billing_period, fmt)
        data.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        if fmt == "parquet":
            pq.write_table(table, data, compression="snappy")
        else:
            data.write_bytes(csv_gz(table))
        digest = hashlib.sha256(data.read_bytes()).hexdigest()
        start = datetime.strptime(billing_period + "-01", "%Y-%m-%d")
        p_start, p_end = _month_bounds(start.date())
        columns = [{"name": f.name, "type": _type_name(f.type)} for f in SCHEMA]
        manifest = {
            "executionId": f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
            "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{AWS_ACCOUNT}:export/{EXPORT}-6a2f7b41",
            "exportName": EXPORT,
            "billingPeriod": {"start": f"{p_start:%Y-%m-%dT%H:%M:%S}.000Z", "end": f"{p_end:%Y-%m-%dT%H:%M:%S}.000Z"},
            "dataFiles": [f"{SOURCE_BUCKET}/{data_key(billing_period, fmt)}"],
            "columns": columns,
            "queryStatement": "SELECT " + ", ".join(f.name for f in SCHEMA) + " FROM COST_AND_USAGE_REPORT",
            "tableConfigurations": {"COST_AND_USAGE_REPORT": {
                "TIME_GRANULARITY": "HOURLY", "INCLUDE_RESOURCES": "TRUE", "INCLUDE_IAM_PRINCIPAL_DATA": "TRUE",
                "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY": "FALSE", "INCLUDE_SPLIT_COST_ALLOCATION_DATA": "FALSE"}},
        }
        path = sources / manifest_key(billing_period)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest, indent=2) + "\n")
        files += [data, path]
    return files


def csv_gz(table: pa.Table) -> bytes:
    """A CUR table as AWS's gzipped CSV export writes it: every column as text (timestamps
    `2026-11-02T12:00:00.000Z`, doubles as the shortest text that reads back to them, maps as
    JSON objects), NULL as an empty field; set-based (DuckDB renders the text)."""
    con = duckdb.connect()
    try:
        con.register("cur", table)
        exprs = []
        for field in table.schema:
            name = f'"{field.name}"'
            if pa.types.is_timestamp(field.type):
                exprs.append(f"strftime({name}, '%Y-%m-%dT%H:%M:%S.%gZ') as {name}")
            elif pa.types.is_map(field.type):
                exprs.append(f"to_json({name})::varchar as {name}")
            else:
                exprs.append(f"{name}::varchar as {name}")
        text = con.sql("select " + ", ".join(exprs) + " from cur").to_arrow_table()
    finally:
        con.close()
    buf = io.BytesIO()
    pacsv.write_csv(text, buf, pacsv.WriteOptions(quoting_style="needed"))
    return gzip.compress(buf.getvalue(), mtime=0)


def _type_name(t: pa.DataType) -> str:
    if pa.types.is_map(t):
        return "map<string,string>"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return {pa.string(): "string", pa.float64(): "double"}[t]
