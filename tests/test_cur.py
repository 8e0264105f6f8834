"""AWS CUR 2.0 (Data Exports) -> bronze `cur_lines` -> Bedrock cost staging, on hand-written files.

The data files are Parquet written with PyArrow in CUR 2.0 column names (provider-formats.md 3b):
`line_item_*`, `bill_*`, `pricing_unit`, and the map columns `product` and `resource_tags`;
costs and usage amounts are doubles, as AWS writes them. The manifest follows the Data Exports
shape: `executionId`, `exportArn`, `exportName`, `columns`, and `dataFiles`, the S3 URIs of the
delivery's files; it sits at `cur/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.defs.bedrock.assets import cur_lines
from pipelines.defs.bedrock.cur import listed_keys, manifest_keys, model_for_product, parse_cur_delivery
from pipelines.defs.resources import LakeStore, SourceStore, Warehouse
from pipelines.lib.bronze.aws import CUR_LINES, billing_period_start
from pipelines.lib.lake import Lake
from pipelines.lib.store import SourceFile

from .fixtures import build_models

D = Decimal
EXPORT = "darkcompute-cur"
PERIOD = date(2026, 11, 1)
DAY = date(2026, 11, 2)
DATA = f"cur/{EXPORT}/data/BILLING_PERIOD=2026-11"
MANIFEST_KEY = f"cur/{EXPORT}/metadata/BILLING_PERIOD=2026-11/{EXPORT}-Manifest.json"
ACCOUNT = "123456789012"
WORKER = "arn:aws:sts::123456789012:assumed-role/worker-role/job-4711"
APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
HAIKU_PROFILE = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{HAIKU}"
NOVA_MODEL = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"
MAP = pa.map_(pa.string(), pa.string())
TS = pa.timestamp("ms")

CUR_SCHEMA = pa.schema(
    [
        ("bill_billing_period_start_date", TS),
        ("bill_billing_period_end_date", TS),
        ("bill_payer_account_id", pa.string()),
        ("identity_line_item_id", pa.string()),
        ("identity_time_interval", pa.string()),
        ("line_item_line_item_type", pa.string()),
        ("line_item_usage_start_date", TS),
        ("line_item_usage_end_date", TS),
        ("line_item_product_code", pa.string()),
        ("line_item_usage_type", pa.string()),
        ("line_item_operation", pa.string()),
        ("line_item_resource_id", pa.string()),
        ("line_item_usage_amount", pa.float64()),
        ("pricing_unit", pa.string()),
        ("line_item_unblended_rate", pa.string()),
        ("line_item_unblended_cost", pa.float64()),
        ("line_item_net_unblended_cost", pa.float64()),
        ("line_item_currency_code", pa.string()),
        ("line_item_line_item_description", pa.string()),
        ("line_item_usage_account_id", pa.string()),
        ("line_item_iam_principal", pa.string()),
        ("product", MAP),
        ("resource_tags", MAP),
    ]
)


def at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def line(usage_type: str | None, cost: float, *, kind: str = "Usage", amount: float = 0.0, unit: str | None = "Units",
         resource: str | None = HAIKU_PROFILE, principal: str | None = WORKER,
         product_name: str = "Claude Haiku 4.5 (Amazon Bedrock Edition)", product_code: str = "AmazonBedrock",
         day: date = DAY, hour: int = 12, currency: str = "USD", description: str | None = None) -> dict:
    """One CUR 2.0 row; the columns this parser does not read carry realistic values too."""
    return {
        "bill_billing_period_start_date": at(PERIOD), "bill_billing_period_end_date": at(date(2026, 12, 1)),
        "bill_payer_account_id": ACCOUNT, "identity_line_item_id": "li-" + str(hour),
        "identity_time_interval": f"{day}T{hour:02d}:00:00Z/{day}T{hour:02d}:59:59Z",
        "line_item_line_item_type": kind, "line_item_usage_start_date": at(day, hour),
        "line_item_usage_end_date": at(day, hour + 1) if hour < 23 else at(day, 23),
        "line_item_product_code": product_code, "line_item_usage_type": usage_type,
        "line_item_operation": "InvokeModel" if kind == "Usage" else None, "line_item_resource_id": resource,
        "line_item_usage_amount": amount, "pricing_unit": unit, "line_item_unblended_rate": None,
        "line_item_unblended_cost": cost, "line_item_net_unblended_cost": cost, "line_item_currency_code": currency,
        "line_item_line_item_description": description, "line_item_usage_account_id": ACCOUNT,
        "line_item_iam_principal": principal,
        "product": [("product_name", product_name), ("region", "us-east-1"), ("servicecode", product_code)],
        "resource_tags": [("user_team", "search")],
    }


def parquet(rows: list[dict], schema: pa.Schema = CUR_SCHEMA) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buf)
    return buf.getvalue()


def manifest(*names: str, key: str = MANIFEST_KEY) -> SourceFile:
    doc = {
        "executionId": "3f1c2b9e-0d4a-4c59-9a8e-6b1f0c2d7e11",
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{ACCOUNT}:export/{EXPORT}-0c7b2f5e",
        "exportName": EXPORT,
        "columns": [{"name": name, "type": str(CUR_SCHEMA.field(name).type)} for name in CUR_SCHEMA.names],
        "dataFiles": [f"s3://billing-bucket/exports/{DATA}/{name}" for name in names],
    }
    return SourceFile(key, json.dumps(doc).encode())


TOKEN_LINES = [
    line("USE1-MP:USE1_InputTokenCount-Units", 0.004, amount=4000),
    line("USE1-MP:USE1_OutputTokenCount-Units", 0.0075, amount=1500),
    line("USE1-MP:USE1_CacheReadInputTokenCount-Units", 0.0042, amount=42000),
    line("USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units", 0.006, amount=3000, resource=APP_PROFILE,
         principal=None, product_name="Claude Sonnet 4.5 (Amazon Bedrock Edition)"),
    line("USE1-NovaPro-input-tokens", 0.0016, amount=2, unit="1K tokens", resource=NOVA_MODEL, principal=None,
         product_name="Amazon Bedrock"),
]
OTHER_LINES = [
    line(None, 0.25, kind="Tax", resource=None, principal=None, product_name="Amazon Bedrock", hour=0,
         description="Tax for product code AmazonBedrock"),
    line(None, -0.1, kind="Credit", resource=None, principal=None, product_name="Amazon Bedrock", hour=0,
         description="AWS Credit"),
    line("USE1-MP:USE1_Reserved_1Month_InputTPM_Geo-Units", 1.5, amount=1, principal=None),
    line("BoxUsage:m5.large", 0.096, amount=1, unit="Hrs", resource="i-0abc", principal=None,
         product_name="Amazon Elastic Compute Cloud", product_code="AmazonEC2"),
    line("USE1-MP:USE1_InputTokenCount-Units", 0.001, amount=1000, day=date(2026, 11, 3)),
]


def ingest(rows: list[dict], **kw):
    data = {"part-00000.parquet": parquet(rows)}
    files = [SourceFile(f"{DATA}/{name}", body) for name, body in data.items()]
    return parse_cur_delivery(manifest(*data), files, delivered=[f.key for f in files], **kw)


def file_counts(ingested) -> dict[str, tuple[int, int, int, int]]:
    """file -> (lines_read, records, skipped, rejected), asserting conservation on the way."""
    return counts_of(ingested.files)


def counts_of(files: pa.Table) -> dict[str, tuple[int, int, int, int]]:
    out = {}
    for row in files.to_pylist():
        assert row["lines_read"] == row["records"] + row["skipped"] + row["rejected"], row
        out[row["file"]] = (row["lines_read"], row["records"], row["skipped"], row["rejected"])
    return out


def cols(table: pa.Table, *names: str) -> list[tuple]:
    return [tuple(r[n] for n in names) for r in table.to_pylist()]


# ---------------------------------------------------------------------------------------------
# bronze rows


def test_a_marketplace_token_line_becomes_one_exact_row():
    got = ingest([TOKEN_LINES[0]])
    assert got.records.schema == CUR_LINES
    (row,) = got.records.to_pylist()
    sha = row.pop("file_sha256")
    assert len(sha) == 64
    assert row == {
        "billing_period": PERIOD, "usage_date": DAY,
        "usage_start": datetime(2026, 11, 2, 12, tzinfo=timezone.utc),
        "usage_end": datetime(2026, 11, 2, 13, tzinfo=timezone.utc),
        "line_item_type": "Usage", "line_item_class": "usage",
        "product_code": "AmazonBedrock", "product_name": "Claude Haiku 4.5 (Amazon Bedrock Edition)",
        "is_bedrock": True,
        "usage_type": "USE1-MP:USE1_InputTokenCount-Units", "operation": "InvokeModel", "resource_id": HAIKU_PROFILE,
        "description": None, "usage_account_id": ACCOUNT, "iam_principal": WORKER, "billing_account": WORKER,
        "usage_type_family": "marketplace", "usage_type_status": "parsed", "token_class": "uncached_input",
        "usage_region_code": "USE1", "is_global": False, "is_batch": False, "usage_tier": None,
        "model": HAIKU, "model_parse_status": "inference_profile",
        "usage_amount": D("4000"), "pricing_unit": "Units", "tokens": 4000,
        "unblended_cost": D("0.004"), "net_unblended_cost": D("0.004"), "currency": "USD",
        "resource_tags": '{"user_team":"search"}',
        "source_file": f"{DATA}/part-00000.parquet", "source_line": 1,
    }
    assert file_counts(got) == {MANIFEST_KEY: (0, 0, 0, 0), f"{DATA}/part-00000.parquet": (1, 1, 0, 0)}


def test_every_line_of_a_delivery_is_kept_with_its_class_model_and_account():
    got = ingest(TOKEN_LINES + OTHER_LINES)
    assert cols(got.records, "line_item_type", "line_item_class", "token_class", "model", "model_parse_status",
                "billing_account", "tokens", "unblended_cost") == [
        ("Usage", "usage", "uncached_input", HAIKU, "inference_profile", WORKER, 4000, D("0.004")),
        ("Usage", "usage", "output", HAIKU, "inference_profile", WORKER, 1500, D("0.0075")),
        ("Usage", "usage", "cache_read", HAIKU, "inference_profile", WORKER, 42000, D("0.0042")),
        # an application inference profile: the model from the product name (global usage type),
        # the account is the profile when no IAM principal is recorded
        ("Usage", "usage", "cache_write_1h", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "product_name",
         APP_PROFILE, 3000, D("0.006")),
        ("Usage", "usage", "uncached_input", "amazon.nova-pro-v1:0", "foundation_model", ACCOUNT, 2000, D("0.0016")),
        ("Tax", "tax", None, None, "unmatched", ACCOUNT, None, D("0.25")),
        ("Credit", "credit", None, None, "unmatched", ACCOUNT, None, D("-0.1")),
        ("Usage", "usage", None, HAIKU, "inference_profile", ACCOUNT, None, D("1.5")),
        ("Usage", "usage", None, None, "not_bedrock", ACCOUNT, None, D("0.096")),
        ("Usage", "usage", "uncached_input", HAIKU, "inference_profile", WORKER, 1000, D("0.001")),
    ]
    assert got.rejects.num_rows == 0


USAGE_TYPES = [
    # usage type, family, token class, global, batch, tier
    ("USE1-NovaPro-input-tokens", "first_party", "uncached_input", False, False, None),
    ("USE1-NovaPro-output-tokens", "first_party", "output", False, False, None),
    ("USE1-Claude4.6Sonnet-input-tokens", "first_party", "uncached_input", False, False, None),
    ("USE1-Claude4.6Sonnet-output-tokens", "first_party", "output", False, False, None),
    ("USE1-Claude4.6Sonnet-cache-read-input-tokens", "first_party", "cache_read", False, False, None),
    ("USE1-MP:USE1_InputTokenCount-Units", "marketplace", "uncached_input", False, False, None),
    ("USE1-MP:USE1_OutputTokenCount-Units", "marketplace", "output", False, False, None),
    ("USE1-MP:USE1_CacheReadInputTokenCount-Units", "marketplace", "cache_read", False, False, None),
    ("USE1-MP:USE1_CacheWriteInputTokenCount-Units", "marketplace", "cache_write_5m", False, False, None),
    ("USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units", "marketplace", "cache_write_1h", True, False, None),
    ("USE1-MP:USE1_InputTokenCount_Global-Units", "marketplace", "uncached_input", True, False, None),
    ("USE1-MP:USE1_InputTokenCount_Batch-Units", "marketplace", "uncached_input", False, True, None),
    ("USE2-MP:USE2_OutputTokenCount_Global_Batch-Units", "marketplace", "output", True, True, None),
    ("USE1-MP:USE1_input_tokens_standard-Units", "marketplace_snake", "uncached_input", False, False, "standard"),
    ("USE1-MP:USE1_output_tokens_global_standard-Units", "marketplace_snake", "output", True, False, "standard"),
    ("USE1-MP:USE1_cache_read_input_tokens_priority-Units", "marketplace_snake", "cache_read", False, False,
     "priority"),
    ("USE1-MP:USE1_Reserved_1Month_InputTPM_Geo-Units", None, None, None, None, None),
    ("USE1-Bedrock-ModelCustomization-Storage", None, None, None, None, None),
]


@pytest.fixture(scope="module")
def usage_type_rows():
    got = ingest([line(u, 0.01, amount=1) for u, *_ in USAGE_TYPES])
    return {r["usage_type"]: r for r in got.records.to_pylist()}


@pytest.mark.parametrize(("usage_type", "family", "token_class", "is_global", "is_batch", "tier"), USAGE_TYPES)
def test_usage_types_of_every_family_are_parsed_and_kept_raw(usage_type_rows, usage_type, family, token_class,
                                                               is_global, is_batch, tier):
    row = usage_type_rows[usage_type]
    assert (row["usage_type"], row["usage_type_family"], row["token_class"], row["is_global"], row["is_batch"],
            row["usage_tier"], row["usage_type_status"]) == (
        usage_type, family, token_class, is_global, is_batch, tier, "parsed" if token_class else "unparsed")


@pytest.mark.parametrize(
    ("unit", "amount", "tokens"),
    [
        ("1M tokens", 1.5, 1_500_000),
        ("1K tokens", 2.5, 2_500),
        ("1K Tokens", 0.001, 1),
        ("Units", 1234.0, 1234),
        ("tokens", 77.0, 77),
        ("Hrs", 3.0, None),  # not a token unit: no token count is invented
        (None, 3.0, None),
    ],
)
def test_pricing_unit_turns_the_usage_amount_into_tokens(unit, amount, tokens):
    got = ingest([line("USE1-MP:USE1_OutputTokenCount-Units", 0.01, amount=amount, unit=unit)])
    assert cols(got.records, "pricing_unit", "tokens") == [(unit, tokens)]


@pytest.mark.parametrize(
    ("cost", "expected"),
    [(0.1, D("0.1")), (4.05, D("4.05")), (1234.5678901234, D("1234.5678901234")), (1.5e-07, D("0.00000015")),
     (-0.003, D("-0.003")), (123456789.12345679, D("123456789.12345679"))],
)
def test_double_costs_become_the_decimal_aws_wrote(cost, expected):
    got = ingest([line("USE1-MP:USE1_OutputTokenCount-Units", cost, amount=1)])
    assert cols(got.records, "unblended_cost") == [(expected,)]


def test_account_is_the_principal_then_the_application_profile_then_the_usage_account():
    got = ingest([
        line("USE1-MP:USE1_InputTokenCount-Units", 0.01, resource=APP_PROFILE, principal=WORKER),
        line("USE1-MP:USE1_InputTokenCount-Units", 0.01, resource=APP_PROFILE, principal=None),
        line("USE1-MP:USE1_InputTokenCount-Units", 0.01, resource=HAIKU_PROFILE, principal=None),
    ])
    assert cols(got.records, "billing_account") == [(WORKER,), (APP_PROFILE,), (ACCOUNT,)]


@pytest.mark.parametrize(
    ("product_name", "is_global", "model"),
    [
        ("Claude Sonnet 4.5 (Amazon Bedrock Edition)", False, "regional.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("Claude Sonnet 4.5 (Amazon Bedrock Edition)", True, "global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("Claude Haiku 4.5 (Amazon Bedrock Edition)", False, "regional.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("Llama 3.3 70B Instruct", False, "meta.llama3-3-70b-instruct-v1:0"),
        ("Nova 2 Lite", True, "global.amazon.nova-2-lite-v1:0"),
        ("Amazon Bedrock", False, None),
    ],
)
def test_product_names_are_matched_against_the_catalogs_aws_models(product_name, is_global, model):
    assert model_for_product(product_name, is_global) == model


def test_bad_lines_are_rejected_with_file_line_and_reason():
    rows = [
        line("USE1-MP:USE1_InputTokenCount-Units", float("nan"), amount=1),
        line("USE1-MP:USE1_InputTokenCount-Units", 0.01, amount=1, currency="EUR"),
        line("USE1-MP:USE1_InputTokenCount-Units", 0.02, amount=1),
    ]
    rows[2]["line_item_usage_start_date"] = None
    got = ingest(rows + [line("USE1-MP:USE1_InputTokenCount-Units", 0.03, amount=1)])
    assert cols(got.rejects, "source", "file", "line", "reason") == [
        ("cur", f"{DATA}/part-00000.parquet", 1, "line_item_unblended_cost is missing or not a finite number: nan"),
        ("cur", f"{DATA}/part-00000.parquet", 2, "currency EUR is not USD"),
        ("cur", f"{DATA}/part-00000.parquet", 3, "missing or unparseable line_item_usage_start_date"),
    ]
    assert json.loads(got.rejects["raw"][1].as_py())["line_item_currency_code"] == "EUR"
    assert cols(got.records, "source_line", "unblended_cost") == [(4, D("0.03"))]
    assert file_counts(got)[f"{DATA}/part-00000.parquet"] == (4, 1, 0, 3)


def test_a_file_without_the_required_columns_is_rejected_whole():
    schema = pa.schema([f for f in CUR_SCHEMA if f.name != "line_item_unblended_cost"])
    row = {k: v for k, v in TOKEN_LINES[0].items() if k != "line_item_unblended_cost"}
    key = f"{DATA}/part-00000.parquet"
    got = parse_cur_delivery(manifest("part-00000.parquet"), [SourceFile(key, parquet([row], schema))], delivered=[key])
    assert cols(got.rejects, "file", "line", "reason") == [
        (key, None, "missing CUR 2.0 column(s): line_item_unblended_cost")]
    assert got.records.num_rows == 0
    assert file_counts(got)[key] == (1, 0, 0, 1)


def test_a_file_that_is_not_parquet_is_rejected_whole():
    key = f"{DATA}/part-00000.parquet"
    got = parse_cur_delivery(manifest("part-00000.parquet"), [SourceFile(key, b"PAR1 cut short")], delivered=[key])
    assert [(r["file"], r["line"], r["reason"][:27]) for r in got.rejects.to_pylist()] == [
        (key, None, "not a readable Parquet file")]
    assert file_counts(got)[key] == (1, 0, 0, 1)


def test_optional_columns_may_be_absent():
    names = ["line_item_line_item_type", "line_item_usage_start_date", "line_item_unblended_cost"]
    schema = pa.schema([CUR_SCHEMA.field(n) for n in names])
    key = f"{DATA}/part-00000.parquet"
    data = parquet([{n: TOKEN_LINES[0][n] for n in names}], schema)
    got = parse_cur_delivery(manifest("part-00000.parquet"), [SourceFile(key, data)], delivered=[key])
    assert cols(got.records, "line_item_class", "product_name", "token_class", "billing_account", "unblended_cost") == [
        ("usage", None, None, None, D("0.004"))]


# ---------------------------------------------------------------------------------------------
# the same export as gzipped CSV (`.csv.gz`): every value is text; maps are JSON text

CSV_KEY = f"{DATA}/{EXPORT}-00001.csv.gz"
LINEAGE = ("source_file", "source_line", "file_sha256")


def csv_text(rows: list[dict], schema: pa.Schema = CUR_SCHEMA) -> str:
    """CUR 2.0 rows as AWS's CSV export writes them: a header of the column names, timestamps
    in ISO 8601 UTC, doubles as their shortest text, maps as JSON objects, NULL as empty."""
    def text(value) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if isinstance(value, list):  # a map column: JSON, as written with spaces
            return json.dumps(dict(value))
        return repr(value) if isinstance(value, float) else str(value)

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(schema.names)
    writer.writerows([[text(row.get(name)) for name in schema.names] for row in rows])
    return buf.getvalue()


def ingest_csv(text: str, key: str = CSV_KEY):
    f = SourceFile(key, gzip.compress(text.encode(), mtime=0))
    return parse_cur_delivery(manifest(key.rsplit("/", 1)[1]), [f], delivered=[f.key])


def test_a_csv_export_gives_the_parquet_exports_bronze_rows():
    rows = TOKEN_LINES + OTHER_LINES
    from_parquet, from_csv = ingest(rows), ingest_csv(csv_text(rows))
    assert from_csv.records.schema == CUR_LINES
    assert from_csv.rejects.num_rows == 0
    strip = lambda t: t.drop_columns(list(LINEAGE)).to_pylist()  # noqa: E731
    assert strip(from_csv.records) == strip(from_parquet.records)
    # lineage: the CSV row's line in its file (the header is line 1)
    assert cols(from_csv.records, "source_file", "source_line") == [(CSV_KEY, n) for n in range(2, len(rows) + 2)]
    # lines read: the header (skipped) and the rows
    assert file_counts(from_csv)[CSV_KEY] == (len(rows) + 1, len(rows), 1, 0)


def test_csv_money_goes_from_text_to_decimal_exactly():
    rows = [line("USE1-MP:USE1_OutputTokenCount-Units", 0.0, amount=1) for _ in range(4)]
    table = list(csv.reader(io.StringIO(csv_text(rows))))
    cost = CUR_SCHEMA.names.index("line_item_unblended_cost")
    for i, literal in enumerate(["0.1", "123456789012.345678901234", "1.5E-7", "-0.003"], start=1):
        table[i][cost] = literal
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(table)
    got = ingest_csv(buf.getvalue())
    # no double in between: 0.1 stays 0.1; a value finer than a picodollar is rounded to it
    assert cols(got.records, "unblended_cost") == [(D("0.1"),), (D("123456789012.345678901234").quantize(D("1e-12")),),
                                                   (D("0.00000015"),), (D("-0.003"),)]


def test_malformed_csv_lines_are_rejected_with_file_and_line():
    text = csv_text(TOKEN_LINES[:3]).splitlines()
    text.insert(2, '"Usage","2026-11-02T12:00:00.000Z"')  # line 3: 2 fields
    text.insert(4, text[3] + ',"one too many"')  # line 5: one field too many
    text.append("")  # line 7: blank (every column empty: no line item type)
    text.append(text[1].replace(",0.004,", ",nan,"))  # line 8: a cost that is not a number
    got = ingest_csv("\n".join(text) + "\n")
    n = len(CUR_SCHEMA.names)
    assert cols(got.rejects, "source", "file", "line", "reason") == [
        ("cur", CSV_KEY, 3, f"CSV line has 2 fields, the header has {n}"),
        ("cur", CSV_KEY, 5, f"CSV line has {n + 1} fields, the header has {n}"),
        ("cur", CSV_KEY, 7, "missing line_item_line_item_type"),
        ("cur", CSV_KEY, 8, "line_item_unblended_cost is missing or not a finite number: nan"),
    ]
    # a line that cannot be split keeps no value, only its shape
    assert cols(got.rejects, "raw")[:2] == [('{"fields": 2}',), ('{"fields": %d}' % (n + 1),)]
    assert cols(got.records, "source_line", "unblended_cost") == [(2, D("0.004")), (4, D("0.0075")), (6, D("0.0042"))]
    assert file_counts(got)[CSV_KEY] == (8, 3, 1, 4)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (gzip.compress(b"line_item_line_item_type,line_item_usage_start_date\nUsage,2026-11-02T12:00:00Z\n"),
         "missing CUR 2.0 column(s): line_item_unblended_cost"),
        (gzip.compress(b""), "not a readable CSV file: Empty CSV file"),
        (b"\x1f\x8b\x08\x00 cut short", "not a readable CSV file"),
    ],
)
def test_an_unreadable_csv_file_is_rejected_whole(body, reason):
    got = parse_cur_delivery(manifest(CSV_KEY.rsplit("/", 1)[1]), [SourceFile(CSV_KEY, body)], delivered=[CSV_KEY])
    assert [(r["file"], r["line"], r["reason"][:len(reason)]) for r in got.rejects.to_pylist()] == [
        (CSV_KEY, None, reason)]
    assert got.records.num_rows == 0
    assert file_counts(got)[CSV_KEY] == (1, 0, 0, 1)


# ---------------------------------------------------------------------------------------------
# the manifest decides what is read


def test_only_the_files_the_manifest_lists_are_ingested():
    listed, stale = f"{DATA}/part-00000.parquet", f"{DATA}/part-old.parquet"
    files = [SourceFile(listed, parquet(TOKEN_LINES[:2])), SourceFile(stale, parquet(TOKEN_LINES))]
    got = parse_cur_delivery(manifest("part-00000.parquet", "part-00001.parquet"), files,
                             delivered=[listed, stale])
    assert cols(got.records, "source_file", "source_line") == [(listed, 1), (listed, 2)]
    assert cols(got.rejects, "file", "line", "reason") == [
        (f"{DATA}/part-00001.parquet", None, "listed in the manifest but not delivered")]
    assert file_counts(got) == {
        MANIFEST_KEY: (0, 0, 0, 0),
        listed: (2, 2, 0, 0),
        f"{DATA}/part-00001.parquet": (1, 0, 0, 1),
        stale: (1, 0, 1, 0),  # delivered, not listed: ignored and counted
    }


def test_listed_keys_map_s3_uris_to_store_keys():
    doc = manifest("part-00000.parquet", "part-00001.parquet")
    assert listed_keys(doc) == [f"{DATA}/part-00000.parquet", f"{DATA}/part-00001.parquet"]
    assert listed_keys(SourceFile(MANIFEST_KEY, b"{not json")) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"executionId": "x", "dataFiles": ', "manifest is not valid JSON"),
        (b'{"executionId": "x", "reportKeys": []}', "manifest has no 'dataFiles' list"),
    ],
)
def test_an_unusable_manifest_is_rejected(body, reason):
    got = parse_cur_delivery(SourceFile(MANIFEST_KEY, body), [], delivered=[])
    assert [(r["file"], r["line"], r["reason"][: len(reason)]) for r in got.rejects.to_pylist()] == [
        (MANIFEST_KEY, None, reason)]
    assert file_counts(got) == {MANIFEST_KEY: (1, 0, 0, 1)}


def test_a_listed_file_outside_the_periods_data_folder_is_rejected():
    doc = json.loads(manifest("part-00000.parquet").data)
    doc["dataFiles"].append("s3://billing-bucket/exports/cur/other-export/data/BILLING_PERIOD=2026-10/x.parquet")
    key = f"{DATA}/part-00000.parquet"
    got = parse_cur_delivery(SourceFile(MANIFEST_KEY, json.dumps(doc).encode()),
                             [SourceFile(key, parquet(TOKEN_LINES[:1]))], delivered=[key])
    assert cols(got.rejects, "file", "line", "reason") == [
        (MANIFEST_KEY, 2, "listed file is not in this billing period's data folder")]
    assert got.records.num_rows == 1


def test_manifest_keys_of_a_period():
    keys = [MANIFEST_KEY, f"cur/{EXPORT}/metadata/BILLING_PERIOD=2026-10/{EXPORT}-Manifest.json",
            "cur/other/metadata/BILLING_PERIOD=2026-11/other-Manifest.json", f"{DATA}/part-00000.parquet",
            "cur/x/metadata/BILLING_PERIOD=2026-11/y-Manifest.json"]
    assert manifest_keys(keys, PERIOD) == [MANIFEST_KEY,
                                           "cur/other/metadata/BILLING_PERIOD=2026-11/other-Manifest.json"]


# ---------------------------------------------------------------------------------------------
# the asset: one partition per billing period, replaced by each delivery


def materialize(tmp_path, day: date):
    resources = {
        "sources": SourceStore(uri=str(tmp_path / "sources")),
        "lake": LakeStore(root=str(tmp_path / "lake")),
        "warehouse": Warehouse(path=str(tmp_path / "warehouse.duckdb")),
    }
    return dg.materialize([cur_lines], partition_key=day.isoformat(), resources=resources,
                          instance=dg.DagsterInstance.ephemeral())


def deliver(root, files: dict[str, bytes]):
    for key, body in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


@pytest.mark.slow
def test_each_delivery_replaces_the_billing_period(tmp_path):
    sources, lake = tmp_path / "sources", Lake(tmp_path / "lake")
    assert materialize(tmp_path, DAY).success  # no manifest yet: nothing is written
    assert not lake.partition_file("bronze", "cur_lines", PERIOD).exists()

    deliver(sources, {f"{DATA}/part-00000.parquet": parquet(TOKEN_LINES[:2]),
                      MANIFEST_KEY: manifest("part-00000.parquet").data})
    first = materialize(tmp_path, DAY)
    assert first.success
    assert pq.read_table(lake.partition_file("bronze", "cur_lines", PERIOD)).num_rows == 2
    meta = first.asset_materializations_for_node("cur_lines")[0].metadata
    assert (meta["billing_period"].value, meta["total_usd"].value, meta["lines_by_type"].value) == (
        "2026-11-01", "0.011500000000", {"Usage": 2})

    # the restatement: a new file, the old one no longer listed
    deliver(sources, {f"{DATA}/part-00001.parquet": parquet(TOKEN_LINES + OTHER_LINES[:2]),
                      MANIFEST_KEY: manifest("part-00001.parquet").data})
    assert materialize(tmp_path, date(2026, 11, 3)).success
    table = pq.read_table(lake.partition_file("bronze", "cur_lines", PERIOD))
    assert cols(table, "source_file", "line_item_type") == [(f"{DATA}/part-00001.parquet", t) for t in
                                                            ["Usage"] * 5 + ["Tax", "Credit"]]
    assert counts_of(pq.read_table(lake.partition_file("bronze", "cur_lines_files", PERIOD))) == {
        MANIFEST_KEY: (0, 0, 0, 0),
        f"{DATA}/part-00001.parquet": (7, 7, 0, 0),
        f"{DATA}/part-00000.parquet": (1, 0, 1, 0),
    }


# ---------------------------------------------------------------------------------------------
# staging: the invoice side of Bedrock


def staging(rows: list[dict] | None, usage_date: date = DAY) -> dict[str, list[dict]]:
    """dbt-build the CUR staging models over a lake whose billing period partition holds `rows`
    (None: no CUR at all)."""
    bronze = [("cur_lines", billing_period_start(usage_date), ingest(rows).records)] if rows is not None else []
    kept = build_models(usage_date, bronze, ("stg_bedrock_costs", "stg_bedrock_source_status"))
    return {name: table.to_pylist() for name, table in kept.items()}


@pytest.mark.slow
def test_cost_staging_keeps_bedrock_lines_of_the_day_as_token_and_non_token():
    out = staging(TOKEN_LINES + OTHER_LINES)
    assert [tuple(r.values()) for r in out["stg_bedrock_costs"]] == [
        (DAY, "aws.bedrock", WORKER, HAIKU, "uncached_input", D("0.004"), "USE1-MP:USE1_InputTokenCount-Units",
         "token", "standard"),
        (DAY, "aws.bedrock", WORKER, HAIKU, "output", D("0.0075"), "USE1-MP:USE1_OutputTokenCount-Units", "token",
         "standard"),
        (DAY, "aws.bedrock", WORKER, HAIKU, "cache_read", D("0.0042"), "USE1-MP:USE1_CacheReadInputTokenCount-Units",
         "token", "standard"),
        (DAY, "aws.bedrock", APP_PROFILE, "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "cache_write_1h",
         D("0.006"), "USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units", "token", "standard"),
        (DAY, "aws.bedrock", ACCOUNT, "amazon.nova-pro-v1:0", "uncached_input", D("0.0016"),
         "USE1-NovaPro-input-tokens", "token", "standard"),
        (DAY, "aws.bedrock", ACCOUNT, None, None, D("0.25"), "Tax for product code AmazonBedrock", "non_token", None),
        (DAY, "aws.bedrock", ACCOUNT, None, None, D("-0.1"), "AWS Credit", "non_token", None),
        # usage the parser cannot read as tokens (reserved throughput) is a non-token charge
        (DAY, "aws.bedrock", ACCOUNT, None, None, D("1.5"), "USE1-MP:USE1_Reserved_1Month_InputTPM_Geo-Units",
         "non_token", None),
    ]
    assert list(out["stg_bedrock_costs"][0]) == ["usage_date", "provider", "billing_account", "model", "token_class",
                                                 "cost_usd", "line_item", "line_kind", "price_tier"]
    assert sum(r["cost_usd"] for r in out["stg_bedrock_costs"]) == D("1.6733")


@pytest.mark.slow
def test_cost_staging_names_the_price_tier_of_each_token_line_and_keeps_guardrail_units_non_token():
    out = staging([
        line("USE1-MP:USE1_InputTokenCount_Batch-Units", 0.002, amount=4000),
        line("USE1-MP:USE1_input_tokens_flex-Units", 0.0022, amount=4000),
        line("USE1-MP:USE1_output_tokens_priority-Units", 0.0275, amount=4000),
        line("USE1-MP:USE1_output_tokens_global_standard-Units", 0.02, amount=4000),
        # a guardrail's text units: Bedrock's own product, no token class
        line("USE1-Guardrail-ContentPolicyUnitsConsumed", 0.15, amount=1, unit="1K text units", resource=None,
             product_name="Amazon Bedrock"),
    ])
    assert [(r["line_item"], r["token_class"], r["line_kind"], r["price_tier"]) for r in out["stg_bedrock_costs"]] == [
        ("USE1-MP:USE1_InputTokenCount_Batch-Units", "uncached_input", "token", "batch"),
        ("USE1-MP:USE1_input_tokens_flex-Units", "uncached_input", "token", "flex"),
        ("USE1-MP:USE1_output_tokens_priority-Units", "output", "token", "priority"),
        ("USE1-MP:USE1_output_tokens_global_standard-Units", "output", "token", "standard"),
        ("USE1-Guardrail-ContentPolicyUnitsConsumed", None, "non_token", None),
    ]


@pytest.mark.slow
def test_cost_staging_keys_application_profile_lines_by_the_profile_like_the_invocation_logs():
    out = staging([line("USE1-MP:USE1_InputTokenCount-Units", 0.01, amount=1, resource=APP_PROFILE, principal=WORKER)])
    assert [(r["billing_account"], r["line_kind"]) for r in out["stg_bedrock_costs"]] == [(APP_PROFILE, "token")]


@pytest.mark.parametrize(
    ("rows", "usage_date", "status"),
    [
        (TOKEN_LINES, DAY, "ok"),
        # the CUR reaches past the day (a line of the 3rd) but has no Bedrock line on the 2nd
        (OTHER_LINES[3:], DAY, "empty"),
        # the month's CUR has not reached the 4th yet
        (TOKEN_LINES, date(2026, 11, 4), "missing"),
        (None, DAY, "missing"),
    ],
)
@pytest.mark.slow
def test_source_status_says_whether_the_cur_covers_the_day(rows, usage_date, status):
    out = staging(rows, usage_date)
    assert out["stg_bedrock_source_status"] == [{"usage_date": usage_date, "provider": "aws.bedrock",
                                                 "cost_status": status}]
