"""The fault matrix: hostile input injected into one otherwise valid day of the OpenAI-only test
world (`tests/data/openai_world/`, the committed samples before issue 12), reconciled end to end by
`darkcompute reconcile --date 2026-11-02`.

Each case copies `tests/data/openai_world/sources/`, breaks one file of the 2026-11-02 delivery (or
adds one) and compares the run with a clean run of the same samples: the exit code; the `rejected_records`
rows added (source, file, line, reason); the `ingest_files` counts of the broken file, exactly,
and of every other file, unchanged; `lines_read = records + skipped + rejected` for every file; the
bronze records that landed; the day's logged calls and invoice; and the identity
`invoice = user + background + retry + unlogged + non_token` on every `fct_spend_reconciliation`
row. Nothing is lost and nothing is double counted.

Faults that break different files share a run (`Fault.run`), so five reconciliations cover the
matrix; every count stays per file and exact, and a run's day totals must move by exactly the sum
of its faults' changes. A log file's `line` is its 1-based line number; a page's is the result's
position in the file (empty for a whole-file problem). A damaged gzip stream adds one line of its
own after the last line it could read (`pipelines.defs.logs.parse`).
"""

import gzip
import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from pipelines.lib.money import loads

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "openai_world" / "sources"
DAY = "2026-11-02"
ENV = ("DARKCOMPUTE_SOURCE_URI", "DARKCOMPUTE_LAKE_DIR", "DARKCOMPUTE_WAREHOUSE")

APP_1 = f"app_logs/{DAY}/app-01.jsonl"  # clean: 417 lines, 416 records, line 359 rejected (truncated)
APP_2 = f"app_logs/{DAY}/app-02.jsonl"  # clean: 442 lines, 442 records
WORKER_1 = f"worker_logs/{DAY}/worker-01.jsonl.gz"  # clean: 467 lines, 285 records, 181 skipped, line 104 rejected
WORKER_2 = f"worker_logs/{DAY}/worker-02.jsonl.gz"  # clean: 439 lines, 261 records, 178 skipped
USAGE_1 = f"openai/usage/completions/{DAY}/page-001.json"  # clean: 47 results
USAGE_2 = f"openai/usage/completions/{DAY}/page-002.json"  # clean: 52 results
EMBEDDINGS = f"openai/usage/embeddings/{DAY}/page-001.json"  # clean: 2 results
COSTS = f"openai/costs/{DAY}/page-001.json"  # clean: 22 results, the 11th "web search tool calls" $0.16
APP_2_COPY = f"app_logs/{DAY}/app-02 (1).jsonl"  # sorts before app-02.jsonl
USAGE_2_COPY = f"openai/usage/completions/{DAY}/page-002-retry.json"  # sorts before page-002.json
WORKER_2_COPY = f"worker_logs/{DAY}/worker-02.redelivered.jsonl.gz"

TEN_MIB = 10 * 2**20
GZIP_CUT = 6000  # bytes of worker-01.jsonl.gz kept: 210 whole lines and 235 bytes of line 211

BOM = b"\xef\xbb\xbf"

Counts = tuple[int, int, int, int]  # lines_read, records, skipped, rejected


# ---------------------------------------------------------------------------------------------
# Editing delivered files


def read_text(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def write_text(path: Path, data: bytes, mtime: int = 0) -> None:
    path.write_bytes(gzip.compress(data, mtime=mtime) if path.name.endswith(".gz") else data)


def edit_line(source: Path, key: str, number: int, change: Callable[[bytes], bytes]) -> None:
    """Replace line `number` (1-based, newline excluded) of a log file, gzipped or not."""
    lines = read_text(source / key).split(b"\n")
    lines[number - 1] = change(lines[number - 1])
    write_text(source / key, b"\n".join(lines))


def dumps(value) -> str:
    """JSON text with each Decimal written as its exact literal (`json.dumps` cannot)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def with_fields(**fields) -> Callable[[bytes], bytes]:
    """A line edit setting keys of the record (`gen_ai__usage__input_tokens` -> `gen_ai.usage.input_tokens`)."""

    def change(line: bytes) -> bytes:
        record = loads(line)
        for name, value in fields.items():
            key = name.replace("__", ".")
            record[key] = value(record[key]) if callable(value) else value
        return dumps(record).encode()

    return change


def edit_page(source: Path, key: str, change: Callable[[dict], None]) -> None:
    """Rewrite an API page after `change` edits it in place (numbers stay exact Decimal literals)."""
    page = loads((source / key).read_bytes())
    change(page)
    (source / key).write_bytes(dumps(page).encode())


def result(page: dict, number: int) -> dict:
    """The page's `number`-th result (1-based, over all buckets): the parser's line number."""
    return [r for bucket in page["data"] for r in bucket["results"]][number - 1]


def set_result(number: int, **fields) -> Callable[[dict], None]:
    def change(page: dict) -> None:
        target = result(page, number)
        for key, value in fields.items():
            target[key] = value(target[key]) if callable(value) else value

    return change


# ---------------------------------------------------------------------------------------------
# The injections


def invalid_utf8(source: Path) -> None:
    def change(line: bytes) -> bytes:
        assert line.count(b'"tenant_id":"') == 1
        return line.replace(b'"tenant_id":"', b'"tenant_id":"\xc3\x28')  # a lead byte without its continuation

    edit_line(source, APP_1, 10, change)


def truncated_gzip(source: Path) -> None:
    path = source / WORKER_1
    path.write_bytes(path.read_bytes()[:GZIP_CUT])


def page_without_data(source: Path) -> None:
    edit_page(source, USAGE_2, lambda page: page.update(buckets=page.pop("data")))


def page_with_unknown_fields(source: Path) -> None:
    def change(page: dict) -> None:
        page["organization_id"] = "org_new"
        for bucket in page["data"]:
            bucket["aggregation"] = {"kind": "sum"}
            for r in bucket["results"]:
                r.update(input_audio_cached_tokens=0, api_source="unlabeled", quantity_unit=None)

    edit_page(source, USAGE_1, change)


def with_bom(key: str) -> Callable[[Path], None]:
    def inject(source: Path) -> None:
        (source / key).write_bytes(BOM + (source / key).read_bytes())

    return inject


def crlf(source: Path) -> None:
    text = (source / APP_1).read_bytes()
    assert b"\r" not in text
    (source / APP_1).write_bytes(text.replace(b"\n", b"\r\n"))


def empty_file(key: str) -> Callable[[Path], None]:
    def inject(source: Path) -> None:
        (source / key).write_bytes(b"")

    return inject


def copy_of(key: str, copy: str) -> Callable[[Path], None]:
    def inject(source: Path) -> None:
        if copy.endswith(".gz"):  # the same lines, gzipped again by the shipper: other header, other bytes
            write_text(source / copy, read_text(source / key), mtime=1_793_664_000)
        else:
            shutil.copyfile(source / key, source / copy)

    return inject


def lines_sent_again(source: Path) -> None:
    """An at-least-once shipper retrying a batch: lines 41 (a call without gen_ai.response.id) and
    300 (one with an id) delivered again at the end of the file."""
    text = read_text(source / WORKER_1)
    lines = text.split(b"\n")
    assert b"gen_ai.response.id" not in lines[40] and b"gen_ai.response.id" in lines[299]
    write_text(source / WORKER_1, text + lines[40] + b"\n" + lines[299] + b"\n")


def garbage_line(source: Path) -> None:
    edit_line(source, WORKER_2, 10, lambda line: b"A" * TEN_MIB)


def in_utc_minus_5(value: str) -> str:
    ts = datetime.fromisoformat(value).astimezone(timezone(timedelta(hours=-5)))
    return ts.isoformat(timespec="milliseconds")


# ---------------------------------------------------------------------------------------------
# The matrix


@dataclass(frozen=True)
class Fault:
    """One injected fault and everything the run must show for it.

    `injected`: what was done, in words (the README's fault table). `files`: every file the fault
    breaks or adds -> its `ingest_files` counts (lines_read, records, skipped, rejected) after the
    run, or None where `check` says what to expect. `rejects`: the `rejected_records` rows it adds, as (source,
    file, line, reason substring). `calls`, `requests`, `invoice`: how the day's logged calls,
    provider-counted requests and invoice total move. `same_records`: the bronze rows of its
    files equal the clean run's, lineage hashes aside. `same_marts`: both marts equal the clean
    run's (checked when every fault of the run says so).
    """

    name: str
    run: str
    injected: str
    inject: Callable[[Path], None]
    files: dict[str, Counts | None]
    rejects: tuple[tuple[str, str, int | None, str], ...] = ()
    calls: int = 0
    requests: int = 0
    invoice: Decimal = Decimal(0)
    same_records: bool = False
    same_marts: bool = False
    check: Callable | None = field(default=None, compare=False)


def bronze_row(outcome, key: str, line: int) -> dict:
    [row] = [r for r in outcome.bronze.get(key, []) if r["source_line"] == line]
    return row


def check_prefix_kept(clean, run) -> None:
    """The records before the damage landed exactly as in the clean run; none after it."""
    kept = [r for r in clean.bronze[WORKER_1] if r["source_line"] <= 210]
    assert strip(run.bronze[WORKER_1]) == strip(kept)


def check_offset_converted(clean, run) -> None:
    before, after = bronze_row(clean, WORKER_1, 10), bronze_row(run, WORKER_1, 10)
    assert after["ts"] == before["ts"] == datetime(2026, 11, 2, 0, 33, 1, 298000, tzinfo=timezone.utc)
    assert after["usage_date"] == before["usage_date"]


def check_raw_is_its_length(clean, run) -> None:
    [row] = [r for r in run.rejects if r["file"] == WORKER_2]
    assert json.loads(row["raw"]) == {"bytes": TEN_MIB + 1}  # a line that is not JSON keeps only its length


def check_big_record(clean, run) -> None:
    assert run.files[APP_1]["bytes"] > TEN_MIB
    row = bronze_row(run, APP_1, 30)
    assert strip([row]) == strip([bronze_row(clean, APP_1, 30)])
    assert max(len(v) for v in row.values() if isinstance(v, str)) < 100  # the 10 MiB text is not kept


def check_non_token_line_gone(clean, run) -> None:
    assert non_token(run) == non_token(clean) - Decimal("0.16")


def check_whole_file_raw(clean, run) -> None:
    [row] = [r for r in run.rejects if r["file"] == f"openai/usage/completions/{DAY}/page-003.json"]
    assert json.loads(row["raw"]) == {"bytes": 0}  # a page that is not JSON keeps only its length


def read_under_both_names(key: str, copy: str) -> Callable:
    """Both names of one content are ingested and listed with the clean run's counts and records
    (a trace under each name); staging counts the content once, so the marts equal the clean run's."""

    def check(clean, run) -> None:
        for name in (key, copy):
            assert counts(run.files[name]) == counts(clean.files[key])
            assert strip(run.bronze[name], "source_file") == strip(clean.bronze[key], "source_file")

    return check


FAULTS = [
    # ---- run "lost": each fault loses lines, which are rejected with a reason
    Fault("invalid_utf8", "lost", "bytes C3 28 (a lead byte without its continuation) inside line 10",
          invalid_utf8, {APP_1: (417, 415, 0, 2)},
          (("app_logs", APP_1, 10, "invalid UTF-8"),), calls=-1),
    Fault("wrong_json_type_in_a_log_line", "lost", 'line 20: "gen_ai.usage.input_tokens": "<n>" (a string)',
          lambda s: edit_line(s, APP_2, 20, with_fields(gen_ai__usage__input_tokens=str)), {APP_2: (442, 441, 0, 1)},
          (("app_logs", APP_2, 20, "gen_ai.usage.input_tokens is not an integer"),), calls=-1),
    Fault("truncated_gzip", "lost", f"worker-01.jsonl.gz cut to its first {GZIP_CUT} of 13169 bytes, inside line 211",
          truncated_gzip, {WORKER_1: (212, 137, 72, 3)},
          (("worker_logs", WORKER_1, 211, "invalid JSON"), ("worker_logs", WORKER_1, 212, "damaged gzip stream")),
          calls=-148, check=check_prefix_kept),
    Fault("unknown_provider", "lost", 'line 6: "gen_ai.provider.name": "mistral"',
          lambda s: edit_line(s, WORKER_2, 6, with_fields(gen_ai__provider__name="mistral")),
          {WORKER_2: (439, 260, 178, 1)},
          (("worker_logs", WORKER_2, 6, "unknown provider: mistral"),), calls=-1),
    Fault("wrong_json_type_in_a_usage_page", "lost", 'result 3: "output_tokens": "<n>" (a string)',
          lambda s: edit_page(s, USAGE_1, set_result(3, output_tokens=str)), {USAGE_1: (47, 46, 0, 1)},
          (("openai/usage/completions", USAGE_1, 3, "output_tokens is not a non-negative 64-bit integer"),),
          requests=-8),
    Fault("negative_tokens_in_a_usage_page", "lost", 'embeddings result 2: "input_tokens": -<n>',
          lambda s: edit_page(s, EMBEDDINGS, set_result(2, input_tokens=lambda n: -n)), {EMBEDDINGS: (2, 1, 0, 1)},
          (("openai/usage/embeddings", EMBEDDINGS, 2, "input_tokens is not a non-negative 64-bit integer"),),
          requests=-67),
    Fault("page_without_data_key", "lost", "usage page 2 with its 'data' key renamed 'buckets'",
          page_without_data, {USAGE_2: (1, 0, 0, 1)},
          (("openai/usage/completions", USAGE_2, None, "page has no 'data' key"),), requests=-796),
    Fault("cost_in_another_currency", "lost", 'cost result 11 ("web search tool calls", 0.16): "currency": "eur"',
          lambda s: edit_page(s, COSTS, set_result(11, amount={"value": Decimal("0.16"), "currency": "eur"})),
          {COSTS: (22, 21, 0, 1)}, (("openai/costs", COSTS, 11, "currency 'eur' is not USD"),),
          invoice=Decimal("-0.16"), check=check_non_token_line_gone),
    # ---- run "refused": more lines that cannot be trusted, rejected with a reason
    Fault("negative_token_count", "refused", 'line 20: "gen_ai.usage.output_tokens": -5',
          lambda s: edit_line(s, APP_1, 20, with_fields(gen_ai__usage__output_tokens=-5)), {APP_1: (417, 415, 0, 2)},
          (("app_logs", APP_1, 20, "negative token count"),), calls=-1),
    Fault("absurd_token_count", "refused", 'line 30: "gen_ai.usage.input_tokens": 10^14',
          lambda s: edit_line(s, APP_2, 30, with_fields(gen_ai__usage__input_tokens=10**14)), {APP_2: (442, 441, 0, 1)},
          (("app_logs", APP_2, 30,
            "count above 10000000000000 in one record, more than any day could hold (DARKCOMPUTE_MAX_RECORD_TOKENS)"),),
          calls=-1),
    Fault("timestamp_without_time_zone", "refused", 'line 9: "timestamp": "2026-11-02T00:32:58.824" (no Z, no offset)',
          lambda s: edit_line(s, WORKER_1, 9, with_fields(timestamp=lambda t: t.removesuffix("Z"))),
          {WORKER_1: (467, 284, 181, 2)},
          (("worker_logs", WORKER_1, 9, "timestamp without a time zone"),), calls=-1),
    Fault("ten_mib_garbage_line", "refused", "line 10 replaced by 10 MiB of 'A' (no JSON)",
          garbage_line, {WORKER_2: (439, 260, 178, 1)},
          (("worker_logs", WORKER_2, 10, "invalid JSON"),), calls=-1, check=check_raw_is_its_length),
    Fault("empty_api_page", "refused", "a 0-byte usage page-003.json added",
          empty_file(f"openai/usage/completions/{DAY}/page-003.json"),
          {f"openai/usage/completions/{DAY}/page-003.json": (1, 0, 0, 1)},
          (("openai/usage/completions", f"openai/usage/completions/{DAY}/page-003.json", None, "not valid JSON"),),
          check=check_whole_file_raw),
    # ---- run "harmless": valid input in an unusual shape; nothing may change
    Fault("crlf_line_endings", "harmless", "app-01.jsonl with CRLF line endings",
          crlf, {APP_1: (417, 416, 0, 1)}, (), same_records=True, same_marts=True),
    Fault("byte_order_mark", "harmless", "app-02.jsonl starting with a UTF-8 BOM",
          with_bom(APP_2), {APP_2: (442, 442, 0, 0)}, (), same_records=True, same_marts=True),
    Fault("timestamp_with_offset", "harmless",
          'line 10: "timestamp" written "2026-11-01T19:33:01.298-05:00" (same instant, other local day)',
          lambda s: edit_line(s, WORKER_1, 10, with_fields(timestamp=in_utc_minus_5)), {WORKER_1: (467, 285, 181, 1)},
          (), same_records=True, same_marts=True, check=check_offset_converted),
    Fault("unknown_fields_in_a_log_line", "harmless", "line 6: new keys, a nested object among them",
          lambda s: edit_line(s, WORKER_2, 6, with_fields(**{"gen_ai__usage__audio_tokens": 12,
                                                             "vendor__trace": {"spans": [1, 2], "ok": True}})),
          {WORKER_2: (439, 261, 178, 0)}, (), same_records=True, same_marts=True),
    Fault("unknown_fields_in_a_usage_page", "harmless", "new keys on the page, every bucket and every result",
          page_with_unknown_fields, {USAGE_1: (47, 47, 0, 0)}, (), same_records=True, same_marts=True),
    Fault("byte_order_mark_on_a_cost_page", "harmless", "the cost page starting with a UTF-8 BOM",
          with_bom(COSTS), {COSTS: (22, 22, 0, 0)}, (), same_records=True, same_marts=True),
    Fault("empty_log_file", "harmless", "a 0-byte app-03.jsonl added",
          empty_file(f"app_logs/{DAY}/app-03.jsonl"), {f"app_logs/{DAY}/app-03.jsonl": (0, 0, 0, 0)}, (),
          same_records=True, same_marts=True),
    # ---- run "repeated": a 10 MiB record, and calls delivered twice: each counts once
    Fault("ten_mib_record_line", "repeated", 'line 30 with a 10 MiB "gen_ai.prompt" added (a prompt logged by mistake)',
          lambda s: edit_line(s, APP_1, 30, with_fields(gen_ai__prompt="x" * TEN_MIB)), {APP_1: (417, 416, 0, 1)},
          (), same_records=True, same_marts=True, check=check_big_record),
    Fault("duplicate_log_file_same_bytes", "repeated", "app-02.jsonl delivered again as 'app-02 (1).jsonl'",
          copy_of(APP_2, APP_2_COPY), {APP_2: None, APP_2_COPY: None}, (), same_marts=True,
          check=read_under_both_names(APP_2, APP_2_COPY)),
    Fault("duplicate_api_page_same_bytes", "repeated", "usage page-002.json delivered again as page-002-retry.json",
          copy_of(USAGE_2, USAGE_2_COPY), {USAGE_2: None, USAGE_2_COPY: None}, (), same_marts=True,
          check=read_under_both_names(USAGE_2, USAGE_2_COPY)),
    Fault("duplicate_log_file_recompressed", "repeated",
          "worker-02's lines delivered again, gzipped anew (other bytes), as worker-02.redelivered.jsonl.gz",
          copy_of(WORKER_2, WORKER_2_COPY), {WORKER_2_COPY: (439, 261, 178, 0)}, (), same_marts=True),
    Fault("lines_sent_again_by_the_shipper", "repeated",
          "lines 41 (no gen_ai.response.id) and 300 (with one) of worker-01.jsonl.gz appended again",
          lines_sent_again, {WORKER_1: (469, 287, 181, 1)}, (), same_marts=True),
]


# ---------------------------------------------------------------------------------------------
# Running and reading a reconciliation

HASHES = ("line_md5", "file_sha256")


@dataclass
class Outcome:
    code: int
    files: dict[str, dict]  # ingest_files rows of the delivery day, by file
    rejects: list[dict]  # rejected_records rows of the delivery day
    marts: dict[str, list[tuple]]  # both marts, ordered, reconciled_at left out
    columns: list[str]  # the columns of fct_spend_reconciliation's rows in `marts`
    bronze: dict[str, list[dict]]  # the delivery day's bronze rows, by source file


def reconcile(root: Path, source: Path) -> Outcome:
    lake, warehouse = root / "lake", root / "warehouse.duckdb"
    code = main(["reconcile", "--date", DAY, "--quiet", "--source", str(source), "--lake", str(lake),
                 "--warehouse", str(warehouse)])
    con = duckdb.connect(str(warehouse), read_only=True)
    day = {"day": DAY}
    try:
        files = con.sql("select * from ingest_files where delivery_date = $day", params=day).to_arrow_table()
        rejects = con.sql("select source, file, line, reason, raw from rejected_records "
                          "where delivery_date = $day order by all", params=day).to_arrow_table()
        recon = con.execute("select * exclude (reconciled_at) from fct_spend_reconciliation "
                            "where usage_date = $day order by all", day)
        columns = [d[0] for d in recon.description]
        marts = {"fct_spend_reconciliation": recon.fetchall()}
        marts["fct_dark_compute"] = con.execute(
            "select * from fct_dark_compute where usage_date = $day order by all", day).fetchall()
    finally:
        con.close()
    bronze: dict[str, list[dict]] = {}
    for table in ("app_calls", "worker_calls", "openai_usage", "openai_costs"):
        path = lake / "bronze" / table / f"date={DAY}" / "data.parquet"
        for row in pq.read_table(path).to_pylist():
            bronze.setdefault(row["source_file"], []).append(row)
    return Outcome(code, {r["file"]: r for r in files.to_pylist()}, rejects.to_pylist(), marts, columns, bronze)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """name -> the Outcome of that run (`clean` or a `Fault.run`), each reconciled once, on demand."""
    done: dict[str, Outcome] = {}

    def get(name: str) -> Outcome:
        if name not in done:
            root = tmp_path_factory.mktemp(name)
            shutil.copytree(SAMPLES, root / "sources")
            for fault in FAULTS:
                if fault.run == name:
                    fault.inject(root / "sources")
            done[name] = reconcile(root, root / "sources")
        return done[name]

    with pytest.MonkeyPatch.context() as mp:
        for name in (*ENV, "DAGSTER_HOME", "OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY"):
            mp.delenv(name, raising=False)
        for name in ENV:  # `reconcile` sets them; restored when the module is done
            mp.setenv(name, "")
        yield get


def counts(row: dict) -> Counts:
    return row["lines_read"], row["records"], row["skipped"], row["rejected"]


def strip(rows: list[dict], *also: str) -> list[dict]:
    """Bronze rows without their lineage hashes (which change with the bytes, not the content)."""
    return [{k: v for k, v in r.items() if k not in HASHES + also} for r in rows]


def reject_keys(outcome: Outcome, files) -> Counter:
    return Counter((r["source"], r["file"], r["line"], r["reason"]) for r in outcome.rejects if r["file"] in files)


def column(outcome: Outcome, name: str) -> list:
    i = outcome.columns.index(name)
    return [row[i] for row in outcome.marts["fct_spend_reconciliation"]]


def logged_calls(outcome: Outcome) -> int:
    return sum(column(outcome, "logged_calls"))


def provider_requests(outcome: Outcome) -> int:
    return sum(column(outcome, "provider_requests"))


def invoice(outcome: Outcome) -> Decimal:
    return sum(column(outcome, "invoice_cost_usd"), Decimal(0))


def non_token(outcome: Outcome) -> Decimal:
    return sum(column(outcome, "non_token_cost_usd"), Decimal(0))


def identity_gaps(outcome: Outcome) -> list[tuple]:
    parts = ("user_cost_usd", "background_cost_usd", "retry_cost_usd", "unlogged_cost_usd", "non_token_cost_usd")
    rows = zip(column(outcome, "invoice_cost_usd"), *(column(outcome, p) for p in parts), strict=True)
    return [row for row in rows if row[0] != sum(row[1:], Decimal(0))]


# ---------------------------------------------------------------------------------------------
# The tests


def test_faults_that_share_a_run_break_different_files():
    """Per-file counts stay exact only if no two faults of a run touch one file."""
    for run in {f.run for f in FAULTS}:
        keys = [key for f in FAULTS if f.run == run for key in f.files]
        assert len(keys) == len(set(keys)), run


def test_the_clean_day_is_what_the_matrix_compares_with(outcomes):
    clean = outcomes("clean")
    assert clean.code == 0
    assert {f: counts(r) for f, r in clean.files.items()} == {
        APP_1: (417, 416, 0, 1), APP_2: (442, 442, 0, 0), WORKER_1: (467, 285, 181, 1), WORKER_2: (439, 261, 178, 0),
        USAGE_1: (47, 47, 0, 0), USAGE_2: (52, 52, 0, 0), EMBEDDINGS: (2, 2, 0, 0), COSTS: (22, 22, 0, 0),
    }
    assert [(r["source"], r["file"], r["line"]) for r in clean.rejects] == [
        ("app_logs", APP_1, 359), ("worker_logs", WORKER_1, 104)]
    assert logged_calls(clean) == 1403
    assert provider_requests(clean) == 1490
    assert invoice(clean) == Decimal("6.509199690000")
    assert identity_gaps(clean) == []


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault(fault: Fault, outcomes):
    clean, run = outcomes("clean"), outcomes(fault.run)
    together = [f for f in FAULTS if f.run == fault.run]
    touched = {key for f in together for key in f.files} | {key for f in together for _, key, _, _ in f.rejects}

    # the run completed; every file's lines add up; the identity holds on every row
    assert run.code == 0
    assert [f for f, r in run.files.items() if r["lines_read"] != r["records"] + r["skipped"] + r["rejected"]] == []
    assert identity_gaps(run) == []

    # the broken file: its exact counts, and exactly that many records landed
    for key, expected in fault.files.items():
        if expected is None:  # touched, checked by `fault.check`
            continue
        if key in clean.files:  # the fault was injected
            assert run.files[key]["sha256"] != clean.files[key]["sha256"]
        assert counts(run.files[key]) == expected
        assert len(run.bronze.get(key, [])) == expected[1]
    if fault.same_records:
        for key in fault.files:  # (the lineage hashes aside)
            assert strip(run.bronze.get(key, [])) == strip(clean.bronze.get(key, []))

    # the files no fault of this run touched are as in the clean run
    assert {f: counts(r) for f, r in run.files.items() if f not in touched} == {
        f: counts(r) for f, r in clean.files.items() if f not in touched}

    # the rejected rows it added (and none of the clean run's went missing)
    mine = set(fault.files) | {key for _, key, _, _ in fault.rejects}
    added = reject_keys(run, mine) - reject_keys(clean, mine)
    assert reject_keys(clean, mine) - reject_keys(run, mine) == Counter()
    assert sorted((s, f, line) for s, f, line, _ in added.elements()) == sorted(
        (s, f, line) for s, f, line, _ in fault.rejects)
    for source, key, line, reason in fault.rejects:
        assert any(reason in r for s, f, n, r in added if (s, f, n) == (source, key, line)), (key, line, reason)

    # the day's totals move by exactly what the run's faults account for
    assert len(run.rejects) - len(clean.rejects) == sum(len(f.rejects) for f in together)
    assert logged_calls(run) - logged_calls(clean) == sum(f.calls for f in together)
    assert provider_requests(run) - provider_requests(clean) == sum(f.requests for f in together)
    assert invoice(run) - invoice(clean) == sum((f.invoice for f in together), Decimal(0))
    if all(f.same_marts for f in together):
        assert run.marts == clean.marts
    if fault.check:
        fault.check(clean, run)


def test_a_file_delivered_twice_leaves_a_trace_under_both_names(outcomes):
    run = outcomes("repeated")
    assert {APP_2, APP_2_COPY} <= set(run.files)
    assert {USAGE_2, USAGE_2_COPY} <= set(run.files)
