"""Bedrock model invocation logs -> bronze `bedrock_invocations` -> Bedrock usage and call staging.

Records follow provider-formats.md 3a (the documented example record, `schemaType`
`ModelInvocationLog`): `timestamp`, `accountId`, `identity.arn`, `region`, `requestId`,
`operation`, `modelId` (a model id, a system inference profile or an application inference
profile ARN), `requestMetadata`, `input` (`inputBodyJson`, `inputTokenCount` EXCLUDING cache,
`cacheReadInputTokenCount`, `cacheWriteInputTokenCount`) and `output` (`outputBodyJson`,
`outputTokenCount`). Objects are gzipped JSON Lines under
`bedrock/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/`. Every body
carries a marker string that must never reach the lake, a rejected row or a staging table.
"""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime, timezone

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.defs.bedrock.assets import bedrock_invocations
from pipelines.defs.bedrock.parse import delivery_day, object_kind, parse_invocation_logs
from pipelines.defs.logs.parse import parse_log_files
from pipelines.defs.resources import IngestLimits, LakeStore, SourceStore, Warehouse
from pipelines.lib.bronze.aws import BEDROCK_INVOCATIONS, CUR_LINES, billing_period_start
from pipelines.lib.lake import Lake
from pipelines.lib.store import SourceFile

from .fixtures import build_models

DAY = date(2026, 11, 2)
ACCOUNT = "123456789012"
PROMPT = "PROMPT-MARKER-7f3a9c: summarize the quarterly numbers for Alice"
ANSWER = "ANSWER-MARKER-b51e02: the numbers are up"
WORKER = "arn:aws:sts::123456789012:assumed-role/worker-role/job-4711"
APP = "arn:aws:sts::123456789012:assumed-role/app-role/app"
APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234"
SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def prefix(day: date = DAY, hour: int = 12) -> str:
    return f"bedrock/AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/us-east-1/{day:%Y/%m/%d}/{hour:02d}"


def record(request_id: str = "a1b2c3d4-5678-90ab-cdef-111122223333", **fields) -> dict:
    """The documented example record (3a), bodies included; `None` removes a key."""
    rec = {
        "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": "2026-11-02T12:00:03Z",
        "accountId": ACCOUNT, "identity": {"arn": WORKER}, "region": "us-east-1", "inferenceRegion": "us-west-2",
        "requestId": request_id, "operation": "Converse", "modelId": SONNET,
        "requestMetadata": {"job_type": "summarize", "tenant": "acme"},
        "input": {"inputContentType": "application/json",
                  "inputBodyJson": {"messages": [{"role": "user", "content": [{"text": PROMPT}]}]},
                  "inputTokenCount": 1500, "cacheReadInputTokenCount": 42000, "cacheWriteInputTokenCount": 3000},
        "output": {"outputContentType": "application/json",
                   "outputBodyJson": {"output": {"message": {"role": "assistant", "content": [{"text": ANSWER}]}}},
                   "outputTokenCount": 500},
    }
    rec.update(fields)
    return {k: v for k, v in rec.items() if v is not None}


def usage(input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> dict:
    """The `input`/`output` objects of a record with these counts (bodies kept)."""
    base = record()
    return {"input": {**base["input"], "inputTokenCount": input_tokens, "cacheReadInputTokenCount": cache_read,
                      "cacheWriteInputTokenCount": cache_write},
            "output": {**base["output"], "outputTokenCount": output_tokens}}


def jsonl_gz(*lines: dict | str) -> bytes:
    return gzip.compress("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines).encode())


def log_file(*lines: dict | str, name: str = "a1.json.gz", day: date = DAY, hour: int = 12) -> SourceFile:
    return SourceFile(f"{prefix(day, hour)}/{name}", jsonl_gz(*lines))


def parse(*files: SourceFile, folder_date: date = DAY, skipped: tuple[str, ...] = ()):
    return parse_invocation_logs(list(files), folder_date=folder_date, skipped=skipped)


def file_counts(ingested) -> dict[str, tuple[int, int, int, int]]:
    """file -> (lines_read, records, skipped, rejected), asserting conservation on the way."""
    out = {}
    for row in ingested.files.to_pylist():
        assert row["lines_read"] == row["records"] + row["skipped"] + row["rejected"], row
        out[row["file"]] = (row["lines_read"], row["records"], row["skipped"], row["rejected"])
    return out


def cols(table: pa.Table, *names: str) -> list[tuple]:
    return [tuple(r[n] for n in names) for r in table.to_pylist()]


# ---------------------------------------------------------------------------------------------
# bronze rows


def test_the_documented_record_becomes_one_exact_row():
    f = log_file(record(modelId=APP_PROFILE))
    got = parse(f)
    assert got.records.schema == BEDROCK_INVOCATIONS
    assert got.records.to_pylist() == [{
        "folder_date": DAY, "usage_date": DAY, "ts": datetime(2026, 11, 2, 12, 0, 3, tzinfo=timezone.utc),
        # billed in the caller's region; a cross-region profile served it in another
        "account_id": ACCOUNT, "region": "us-east-1", "inference_region": "us-west-2",
        "request_id": "a1b2c3d4-5678-90ab-cdef-111122223333",
        "operation": "Converse", "model_id": APP_PROFILE, "identity_arn": WORKER,
        # an application inference profile invoked as modelId is the billing account
        "billing_account": APP_PROFILE,
        "request_metadata": '{"job_type":"summarize","tenant":"acme"}', "job_type": "summarize", "attempt": 1,
        # Claude: inputTokenCount EXCLUDES the cache read and write tokens; kept as logged
        "usage_known": True, "input_tokens": 1500, "cache_read_tokens": 42000, "cache_write_tokens": 3000,
        # the body says neither the 1-hour share of the writes, nor the tier, nor a guardrail verdict
        "cache_write_1h_tokens": None, "output_tokens": 500, "service_tier": None, "guardrail_action": None,
        "source_file": f.key, "source_line": 1, "file_sha256": f.sha256,
    }]
    assert file_counts(got) == {f.key: (1, 1, 0, 0)}


def test_without_an_application_profile_the_caller_principal_is_the_account():
    got = parse(log_file(record(), record("r-2", identity=[{"arn": APP}], modelId=HAIKU),
                         record("r-3", identity=None)))
    assert cols(got.records, "request_id", "model_id", "billing_account") == [
        ("a1b2c3d4-5678-90ab-cdef-111122223333", SONNET, WORKER), ("r-2", HAIKU, APP),
        ("r-3", SONNET, ACCOUNT)]  # no caller recorded: the account


def test_one_json_object_per_file_compact_or_pretty_printed():
    compact = SourceFile(f"{prefix()}/one.json.gz", gzip.compress(json.dumps(record("r-1")).encode()))
    pretty = SourceFile(f"{prefix()}/two.json.gz", gzip.compress(json.dumps(record("r-2"), indent=2).encode()))
    plain = SourceFile(f"{prefix()}/three.json", json.dumps(record("r-3"), indent=1).encode() + b"\n")
    got = parse(compact, pretty, plain)
    assert cols(got.records, "request_id", "source_line", "input_tokens", "output_tokens") == [
        ("r-1", 1, 1500, 500), ("r-3", 1, 1500, 500), ("r-2", 1, 1500, 500)]  # in key order
    assert file_counts(got) == {compact.key: (1, 1, 0, 0), pretty.key: (1, 1, 0, 0), plain.key: (1, 1, 0, 0)}


def test_body_objects_and_permission_checks_are_skipped_files():
    body = SourceFile(f"{prefix()}/data/a1b2c3d4_input.json.gz", gzip.compress(json.dumps({"text": PROMPT}).encode()))
    check = f"bedrock/AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/permission-check"
    log = log_file(record())
    got = parse(log, body, skipped=(check,))
    assert got.records.num_rows == 1
    assert got.rejects.num_rows == 0
    assert file_counts(got) == {log.key: (1, 1, 0, 0), body.key: (1, 0, 1, 0), check: (1, 0, 1, 0)}


@pytest.mark.parametrize(
    ("key", "kind", "day"),
    [
        (f"{prefix()}/a1.json.gz", "log", DAY),
        (f"{prefix(date(2026, 11, 3), 0)}/a1.json.gz", "log", date(2026, 11, 3)),
        (f"{prefix()}/data/a1_input.json.gz", "body", DAY),
        (f"bedrock/AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/permission-check", "permission_check", None),
        (f"bedrock/AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/us-east-1/2026/13/02/12/x.json.gz", "log", None),
    ],
)
def test_object_kind_and_delivery_day_come_from_the_key(key, kind, day):
    assert (object_kind(key), delivery_day(key)) == (kind, day)


BAD_LINES = [
    ('{"schemaType": "ModelInvocationLog", "timestamp": "2026-11-02T12:00:03Z", "requestId": "r-cut", '
     '"input": {"inputBodyJson": {"messages": "' + PROMPT, "invalid JSON (truncated or malformed line)"),
    (record(requestId=None), "missing requestId"),
    (record(modelId=None), "missing modelId"),
    (record(timestamp="2026-11-02T12:00:03"), "timestamp without a time zone: 2026-11-02T12:00:03"),
    (record(timestamp="2026-11-07T12:00:03Z"), "timestamp 2026-11-07T12:00:03Z is outside this folder's window"),
    (record(requestMetadata="job_type=summarize"), "requestMetadata is not a JSON object"),
    (record(requestMetadata={"job_type": "summarize", "attempt": "second"}),
     "requestMetadata.attempt is not a positive integer: second"),
    (record(input={**record()["input"], "inputTokenCount": "1500"}), "input.inputTokenCount is not an integer"),
    (record(**usage(1500, -5)), "negative token count"),
    (record(**usage(60_000_000, 5)), "token count above 50000000 for one invocation"),
    ("[1, 2, 3]", "not a JSON object"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_LINES)
def test_bad_lines_are_rejected_with_a_redacted_raw(bad, reason):
    f = log_file(record("ok-1"), bad, "", {"schemaType": "SomethingElse", "note": "not an invocation"})
    got = parse(f)
    assert cols(got.records, "request_id") == [("ok-1",)]
    ((source, file, line, got_reason, raw),) = cols(got.rejects, "source", "file", "line", "reason", "raw")
    assert (source, file, line, got_reason[: len(reason)]) == ("bedrock/invocation_logs", f.key, 2, reason)
    assert PROMPT not in raw and ANSWER not in raw and "MARKER" not in raw
    assert file_counts(got) == {f.key: (4, 1, 2, 1)}


def test_a_rejected_line_keeps_its_named_fields_only():
    got = parse(log_file(record(requestMetadata={"job_type": "summarize", "attempt": "0"})))
    raw = json.loads(got.rejects["raw"][0].as_py())
    assert raw == {
        "schemaType": "ModelInvocationLog", "timestamp": "2026-11-02T12:00:03Z", "accountId": ACCOUNT,
        "region": "us-east-1", "requestId": "a1b2c3d4-5678-90ab-cdef-111122223333", "operation": "Converse",
        "modelId": SONNET, "identity.arn": WORKER, "requestMetadata": {"job_type": "summarize", "attempt": "0"},
        "input.inputTokenCount": 1500, "input.cacheReadInputTokenCount": 42000,
        "input.cacheWriteInputTokenCount": 3000, "output.outputTokenCount": 500,
        "inferenceRegion": "us-west-2", "serviceTier": None, "cacheDetails": None, "ephemeral_1h_input_tokens": None,
    }
    cut = '{"timestamp": "2026-11-02T12:00:03Z", "requestId": "r-9", "input": {"inputBodyJson": "' + PROMPT
    truncated = parse(log_file(cut))
    assert json.loads(truncated.rejects["raw"][0].as_py()) == {
        "redacted": "not valid JSON: the line is not kept because it may hold prompt text",
        "bytes": 150, "requestId": "r-9", "timestamp": "2026-11-02T12:00:03Z"}
    assert len(cut) + 1 == 150  # the line's bytes, its newline included


def test_a_record_without_token_counts_is_usage_unknown():
    rec = record(input={"inputContentType": "application/json"}, output={"outputContentType": "application/json"})
    got = parse(log_file(rec))
    assert cols(got.records, "usage_known", "input_tokens", "cache_read_tokens", "cache_write_tokens",
                "output_tokens") == [(False, None, None, None, None)]


def test_a_damaged_gzip_keeps_the_lines_before_the_damage():
    whole = jsonl_gz(record("r-1"), record("r-2"), record("r-3"))
    f = SourceFile(f"{prefix()}/cut.json.gz", whole[: len(whole) - 12])  # the trailer and the last bytes lost
    got = parse(f)
    assert cols(got.records, "request_id") == [("r-1",), ("r-2",)]
    assert cols(got.rejects, "line", "reason") == [
        (3, "invalid JSON (truncated or malformed line)"),
        (4, "damaged gzip stream (EOFError: Compressed file ended before the end-of-stream marker was reached)")]
    assert file_counts(got) == {f.key: (4, 2, 0, 2)}


# ---------------------------------------------------------------------------------------------
# staging: Bedrock's own usage, and the calls requestMetadata attributes


def worker_call(request_id: str, **fields) -> str:
    """A worker log line for a Bedrock call, carrying the invocation's requestId as response id."""
    return json.dumps({
        "timestamp": "2026-11-02T12:00:03Z", "gen_ai.provider.name": "aws.bedrock", "gen_ai.request.model": SONNET,
        "gen_ai.response.id": request_id, "gen_ai.usage.input_tokens": 46500, "gen_ai.usage.output_tokens": 500,
        "gen_ai.usage.cache_read.input_tokens": 42000, "gen_ai.usage.cache_creation.input_tokens": 3000,
        "billing.account": WORKER, "job_type": "summarize", **fields,
    })


def bedrock_staging(invocations: list[SourceFile], worker_lines: list[str] = (), cur_rows: list[dict] = ()):
    """Parse the delivery folders into a lake's bronze partitions and dbt-build both staging models."""
    folders = sorted({delivery_day(f.key) for f in invocations})
    bronze = [("bedrock_invocations", d,
               parse_invocation_logs([f for f in invocations if delivery_day(f.key) == d], folder_date=d).records)
              for d in folders]
    bronze.append(("cur_lines", billing_period_start(DAY), pa.Table.from_pylist(list(cur_rows), schema=CUR_LINES)))
    if worker_lines:
        bronze.append(("worker_calls", DAY, parse_log_files(
            [SourceFile("worker_logs/2026-11-02/w.jsonl", ("\n".join(worker_lines) + "\n").encode())],
            log_source="worker", folder_date=DAY).records))
    return build_models(DAY, bronze, ("stg_bedrock_usage", "stg_bedrock_calls"))


INVOCATIONS = [
    log_file(
        # a Claude call with cache: 1,500 uncached input + 42,000 cache read + 3,000 cache write
        record("req-claude"),
        # attributed by requestMetadata only (no log line), a retry of it, and one nobody attributes
        record("req-bg", modelId=HAIKU, **usage(800, 200), requestMetadata={"job_type": "tag_documents"}),
        record("req-retry", modelId=HAIKU, **usage(800, 100),
               requestMetadata={"job_type": "tag_documents", "attempt": "2"}),
        record("req-dark", modelId=HAIKU, **usage(300, 30), requestMetadata=None),
        # an application inference profile: its own account
        record("req-profile", modelId=APP_PROFILE, identity={"arn": APP}, **usage(100, 10),
               requestMetadata={"job_type": "judge"}),
    ),
    # the same request delivered again in the next hour's object, and a late record of the day
    # delivered in the next day's prefix; a record of the 3rd is not the 2nd's
    log_file(record("req-bg", modelId=HAIKU, **usage(800, 200), requestMetadata={"job_type": "tag_documents"}),
             name="b1.json.gz", hour=13),
    log_file(record("req-late", timestamp="2026-11-02T23:59:58Z", modelId=HAIKU, **usage(50, 5),
                    requestMetadata={"job_type": "tag_documents"}),
             record("req-next-day", timestamp="2026-11-03T00:00:01Z", modelId=HAIKU, **usage(70, 7)),
             day=date(2026, 11, 3), hour=0),
]
CUR_PROFILE = {  # the CUR bills the application profile's Claude Sonnet 4.5 usage
    "billing_period": date(2026, 11, 1), "usage_date": DAY, "line_item_type": "Usage", "line_item_class": "usage",
    "resource_id": APP_PROFILE, "model": "regional.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "model_parse_status": "product_name", "token_class": "uncached_input", "source_file": "cur/x.parquet",
    "source_line": 1,
}


@pytest.mark.slow
def test_usage_staging_sums_the_days_invocations_per_cell_once_per_request():
    out = bedrock_staging(INVOCATIONS, cur_rows=[CUR_PROFILE])
    usage_rows = out["stg_bedrock_usage"]
    assert usage_rows.column_names == ["usage_date", "provider", "billing_account", "model", "uncached_input",
                                       "cache_read", "cache_write_5m", "cache_write_1h", "output", "requests",
                                       "priced_by", "price_tier"]
    assert [tuple(r.values()) for r in usage_rows.to_pylist()] == [
        (DAY, "aws.bedrock", APP_PROFILE, "regional.anthropic.claude-sonnet-4-5-20250929-v1:0",
         100, 0, 0, 0, 10, 1, "invoice", "standard"),
        # req-bg counted once; req-late (next day's prefix) counted on its own day
        (DAY, "aws.bedrock", WORKER, HAIKU, 800 + 800 + 300 + 50, 0, 0, 0, 200 + 100 + 30 + 5, 4, "invoice",
         "standard"),
        (DAY, "aws.bedrock", WORKER, SONNET, 1500, 42000, 3000, 0, 500, 1, "invoice", "standard"),
    ]


@pytest.mark.slow
def test_without_a_cur_line_an_application_profile_stays_its_model_id():
    out = bedrock_staging(INVOCATIONS[:1])
    assert ("aws.bedrock", APP_PROFILE, APP_PROFILE) in cols(out["stg_bedrock_usage"], "provider", "billing_account",
                                                              "model")


@pytest.mark.slow
def test_calls_staging_attributes_unlogged_invocations_by_request_metadata():
    # the worker logged req-claude itself (gen_ai.response.id = requestId): counted from the log
    out = bedrock_staging(INVOCATIONS, worker_lines=[worker_call("req-claude")], cur_rows=[CUR_PROFILE])
    calls = out["stg_bedrock_calls"]
    assert calls.column_names == ["usage_date", "provider", "billing_account", "model", "log_tier", "spend_class",
                                  "job_type",
                                  "usage_known", "request_count", "uncached_input", "cache_read", "cache_write", "output",
                                  "reasoning_tokens", "gateway_cost_usd", "feature", "request_id", "parent_request_id",
                                  "user_id", "tenant_id", "job_id", "attempt", "call_key", "log_source",
                                  "source_file", "source_line"]
    # the attribution int_call_costs carries: requestMetadata's attempt (and feature: none here), one key each
    assert [(r["attempt"], r["feature"], r["request_id"], r["reasoning_tokens"]) for r in calls.to_pylist()] == [
        (1, None, None, None), (2, None, None, None), (1, None, None, None), (1, None, None, None)]
    assert len(set(calls["call_key"].to_pylist())) == 4
    calls = calls.drop_columns(["reasoning_tokens", "feature", "request_id", "parent_request_id", "user_id",
                                "tenant_id", "job_id", "attempt", "call_key"])
    key_a, key_late = INVOCATIONS[0].key, INVOCATIONS[2].key
    assert [tuple(r.values()) for r in calls.to_pylist()] == [
        (DAY, "aws.bedrock", WORKER, HAIKU, "standard", "background", "tag_documents", True, 1, 800, 0, 0, 200,
         None, "bedrock_invocation", key_a, 2),
        (DAY, "aws.bedrock", WORKER, HAIKU, "standard", "retry", "retry:tag_documents", True, 1, 800, 0, 0, 100,
         None, "bedrock_invocation", key_a, 3),
        (DAY, "aws.bedrock", APP_PROFILE, "regional.anthropic.claude-sonnet-4-5-20250929-v1:0", "standard",
         "background", "judge",
         True, 1, 100, 0, 0, 10, None, "bedrock_invocation", key_a, 5),
        (DAY, "aws.bedrock", WORKER, HAIKU, "standard", "background", "tag_documents", True, 1, 50, 0, 0, 5,
         None, "bedrock_invocation", key_late, 1),
    ]


@pytest.mark.slow
def test_calls_staging_has_the_column_types_of_logged_calls():
    out = bedrock_staging(INVOCATIONS)
    logged = build_models(DAY, [], ("stg_model_calls",))["stg_model_calls"].schema
    assert out["stg_bedrock_calls"].schema.remove_metadata() == logged.remove_metadata()


# ---------------------------------------------------------------------------------------------
# no prompt text anywhere


@pytest.mark.slow
def test_no_prompt_text_reaches_the_lake_a_rejected_row_or_staging(tmp_path):
    pretty = SourceFile(f"{prefix()}/pretty.json.gz", gzip.compress(json.dumps(record("r-p"), indent=2).encode()))
    body = SourceFile(f"{prefix()}/data/r-1_input.json.gz", gzip.compress(json.dumps({"text": PROMPT}).encode()))
    lines = [
        json.dumps(record("r-1")).encode(),
        json.dumps(record("r-2", requestMetadata={"job_type": "x", "attempt": "-1"})).encode(),  # valid JSON
        json.dumps(record("r-3")).encode()[:400],  # truncated inside the body
        b"\xff\xfe " + PROMPT.encode(),  # not UTF-8
    ]
    logs = SourceFile(f"{prefix()}/mixed.json.gz", gzip.compress(b"\n".join(lines) + b"\n"))
    got = parse(logs, pretty, body)
    assert got.records.num_rows == 2
    assert cols(got.rejects, "line", "reason") == [
        (2, "requestMetadata.attempt is not a positive integer: -1"),
        (3, "invalid JSON (truncated or malformed line)"),
        (4, "invalid UTF-8"),
    ]
    lake = Lake(tmp_path / "lake")
    for table, data in (("bedrock_invocations", got.records), ("bedrock_invocations_rejects", got.rejects),
                        ("bedrock_invocations_files", got.files)):
        lake.write("bronze", table, DAY, data)
    out = bedrock_staging([logs, pretty])

    texts = [repr(pq.read_table(p).to_pylist()) for p in sorted((tmp_path / "lake").rglob("*.parquet"))]
    texts += [repr(t.to_pylist()) for t in out.values()]
    assert len(texts) == 5
    for text in texts:
        assert "MARKER" not in text and "Alice" not in text
    for path in (tmp_path / "lake").rglob("*.parquet"):  # nor in the raw bytes of any file
        assert b"MARKER" not in path.read_bytes()


# ---------------------------------------------------------------------------------------------
# the asset


@pytest.mark.slow
def test_the_asset_ingests_the_objects_of_its_delivery_day(tmp_path):
    sources = tmp_path / "sources"
    objects = {
        f"{prefix()}/a1.json.gz": jsonl_gz(record("r-1"), record("r-2", inferenceRegion=None)),
        f"{prefix(hour=23)}/a2.json.gz": jsonl_gz(record("r-3")),
        f"{prefix()}/data/r-1_input.json.gz": gzip.compress(PROMPT.encode()),
        f"{prefix(date(2026, 11, 3), 0)}/b1.json.gz": jsonl_gz(record("r-4", timestamp="2026-11-03T00:00:01Z")),
    }
    for key, body in objects.items():
        (sources / key).parent.mkdir(parents=True, exist_ok=True)
        (sources / key).write_bytes(body)
    resources = {"sources": SourceStore(uri=str(sources)), "lake": LakeStore(root=str(tmp_path / "lake")),
                 "warehouse": Warehouse(path=str(tmp_path / "warehouse.duckdb")), "ingest_limits": IngestLimits()}
    result = dg.materialize([bedrock_invocations], partition_key=DAY.isoformat(), resources=resources,
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    lake = Lake(tmp_path / "lake")
    assert cols(pq.read_table(lake.partition_file("bronze", "bedrock_invocations", DAY)), "request_id",
                "folder_date") == [("r-1", DAY), ("r-2", DAY), ("r-3", DAY)]
    files = pq.read_table(lake.partition_file("bronze", "bedrock_invocations_files", DAY))
    assert cols(files, "file", "records", "skipped") == [
        (f"{prefix()}/a1.json.gz", 2, 0), (f"{prefix(hour=23)}/a2.json.gz", 1, 0),
        (f"{prefix()}/data/r-1_input.json.gz", 0, 1)]
    meta = result.asset_materializations_for_node("bedrock_invocations")[0].metadata
    assert (meta["records"].value, meta["skipped_lines"].value, meta["input_tokens"].value,
            meta["cache_read_tokens"].value) == (3, 1, 4500, 126000)
    # r-1 and r-3 were served in us-west-2, not the caller's us-east-1; no guardrail intervened
    assert (meta["served_in_another_region"].value, meta["guardrail_interventions"].value,
            meta["cache_write_1h_tokens"].value) == (2, 0, 0)
