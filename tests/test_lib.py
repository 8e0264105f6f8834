"""The ground floor: exact money, safe store keys, the local store, and line splitting."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pipelines.lib.lake as lake_module
from pipelines.lib import money
from pipelines.lib.disk import write_atomic
from pipelines.lib.lake import Lake
from pipelines.lib.lines import LINES_SCHEMA, decompress, split_lines
from pipelines.lib.money import loads, to_decimal
from pipelines.lib.store import LocalStore, SourceFile, open_store, safe_key

# ---------------------------------------------------------------------------------------------
# money


def test_loads_keeps_fractional_numbers_as_exact_decimals():
    doc = loads('{"a": 0.1, "b": [12.345678901234, 1e-12, -0.0], "c": 7, "d": "0.1", "e": null, "f": 123456789.123456789012}')
    assert doc == {"a": Decimal("0.1"), "b": [Decimal("12.345678901234"), Decimal("1e-12"), Decimal("-0.0")],
                   "c": 7, "d": "0.1", "e": None, "f": Decimal("123456789.123456789012")}
    assert type(doc["a"]) is Decimal and type(doc["c"]) is int
    assert str(doc["f"]) == "123456789.123456789012"  # every digit kept
    assert doc["a"] + loads("0.2") == Decimal("0.3")


def test_loads_accepts_bytes():
    assert loads(b'{"amount": {"value": 0.06, "currency": "usd"}}') == {"amount": {"value": Decimal("0.06"), "currency": "usd"}}


def test_loads_rejects_invalid_json():
    with pytest.raises(ValueError):
        loads('{"a": 0.1')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12.3456"), Decimal("12.3456")),
        (Decimal("0.1"), Decimal("0.1")),
        ("0.1", Decimal("0.1")),
        (" 0.1 ", Decimal("0.1")),
        ("-5.00", Decimal("-5")),
        ("1e3", Decimal("1000")),
        (7, Decimal("7")),
        (0, Decimal("0")),
        ("12.345678901234", Decimal("12.345678901234")),
        ("9999999999999999.999999999999", Decimal("9999999999999999.999999999999")),  # 28 digits: the edge
        ("123456789.123456789012", Decimal("123456789.123456789012")),
    ],
)
def test_to_decimal_is_exact(value, expected):
    got = to_decimal(value)
    assert got == expected
    assert type(got) is Decimal
    assert got.as_tuple().exponent == -money.MONEY_SCALE  # always at the warehouse scale


def test_to_decimal_rounds_beyond_twelve_places_half_even():
    assert to_decimal("0.0000000000005") == Decimal("0")
    assert to_decimal("0.0000000000015") == Decimal("0.000000000002")
    assert to_decimal(Decimal("0.1234567890126")) == Decimal("0.123456789013")


@pytest.mark.parametrize(
    ("value", "in_message"),
    [
        (0.1, "float"),
        (True, "bool"),
        (False, "bool"),
        (None, "NoneType"),
        ([1], "list"),
        ({"value": 1}, "dict"),
        ("abc", "abc"),
        ("", "not a decimal"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-inf", "inf"),
        (Decimal("NaN"), "NaN"),
        (Decimal("-Infinity"), "Infinity"),
    ],
)
def test_to_decimal_refuses_what_is_not_a_finite_number(value, in_message):
    with pytest.raises(ValueError) as info:
        to_decimal(value)
    assert in_message in str(info.value)


def test_to_decimal_refuses_a_value_too_large_for_decimal_38_12_with_value_error():
    with pytest.raises(ValueError):
        to_decimal(Decimal("1e30"))


# ---------------------------------------------------------------------------------------------
# store


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("openai/costs/2026-11-02/p0.json", "openai/costs/2026-11-02/p0.json"),
        ("a//b", "a/b"),
        ("./a/./b", "a/b"),
        ("a/b/", "a/b"),
        ("app_logs/2026-11-02/back\\slash.jsonl", "app_logs/2026-11-02/back\\slash.jsonl"),  # one name
        ("a\\..\\..\\x", "a\\..\\..\\x"),  # a backslash is not a separator: one name, inside the root
        ("x", "x"),
    ],
)
def test_safe_key_normalizes_relative_keys(key, expected):
    assert safe_key(key) == expected


@pytest.mark.parametrize("key", ["", ".", "..", "../x", "a/../../x", "a/../b", "/etc/passwd", "a/\0/b"])
def test_safe_key_refuses_keys_that_could_leave_the_root(key):
    with pytest.raises(ValueError, match="unsafe object key"):
        safe_key(key)


def test_local_store_cannot_read_outside_its_root_through_backslashes(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside")
    for key in [str(secret).replace("/", "\\"), "..\\secret.txt", "\\etc\\passwd"]:
        with pytest.raises(FileNotFoundError):  # looked for as one file name inside the root
            LocalStore(root).read(key)


@pytest.fixture
def store_root(tmp_path):
    files = {
        "openai/costs/2026-11-02/p1.json": b'{"page": 1}',
        "openai/costs/2026-11-02/p0.json": b'{"page": 0}',
        "openai/costs/2026-11-02/.p2.json.tmp": b"partial upload",
        "openai/costs/2026-11-03/p0.json": b"{}",
        "openai/usage/completions/2026-11-02/p0.json": b"{}",
        "app_logs/2026-11-02/a.jsonl": b"line\n",
    }
    for key, data in files.items():
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp_path / "openai/costs/2026-11-04").mkdir()  # an empty day folder
    return tmp_path


def test_local_store_lists_regular_visible_files_sorted(store_root):
    store = LocalStore(store_root)
    assert store.list("openai/costs/2026-11-02") == [
        "openai/costs/2026-11-02/p0.json", "openai/costs/2026-11-02/p1.json"
    ]
    assert store.list("openai/costs") == [
        "openai/costs/2026-11-02/p0.json", "openai/costs/2026-11-02/p1.json", "openai/costs/2026-11-03/p0.json"
    ]
    assert store.list("openai/costs/2026-11-04") == []
    assert store.list("openai/costs/2026-11-05") == []  # a missing folder is no files, not an error
    assert store.list("openai/costs/2026-11-02/p0.json") == []  # a file is not a folder
    with pytest.raises(ValueError):
        store.list("../")


def test_local_store_reads_bytes_and_hashes_them(store_root):
    store = open_store(store_root)
    f = store.read("openai/costs/2026-11-02/p1.json")
    assert f == SourceFile("openai/costs/2026-11-02/p1.json", b'{"page": 1}')
    assert f.sha256 == hashlib.sha256(b'{"page": 1}').hexdigest()
    with pytest.raises(ValueError):
        store.read("openai/../../etc/passwd")
    with pytest.raises(FileNotFoundError):
        store.read("openai/costs/2026-11-02/missing.json")


def test_open_store_takes_paths_and_file_uris(store_root):
    assert open_store(f"file://{store_root}").list("app_logs") == ["app_logs/2026-11-02/a.jsonl"]
    assert open_store(str(store_root)).uri == str(store_root)
    assert open_store("s3://bucket/prefix").uri == "s3://bucket/prefix"  # an S3Store: tests/test_s3.py


# ---------------------------------------------------------------------------------------------
# lines


def _rows(table: pa.Table) -> list[tuple[str, int, bytes]]:
    return [(r["file"], r["line"], r["raw"]) for r in table.to_pylist()]


@pytest.mark.parametrize(
    ("data", "raws"),
    [
        (b"", []),
        (b"a", [b"a"]),
        (b"a\n", [b"a\n"]),
        (b"a\nb", [b"a\n", b"b"]),
        (b"a\nb\n", [b"a\n", b"b\n"]),
        (b"\n", [b"\n"]),
        (b"\n\n\n", [b"\n", b"\n", b"\n"]),
        (b"a\r\nb\r\n", [b"a\r\n", b"b\r\n"]),
        (b"\xff\xfe\n{}", [b"\xff\xfe\n", b"{}"]),  # invalid UTF-8 stays as bytes
        ("é\n€".encode(), ["é\n".encode(), "€".encode()]),
    ],
)
def test_split_lines(data, raws):
    table = split_lines("k.jsonl", data)
    assert table.schema == LINES_SCHEMA
    assert _rows(table) == [("k.jsonl", i, raw) for i, raw in enumerate(raws, start=1)]
    assert b"".join(raws) == data  # nothing lost, nothing added


def test_split_lines_on_many_lines_numbers_them_in_order():
    data = b"".join(b"%d\n" % i for i in range(1, 10_001))
    table = split_lines("big.jsonl", data)
    assert table.num_rows == 10_000
    assert table["line"].to_pylist() == list(range(1, 10_001))
    assert [int(r) for r in table["raw"].to_pylist()] == list(range(1, 10_001))
    assert set(table["file"].to_pylist()) == {"big.jsonl"}


def test_decompress_leaves_plain_files_alone():
    data = b'{"a": 1}\n'
    assert decompress(SourceFile("x.jsonl", data)) == (data, None)
    assert decompress(SourceFile("x.jsonl", gzip.compress(data))) == (gzip.compress(data), None)  # by name only


def test_decompress_gzip():
    data = b'{"a": 1}\n{"b": 2}\n'
    assert decompress(SourceFile("x.jsonl.gz", gzip.compress(data))) == (data, None)
    assert decompress(SourceFile("x.jsonl.gz", gzip.compress(data) + gzip.compress(b"more\n"))) == (data + b"more\n", None)
    assert decompress(SourceFile("x.jsonl.gz", gzip.compress(b""))) == (b"", None)


def test_decompress_truncated_gzip_keeps_what_was_read():
    head = b'{"a": 1}\n{"b": 2}\n'
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    cut = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    data, problem = decompress(SourceFile("x.jsonl.gz", cut))
    assert data == head
    assert "damaged gzip" in problem and "EOFError" in problem


def test_decompress_of_bytes_that_are_not_gzip():
    data, problem = decompress(SourceFile("x.jsonl.gz", b'{"a": 1}\n'))
    assert data == b""
    assert "damaged gzip" in problem


# ---------------------------------------------------------------- a partition written batch by batch
def _batches(sizes: list[int]) -> list[pa.Table]:
    start, out = 0, []
    for n in sizes:
        out.append(pa.table({"n": pa.array(range(start, start + n), pa.int64()),
                             "s": pa.array([f"row {i}" for i in range(start, start + n)])}))
        start += n
    return out


def test_a_partition_written_in_batches_has_every_row_in_order_in_full_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(lake_module, "ROW_GROUP_SIZE", 4)
    schema = pa.schema([("n", pa.int64(), False), ("s", pa.string())])
    lake = Lake(tmp_path)
    with lake.partition_writer("bronze", "t", date(2026, 6, 1), schema) as writer:
        for batch in _batches([3, 0, 6, 1, 5]):
            writer.write(batch)
        assert not lake.partition_file("bronze", "t", date(2026, 6, 1)).exists()  # named only at the end
    path = lake.partition_file("bronze", "t", date(2026, 6, 1))
    got = pq.read_table(path)
    assert got.schema == schema  # the declared schema (here: `n` not null), whatever the batches said
    assert got.column("n").to_pylist() == list(range(15)) and writer.rows == 15
    meta = pq.read_metadata(path)
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [4, 4, 4, 3]
    assert writer.head.column("n").to_pylist() == list(range(10))
    assert list(path.parent.iterdir()) == [path]  # no temporary file left


def test_a_partition_whose_writing_fails_keeps_what_was_there(tmp_path):
    lake = Lake(tmp_path)
    day = date(2026, 6, 1)
    lake.write("bronze", "t", day, _batches([2])[0])
    before = lake.partition_file("bronze", "t", day).read_bytes()
    with pytest.raises(RuntimeError, match="parse failed"):
        with lake.partition_writer("bronze", "t", day, _batches([1])[0].schema) as writer:
            writer.write(_batches([7])[0])
            raise RuntimeError("parse failed")
    assert lake.partition_file("bronze", "t", day).read_bytes() == before
    assert list(lake.partition_file("bronze", "t", day).parent.iterdir()) == [lake.partition_file("bronze", "t", day)]
    with pytest.raises(RuntimeError):  # a partition that did not exist leaves no folder behind
        with lake.partition_writer("bronze", "t", date(2026, 6, 2), _batches([1])[0].schema):
            raise RuntimeError("parse failed")
    assert not lake.partition_file("bronze", "t", date(2026, 6, 2)).parent.exists()


# ---------------------------------------------------------------------------------------------
# whole-file writes (the report, API pages and their manifest, landed S3 objects)


def test_write_atomic_replaces_a_file_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "page-001.json"
    target.write_bytes(b"old page")
    assert write_atomic(target, b'{"data": [1, 2, 3]}') == target
    assert target.read_bytes() == b'{"data": [1, 2, 3]}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page-001.json"]


def test_write_atomic_that_fails_keeps_what_was_there_and_no_temporary_file(tmp_path):
    (tmp_path / "report.html").mkdir()  # a folder in the way: the rename fails after the write
    (tmp_path / "report.html" / "kept").write_bytes(b"12 bytes old")
    with pytest.raises(OSError):
        write_atomic(tmp_path / "report.html", b"new report")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kept", "report.html"]
    assert (tmp_path / "report.html" / "kept").read_bytes() == b"12 bytes old"
