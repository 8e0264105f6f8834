"""Untrusted input, unit by unit (no Dagster): the local store never follows a link nor reads a
special file, a backslash is part of a name, a line over `DARKCOMPUTE_MAX_LINE_BYTES` is rejected
unread, and every parser's rejected row keeps the shape and the contract's fields, never text.
The same faults end to end: `tests/test_hostile_sources.py`."""

import gzip
import json
import os
from datetime import date

import pyarrow as pa
import pytest

from pipelines.defs.bedrock.cur import parse_cur_delivery
from pipelines.defs.bedrock.parse import parse_invocation_logs
from pipelines.defs.logs.parse import parse_log_files
from pipelines.defs.openai.parse import parse_usage_pages
from pipelines.defs.resources import IngestLimits
from pipelines.lib.lines import decompress, split_lines
from pipelines.lib.store import NOT_REGULAR, SYMLINK, LocalStore, SourceFile

DAY = date(2026, 11, 2)
MARKER = "PROMPT-MARKER-0b7c"
CALL = {"timestamp": "2026-11-02T10:00:00Z", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10, "billing.account": "proj_a"}


def jsonl(*records: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def logs(*files: SourceFile, **limits):
    return parse_log_files(list(files), log_source="app", folder_date=DAY, **limits)


# ---------------------------------------------------------------------------------------------
# the local store


@pytest.fixture
def tree(tmp_path):
    """A source root whose day folder holds a file, links of every kind, a FIFO and a hidden file."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    day = root / "app_logs" / "2026-11-02"
    day.mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.jsonl").write_bytes(b"SECRET\n")
    (outside / "folder").mkdir()
    (outside / "folder" / "x.jsonl").write_bytes(b"SECRET\n")
    (day / "a.jsonl").write_bytes(b"{}\n")
    (day / "back\\slash.jsonl").write_bytes(b"{}\n")
    (day / ".partial.jsonl").write_bytes(b"{}\n")
    os.symlink(outside / "secret.jsonl", day / "file-link.jsonl")
    os.symlink("../../../outside/secret.jsonl", day / "relative-link.jsonl")
    os.symlink("a.jsonl", day / "inside-link.jsonl")
    os.symlink(outside / "missing.jsonl", day / "dangling.jsonl")
    os.symlink(outside / "folder", day / "folder-link")
    os.mkfifo(day / "pipe.jsonl")
    return root


def test_links_and_special_files_are_listed_but_never_read(tree):
    store = LocalStore(tree)
    d = "app_logs/2026-11-02"
    assert store.list("app_logs") == [f"{d}/{name}" for name in sorted([
        "a.jsonl", "back\\slash.jsonl", "dangling.jsonl", "file-link.jsonl", "folder-link", "inside-link.jsonl",
        "pipe.jsonl", "relative-link.jsonl"])]
    for name in ["file-link.jsonl", "relative-link.jsonl", "inside-link.jsonl", "dangling.jsonl", "folder-link"]:
        assert store.read(f"{d}/{name}") == SourceFile(f"{d}/{name}", b"", refused=SYMLINK)
    assert store.read(f"{d}/pipe.jsonl") == SourceFile(f"{d}/pipe.jsonl", b"", refused=NOT_REGULAR)  # no hang
    assert store.read(f"{d}/folder-link/x.jsonl").refused == SYMLINK  # a linked folder on the way
    assert store.read(f"{d}/back\\slash.jsonl") == SourceFile(f"{d}/back\\slash.jsonl", b"{}\n")


def test_a_linked_day_folder_is_one_refused_key(tree, tmp_path):
    os.symlink(tmp_path / "outside" / "folder", tree / "app_logs" / "2026-11-03")
    store = LocalStore(tree)
    assert store.list("app_logs/2026-11-03") == ["app_logs/2026-11-03"]
    assert store.read("app_logs/2026-11-03").refused == SYMLINK


def test_a_link_swapped_in_after_listing_is_refused(tree):
    store = LocalStore(tree)
    key = "app_logs/2026-11-02/a.jsonl"
    assert key in store.list("app_logs/2026-11-02")
    os.replace(tree / "app_logs" / "2026-11-02" / "file-link.jsonl", tree / key)
    assert store.read(key).refused == SYMLINK


def test_a_refused_log_file_is_one_whole_file_rejected_unit():
    got = logs(SourceFile("app_logs/2026-11-02/a.jsonl", jsonl(CALL)),
               SourceFile("app_logs/2026-11-02/env.jsonl", b"", refused=SYMLINK))
    assert got.records.num_rows == 1
    assert got.rejects.to_pylist() == [{"source": "app_logs", "file": "app_logs/2026-11-02/env.jsonl", "line": None,
                                        "reason": SYMLINK, "raw": ""}]
    [row] = [r for r in got.files.to_pylist() if r["file"] == "app_logs/2026-11-02/env.jsonl"]
    assert (row["sha256"], row["bytes"], row["lines_read"], row["rejected"]) == (None, None, 1, 1)


def test_a_refused_page_and_a_refused_cur_manifest_are_rejected_whole():
    pages = parse_usage_pages([SourceFile("openai/usage/completions/2026-11-02/p.json", b"", refused=SYMLINK)],
                              endpoint="completions", folder_date=DAY)
    assert [(r["line"], r["reason"], r["raw"]) for r in pages.rejects.to_pylist()] == [(None, SYMLINK, "")]
    key = "cur/exp/metadata/BILLING_PERIOD=2026-11/exp-Manifest.json"
    cur = parse_cur_delivery(SourceFile(key, b"", refused=SYMLINK), [], delivered=[])
    assert [(r["file"], r["line"], r["reason"], r["raw"]) for r in cur.rejects.to_pylist()] == [(key, None, SYMLINK, "")]


def test_a_refused_bedrock_object_is_one_whole_file_rejected_unit():
    key = "bedrock/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/2026/11/02/12/a.json.gz"
    got = parse_invocation_logs([SourceFile(key, b"", refused=SYMLINK)], folder_date=DAY)
    assert [(r["file"], r["line"], r["reason"]) for r in got.rejects.to_pylist()] == [(key, None, SYMLINK)]
    assert got.files.to_pylist()[0]["lines_read"] == got.files.to_pylist()[0]["rejected"] == 1


# ---------------------------------------------------------------------------------------------
# lines over the limit


def test_a_line_over_the_limit_is_rejected_by_its_length_unread():
    big = CALL | {"gen_ai.prompt": MARKER * 500}  # a valid call, 9 KiB long
    data = jsonl(CALL, big, CALL)
    got = logs(SourceFile("app_logs/2026-11-02/a.jsonl", data), max_line_bytes=4096)
    assert got.records["source_line"].to_pylist() == [1, 3]
    size = len(json.dumps(big)) + 1
    assert got.rejects.select(["line", "reason", "raw"]).to_pylist() == [
        {"line": 2, "reason": f"line of {size} bytes is longer than DARKCOMPUTE_MAX_LINE_BYTES: not read",
         "raw": json.dumps({"bytes": size}, separators=(",", ":"))}]


def test_a_bedrock_line_over_the_limit_is_rejected_by_its_length_unread():
    key = "bedrock/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/2026/11/02/12/a.json.gz"
    line = json.dumps({"schemaType": "ModelInvocationLog", "requestId": "r1", "input": {"inputBodyJson": MARKER * 100}})
    got = parse_invocation_logs([SourceFile(key, gzip.compress(line.encode() + b"\n"))], folder_date=DAY,
                                max_line_bytes=1000)
    [row] = got.rejects.to_pylist()
    assert row["reason"] == f"line of {len(line) + 1} bytes is longer than DARKCOMPUTE_MAX_LINE_BYTES: not read"
    assert MARKER not in row["raw"]


def test_a_long_line_is_a_null_over_the_same_bytes():
    data = b"ab\nabcdef\n\nxyz"
    table = split_lines("k", data, max_line_bytes=3)
    assert table.to_pylist() == [
        {"file": "k", "line": 1, "raw": b"ab\n", "bytes": 3}, {"file": "k", "line": 2, "raw": None, "bytes": 7},
        {"file": "k", "line": 3, "raw": b"\n", "bytes": 1}, {"file": "k", "line": 4, "raw": b"xyz", "bytes": 3}]
    [chunk] = table.column("raw").chunks
    assert chunk.buffers()[2].address == pa.py_buffer(data).address  # the file's own bytes: no copy


@pytest.mark.parametrize("value", ["0", "-1", "lots"])
def test_a_bad_line_limit_is_a_clear_error(value):
    assert IngestLimits().line_bytes() == 64 * 1024 * 1024 and IngestLimits(max_line_bytes="").line_bytes() == 64 * 1024 * 1024
    with pytest.raises(ValueError, match=f"DARKCOMPUTE_MAX_LINE_BYTES must be a positive whole number, got '{value}'"):
        IngestLimits(max_line_bytes=value).line_bytes()


# ---------------------------------------------------------------------------------------------
# a gzip file that unpacks past the limit (a "gzip bomb")


def test_a_gzip_bomb_is_unpacked_only_to_the_limit_and_says_so():
    """Three calls, then 1 MiB of nothing that gzip packs into about a kilobyte: with a 4 KiB
    limit the calls are records, the cut line is rejected, and one row names the setting."""
    head = jsonl(CALL, CALL, CALL)
    packed = gzip.compress(head + b"A" * (1 << 20))
    assert len(packed) < 4096  # smaller than the limit on disk
    key = "app_logs/2026-11-02/bomb.jsonl.gz"
    data, problem = decompress(SourceFile(key, packed), max_file_bytes=4096)
    assert data == (head + b"A" * (1 << 20))[:4096]
    assert problem == "unpacks to more than DARKCOMPUTE_MAX_FILE_BYTES (4,096 bytes): lines past the limit not read"

    got = logs(SourceFile(key, packed), max_file_bytes=4096)
    assert got.records.num_rows == 3
    assert [(r["line"], r["reason"]) for r in got.rejects.to_pylist()] == [(4, "invalid JSON (truncated or malformed line)"), (5, problem)]
    [counts] = got.files.to_pylist()
    assert (counts["lines_read"], counts["records"], counts["skipped"], counts["rejected"]) == (5, 3, 0, 2)


def test_the_limit_counts_every_member_and_a_damaged_stream_too():
    members = gzip.compress(b"x" * 60) + b"\x00\x00" + gzip.compress(b"y" * 60)  # 120 bytes unpacked
    assert decompress(SourceFile("a.jsonl.gz", members), 100) == (
        b"x" * 60 + b"y" * 40,
        "unpacks to more than DARKCOMPUTE_MAX_FILE_BYTES (100 bytes): lines past the limit not read")
    damaged = gzip.compress(b"z" * 10_000)[:-12]  # cut before its end: salvaged, still bounded
    data, problem = decompress(SourceFile("b.jsonl.gz", damaged), 100)
    assert data == b"z" * 100 and problem.startswith("unpacks to more than DARKCOMPUTE_MAX_FILE_BYTES")
    # exactly the size: all of it, no problem
    assert decompress(SourceFile("a.jsonl.gz", members), 120) == (b"x" * 60 + b"y" * 60, None)


@pytest.mark.parametrize("value", ["0", "-1", "lots"])
def test_a_bad_file_limit_is_a_clear_error(value):
    assert IngestLimits().file_bytes() == 512 * 1024 * 1024
    with pytest.raises(ValueError, match=f"DARKCOMPUTE_MAX_FILE_BYTES must be a positive whole number, got '{value}'"):
        IngestLimits(max_file_bytes=value).file_bytes()


# ---------------------------------------------------------------------------------------------
# what a rejected row keeps


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (CALL | {"gen_ai.usage.output_tokens": -5}, "negative token count"),
        (CALL | {"gen_ai.provider.name": "mistral"}, "unknown provider: mistral"),
        (CALL | {"timestamp": "2026-11-02T10:00:00"}, "timestamp without a time zone: 2026-11-02T10:00:00"),
        (["a list", "not an object"], "not a JSON object"),
    ],
)
def test_a_rejected_log_line_keeps_its_shape_and_contract_values_only(line, reason):
    extra = {"gen_ai.prompt": MARKER, "gen_ai.input.messages": [{"role": "user", "content": MARKER}],
             "job_type": {"nested": MARKER}}
    record = line | extra if isinstance(line, dict) else line + [MARKER]
    got = logs(SourceFile("app_logs/2026-11-02/a.jsonl", jsonl(record)))
    [row] = got.rejects.to_pylist()
    assert row["reason"] == reason
    assert MARKER not in row["raw"]
    if isinstance(line, dict):
        assert json.loads(row["raw"]) == line | {
            "gen_ai.prompt": "VARCHAR", "gen_ai.input.messages": [{"role": "VARCHAR", "content": "VARCHAR"}],
            "job_type": {"nested": "VARCHAR"}}
    else:
        assert json.loads(row["raw"]) == ["VARCHAR"]


@pytest.mark.parametrize("data", [b'{"gen_ai.prompt": "' + MARKER.encode() + b'", "timest',
                                  b'{"gen_ai.prompt": "\xc3\x28' + MARKER.encode() + b'"}'])
def test_a_line_that_is_not_json_or_not_utf8_keeps_only_its_length(data):
    got = logs(SourceFile("app_logs/2026-11-02/a.jsonl", data + b"\n"))
    [row] = got.rejects.to_pylist()
    assert json.loads(row["raw"]) == {"bytes": len(data) + 1}


def test_a_rejected_page_result_keeps_its_fields_and_only_the_type_of_other_keys():
    result = {"object": "organization.usage.completions.result", "input_tokens": -1, "output_tokens": 10,
              "num_model_requests": 1, "project_id": "proj_a", "model": "gpt-4o-mini", "note": MARKER,
              "extra": {"text": MARKER}}
    page = {"object": "page", "data": [{"object": "bucket", "start_time": 1793577600, "end_time": 1793664000,
                                        "results": [result]}], "has_more": False, "next_page": None}
    got = parse_usage_pages([SourceFile("openai/usage/completions/2026-11-02/p.json", json.dumps(page).encode())],
                            endpoint="completions", folder_date=DAY)
    [row] = got.rejects.to_pylist()
    assert json.loads(row["raw"]) == result | {"note": "VARCHAR", "extra": {"text": "VARCHAR"}}


def test_a_cur_manifest_that_is_not_json_keeps_only_its_length():
    key = "cur/exp/metadata/BILLING_PERIOD=2026-11/exp-Manifest.json"
    data = b'{"dataFiles": ["' + MARKER.encode()
    got = parse_cur_delivery(SourceFile(key, data), [], delivered=[])
    [row] = got.rejects.to_pylist()
    assert json.loads(row["raw"]) == {"bytes": len(data)}


@pytest.mark.parametrize("line", [
    '{"gen_ai.provider.name": "mistral", "gen_ai.request.model": "m", "x": ' + "[" * 300 + "]" * 300 + "}",
    "[" * 300 + "]" * 300,
    '{"resourceSpans": 5, "x": ' + "[" * 300 + "]" * 300 + "}",  # a malformed OTLP envelope
])
def test_json_too_deep_for_its_shape_keeps_only_its_length(line):
    """DuckDB's json_structure stops at 128 levels: the batch must not fail with it."""
    got = logs(SourceFile("app_logs/2026-11-02/a.jsonl", jsonl(CALL) + line.encode() + b"\n"))
    assert got.records.num_rows == 1
    [row] = got.rejects.to_pylist()
    assert json.loads(row["raw"]) == {"bytes": len(line) + 1}


def test_pulled_pages_are_read_through_the_same_guarded_store(tmp_path):
    """Pages pulled from the admin APIs land under `<landing>/api` and are read by a LocalStore:
    a link planted there is refused like one in the source root."""
    from pipelines.defs.resources import SourceStore

    (tmp_path / "outside.json").write_bytes(b'{"secret": true}')
    pulled = tmp_path / "landing" / "api" / "openai" / "costs" / "2026-11-02"
    pulled.mkdir(parents=True)
    (pulled / "page-001.json").write_bytes(b'{"data": []}')
    os.symlink(tmp_path / "outside.json", pulled / "page-002.json")
    (tmp_path / "sources").mkdir()
    files = SourceStore(uri=str(tmp_path / "sources"), pulled=str(tmp_path / "landing" / "api")).day_files(
        "openai/costs", DAY)
    assert [(f.key, f.data, f.refused) for f in files] == [
        ("openai/costs/2026-11-02/page-001.json", b'{"data": []}', None),
        ("openai/costs/2026-11-02/page-002.json", b"", SYMLINK)]
