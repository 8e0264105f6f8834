"""Hostile sources, end to end: a delivery that tries to make darkcompute read outside its source
root, or keep prompt text, reconciled by `darkcompute reconcile --date 2026-11-02` like the fault
matrix (`tests/test_fault_matrix.py`, whose helpers and clean-day figures this reuses).

Into one copy of the committed samples go: links to a file holding planted secrets outside the
root (as `env.jsonl -> /proc/self/environ` would), to `/etc/passwd`, to a folder outside the root,
to a page outside the root and to a file inside the root; a FIFO; a log file named with a
backslash; and rejected lines (negative tokens, an unknown provider, truncated JSON, invalid
UTF-8, a page result) that carry a prompt marker outside the contract's fields. The run must exit
0, count every refused entry as a whole-file rejected row, reconcile the backslash file, and no
byte it writes (lake, warehouse, DAGSTER_HOME), decoded or not, may hold a secret or the marker.
"""

import json
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from .test_fault_matrix import (
    APP_1,
    APP_2,
    DAY,
    ENV,
    SAMPLES,
    USAGE_1,
    WORKER_2,
    counts,
    edit_line,
    edit_page,
    identity_gaps,
    invoice,
    logged_calls,
    provider_requests,
    reconcile,
    set_result,
    with_fields,
)

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

SECRETS = [b"sk-admin-PLANTED-7f3a9c0e", b"wJalrXUtnFEMI-PLANTED-AWS-SECRET"]
MARKER = "PROMPT-MARKER-5d1e88"  # prompt text in keys outside the contract

ENV_LINK = f"app_logs/{DAY}/env.jsonl"  # -> a copy of a process environment, outside the root
PASSWD_LINK = f"app_logs/{DAY}/passwd.jsonl"  # -> /etc/passwd
INSIDE_LINK = f"app_logs/{DAY}/app-02-link.jsonl"  # -> app-02.jsonl, in the same folder
FIFO = f"app_logs/{DAY}/pipe.jsonl"
FOLDER_LINK = f"worker_logs/{DAY}/more"  # -> a folder of log files outside the root
PAGE_LINK = f"openai/costs/{DAY}/page-009.json"  # -> a cost page outside the root
BACKSLASH = f"app_logs/{DAY}/back\\slash.jsonl"  # app-02.jsonl again, under an odd but legal name


def plant(source: Path, outside: Path) -> None:
    outside.mkdir()
    environ = outside / "environ"
    environ.write_bytes(b"OPENAI_ADMIN_KEY=" + SECRETS[0] + b"\0AWS_SECRET_ACCESS_KEY=" + SECRETS[1] + b"\0")
    (outside / "logs").mkdir()
    line = json.loads((source / APP_2).read_bytes().split(b"\n")[0])
    (outside / "logs" / "w.jsonl").write_text(json.dumps(line | {"user_id": SECRETS[0].decode()}) + "\n")
    (outside / "page.json").write_text(json.dumps({"object": "page", "data": [], "note": SECRETS[1].decode()}))

    os.symlink(environ, source / ENV_LINK)
    os.symlink("/etc/passwd", source / PASSWD_LINK)
    os.symlink("app-02.jsonl", source / INSIDE_LINK)
    os.mkfifo(source / FIFO)
    os.symlink(outside / "logs", source / FOLDER_LINK)
    os.symlink(outside / "page.json", source / PAGE_LINK)

    # rejected lines with prompt text beside the contract's fields
    edit_line(source, APP_1, 20, with_fields(gen_ai__usage__output_tokens=-5, gen_ai__prompt=MARKER))
    edit_line(source, WORKER_2, 6, with_fields(
        gen_ai__provider__name="mistral", gen_ai__input__messages=[{"role": "user", "content": MARKER}]))
    edit_line(source, APP_1, 40, lambda line: with_prompt_first(line)[:-40])  # truncated JSON
    edit_line(source, APP_1, 50, lambda line: with_prompt_first(line).replace(
        b'"tenant_id":"', b'"tenant_id":"\xc3\x28'))  # invalid UTF-8
    edit_page(source, USAGE_1, set_result(3, output_tokens=-1, note=MARKER))


def with_prompt_first(line: bytes) -> bytes:
    return b'{"gen_ai.prompt":"' + MARKER.encode() + b'",' + line[1:]


def leaks(root: Path) -> list[str]:
    """Every place under `root` (but its `sources` and `outside`) that holds a secret or the
    marker: raw bytes of every file, and the decoded values of every Parquet file and of every
    table of every DuckDB file (both compress strings, so their bytes alone prove nothing)."""
    needles = [*SECRETS, MARKER.encode()]
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.relative_to(root).parts[0] in ("sources", "outside"):
            continue
        texts = [path.read_bytes()]
        if path.suffix == ".parquet":
            texts.append(repr(pq.read_table(path).to_pylist()).encode())
        if path.suffix == ".duckdb":
            con = duckdb.connect(str(path), read_only=True)
            try:
                for (table,) in con.sql("select table_name from information_schema.tables").fetchall():
                    texts.append(repr(con.sql(f'select * from "{table}"').fetchall()).encode())
            finally:
                con.close()
        found += [f"{path.relative_to(root)}: {needle!r}" for needle in needles if any(needle in t for t in texts)]
    return found


def run(tmp_path_factory, name: str, inject) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp(name)
    shutil.copytree(SAMPLES, root / "sources")
    inject(root)
    (root / "dagster_home").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for env in (*ENV, "OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY"):
            mp.delenv(env, raising=False)
        for env in ENV:
            mp.setenv(env, "")
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        return root, reconcile(root, root / "sources")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The links, the FIFO and the rejected lines with prompt text, in one run."""
    return run(tmp_path_factory, "hostile", lambda root: plant(root / "sources", root / "outside"))


@pytest.fixture(scope="module")
def backslash(tmp_path_factory):
    """app-02.jsonl delivered again as `back\\slash.jsonl` (a run of its own: on failure it fails the day)."""
    return run(tmp_path_factory, "backslash",
               lambda root: shutil.copyfile(root / "sources" / APP_2, root / "sources" / BACKSLASH))


def test_links_and_special_files_are_refused_counted_and_never_read(hostile):
    _, run = hostile
    assert run.code == 0
    refused = {ENV_LINK: "symbolic link: not followed", PASSWD_LINK: "symbolic link: not followed",
               INSIDE_LINK: "symbolic link: not followed", FOLDER_LINK: "symbolic link: not followed",
               PAGE_LINK: "symbolic link: not followed", FIFO: "not a regular file: not read"}
    for key in refused:  # one whole-file rejected unit each, with no content and no hash
        assert counts(run.files[key]) == (1, 0, 0, 1)
        assert (run.files[key]["sha256"], run.files[key]["bytes"]) == (None, None)
    got = {r["file"]: (r["line"], r["reason"], r["raw"]) for r in run.rejects if r["file"] in refused}
    assert got == {key: (None, reason, "") for key, reason in refused.items()}
    assert not any(f.startswith(FOLDER_LINK + "/") for f in run.files)  # the linked folder was not walked


def test_a_file_name_with_a_backslash_reconciles(backslash):
    _, run = backslash
    assert run.code == 0
    assert counts(run.files[BACKSLASH]) == counts(run.files[APP_2]) == (442, 442, 0, 0)
    assert len(run.bronze[BACKSLASH]) == 442
    # the same content under two names counts once: the clean day's figures (test_fault_matrix)
    assert (logged_calls(run), provider_requests(run), str(invoice(run))) == (1403, 1490, "6.509199690000")


def test_the_day_moves_by_exactly_the_rejected_lines(hostile):
    _, run = hostile
    # the clean day (test_fault_matrix): 1403 logged calls, 1490 requests, $6.509199690000;
    # four log lines rejected; the usage result rejected counted 8 requests; the links add nothing
    assert logged_calls(run) == 1403 - 4
    assert provider_requests(run) == 1490 - 8
    assert str(invoice(run)) == "6.509199690000"
    assert identity_gaps(run) == []
    assert counts(run.files[APP_1]) == (417, 413, 0, 4)
    reasons = {(r["file"], r["line"]): r["reason"] for r in run.rejects}
    assert reasons[(APP_1, 20)] == "negative token count"
    assert reasons[(WORKER_2, 6)] == "unknown provider: mistral"
    assert reasons[(APP_1, 40)].startswith("invalid JSON")
    assert reasons[(APP_1, 50)] == "invalid UTF-8"


def test_rejected_lines_keep_their_shape_and_contract_fields_never_their_text(hostile):
    root, run = hostile
    lines = (root / "sources" / APP_1).read_bytes().split(b"\n")
    raw = {(r["file"], r["line"]): r["raw"] for r in run.rejects}
    negative = json.loads(raw[(APP_1, 20)])
    assert negative["gen_ai.prompt"] == "VARCHAR"  # the key and its type, not its value
    assert negative["gen_ai.usage.output_tokens"] == -5
    assert negative["request_id"].startswith("req_")
    provider = json.loads(raw[(WORKER_2, 6)])
    assert provider["gen_ai.input.messages"] == [{"role": "VARCHAR", "content": "VARCHAR"}]
    assert provider["gen_ai.provider.name"] == "mistral"
    assert MARKER.encode() in lines[39] and MARKER.encode() in lines[49]
    assert json.loads(raw[(APP_1, 40)]) == {"bytes": len(lines[39]) + 1}  # not JSON: its length only
    assert json.loads(raw[(APP_1, 50)]) == {"bytes": len(lines[49]) + 1}  # not UTF-8: its length only
    page = json.loads(raw[(USAGE_1, 3)])
    assert (page["note"], page["output_tokens"]) == ("VARCHAR", -1)


def test_no_secret_and_no_prompt_text_is_written_anywhere(hostile):
    root, _ = hostile
    assert leaks(root) == []
    assert list((root / "dagster_home").rglob("*"))  # the run did write there: the scan covered it
    assert (root / "warehouse.duckdb").exists() and list((root / "lake").rglob("*.parquet"))
