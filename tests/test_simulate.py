"""The simulator writes a consistent world: exports, logs and a truth that agree to the cent, exactly."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.lib.prices import canonical_model, catalog_rates
from pipelines.simulate import simulate

START = date(2026, 11, 1)
DAYS = 2
CALLS = 1500
SEED = 7
DAY_KEYS = [(START + timedelta(days=i)).isoformat() for i in range(DAYS)]
JOB_TYPES = (
    "ingest_summarization",
    "session_summarization",
    "proactive_suggestions",
    "embedding_regeneration",
    "llm_judge_evaluation",
)
LINE_ITEM = re.compile(r"^(?P<model>.+), (?P<kind>input|cached input|output)$")
TOKEN_CLASS = {"input": "uncached_input", "cached input": "cache_read", "output": "output"}


def load(path: Path):
    return json.loads(path.read_text(), parse_float=Decimal)


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def log_lines(sources: Path) -> list[tuple[str, str, str]]:
    """(log kind, folder day, raw line) for every line of every app and worker log file."""
    out = []
    for kind in ("app_logs", "worker_logs"):
        for path in sorted((sources / kind).glob("*/*")):
            data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
            assert data.endswith(b"\n")
            out += [(kind, path.parent.name, line) for line in data.decode().splitlines()]
    return out


def parsed(line: str) -> dict | None:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    summary = simulate(out, START, DAYS, CALLS, SEED)
    return out, summary, load(out / "ground_truth.json")


# ------------------------------------------------------------------------------ determinism
def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    out, summary, _ = world
    again = simulate(tmp_path / "again", START, DAYS, CALLS, SEED)
    assert tree(tmp_path / "again") == tree(out)
    assert again == {**summary, "out": str(tmp_path / "again")}

    simulate(tmp_path / "other", START, DAYS, CALLS, SEED + 1)
    first, other = tree(out), tree(tmp_path / "other")
    assert first["ground_truth.json"] != other["ground_truth.json"]
    shared = set(first) & set(other)
    assert sum(first[k] != other[k] for k in shared) >= len(shared) - 1  # ~every file differs


def test_layout(world):
    out, summary, truth = world
    sources = out / "sources"
    for day in DAY_KEYS:
        assert sorted(p.name for p in (sources / "openai/usage/completions" / day).iterdir()) == [
            "page-001.json", "page-002.json"]
        assert (sources / "openai/usage/embeddings" / day / "page-001.json").is_file()
        assert (sources / "openai/costs" / day / "page-001.json").is_file()
        assert sorted(p.name for p in (sources / "app_logs" / day).iterdir()) == ["app-01.jsonl", "app-02.jsonl"]
        assert sorted(p.name for p in (sources / "worker_logs" / day).iterdir()) == [
            "worker-01.jsonl.gz", "worker-02.jsonl.gz"]
    # late lines of the last day land in the folder after it; no exports for that day
    after = (START + timedelta(days=DAYS)).isoformat()
    assert any((sources / kind / after).is_dir() for kind in ("app_logs", "worker_logs"))
    assert not (sources / "openai/costs" / after).exists()
    assert sorted(truth["days"]) == DAY_KEYS
    assert summary["files_written"] == len(tree(out))
    for day in DAY_KEYS:
        assert summary["days"][day]["invoice_usd"] == truth["days"][day]["openai"]["invoice_usd"]
        assert 0.85 * CALLS < summary["days"][day]["provider_requests"] < 1.1 * CALLS


# ------------------------------------------------------------------------------ exports vs truth
def test_costs_add_up_to_the_invoice_exactly(world):
    out, _, truth = world
    for day in DAY_KEYS:
        t = truth["days"][day]["openai"]
        page = load(out / "sources/openai/costs" / day / "page-001.json")
        assert page["object"] == "page" and page["has_more"] is False and page["next_page"] is None
        [bucket] = page["data"]
        assert bucket["end_time"] - bucket["start_time"] == 86_400
        assert datetime.fromtimestamp(bucket["start_time"], tz=timezone.utc).date().isoformat() == day
        amounts = [r["amount"]["value"] for r in bucket["results"]]
        assert all(isinstance(a, Decimal) for a in amounts)  # written as exact decimal literals
        total = sum(amounts, Decimal(0))
        invoice = Decimal(t["invoice_usd"])
        assert total == invoice
        assert total.quantize(Decimal("0.01")) == invoice.quantize(Decimal("0.01"))

        user = Decimal(t["user_usd"])
        dark = sum((Decimal(v) for v in t["dark_usd_by_job_type"].values()), Decimal(0))
        non_token = Decimal(t["non_token_usd"])
        assert invoice == user + dark + non_token
        assert non_token > 0 and user > 0
        assert sum((Decimal(v) for v in t["unlogged_by_origin"].values()), Decimal(0)) == Decimal(
            t["dark_usd_by_job_type"]["__unlogged__"])

        non_token_lines = [r for r in bucket["results"] if r["quantity"] is None]
        assert [(r["line_item"], r["project_id"]) for r in non_token_lines] == [("web search tool calls", "proj_app")]
        assert non_token_lines[0]["amount"]["value"] == non_token
        for r in bucket["results"]:
            assert r["object"] == "organization.costs.result" and r["amount"]["currency"] == "usd"
            if r["quantity"] is None:
                continue
            m = LINE_ITEM.match(r["line_item"])
            rate = getattr(catalog_rates("openai", m["model"], date.fromisoformat(day)), TOKEN_CLASS[m["kind"]])
            assert r["quantity_unit"] == "tokens" and r["quantity"] > 0
            assert r["amount"]["value"] == rate * r["quantity"] / 1_000_000


def test_usage_pages(world):
    out, _, truth = world
    for day in DAY_KEYS:
        t = truth["days"][day]["openai"]
        folder = out / "sources/openai/usage/completions" / day
        first, second = load(folder / "page-001.json"), load(folder / "page-002.json")
        assert first["has_more"] is True and isinstance(first["next_page"], str)
        assert second["has_more"] is False and second["next_page"] is None
        buckets = first["data"] + second["data"]
        assert len(first["data"]) == len(second["data"]) == 12
        day_start = int(datetime.fromisoformat(day + "T00:00:00+00:00").timestamp())
        assert [b["start_time"] for b in buckets] == [day_start + 3600 * h for h in range(24)]
        assert all(b["end_time"] - b["start_time"] == 3600 for b in buckets)
        requests = 0
        for r in (r for b in buckets for r in b["results"]):
            assert r["object"] == "organization.usage.completions.result"
            assert r["input_tokens"] == r["input_uncached_tokens"] + r["input_cached_tokens"] + r["input_cache_write_tokens"]
            assert r["input_cache_write_tokens"] == 0
            assert r["batch"] is False and r["service_tier"] == "default"
            assert r["user_id"] is None and r["api_key_id"] is None
            requests += r["num_model_requests"]
        [emb] = load(out / "sources/openai/usage/embeddings" / day / "page-001.json")["data"]
        assert emb["end_time"] - emb["start_time"] == 86_400
        assert {r["model"] for r in emb["results"]} == {"text-embedding-3-small"}
        requests += sum(r["num_model_requests"] for r in emb["results"])
        assert requests == t["provider_requests"]


def test_every_job_type_and_the_residual_are_planted(world):
    _, _, truth = world
    for day in DAY_KEYS:
        dark = {k: Decimal(v) for k, v in truth["days"][day]["openai"]["dark_usd_by_job_type"].items()}
        for key in (*JOB_TYPES, "__unlogged__"):
            assert dark.get(key, Decimal(0)) > 0, (day, key)
        assert any(k.startswith("retry:") and v > 0 for k, v in dark.items())
        origins = truth["days"][day]["openai"]["unlogged_by_origin"]
        assert set(origins) == {"non_logging_service", "sdk_retry", "usage_unknown", "corrupt_line"}


# ------------------------------------------------------------------------------ logs vs truth
def test_logged_calls_match_the_log_lines(world):
    out, _, truth = world
    calls, corrupt, unknown, lifecycle, late = Counter(), 0, 0, 0, 0
    for kind, folder, line in log_lines(out / "sources"):
        record = parsed(line)
        if record is None:
            corrupt += 1
            assert line.startswith('{"timestamp":"')
            continue
        assert record["timestamp"].endswith("Z")
        day = record["timestamp"][:10]
        assert folder in (day, (date.fromisoformat(day) + timedelta(days=1)).isoformat())
        late += folder != day
        if "gen_ai.provider.name" not in record:
            assert kind == "worker_logs" and record["event"] in ("job.started", "job.finished")
            assert not any(k.startswith("gen_ai.") for k in record)
            lifecycle += 1
            continue
        calls[day] += 1
        assert record["billing.account"] in ("proj_app", "proj_jobs")
        assert ("job_type" in record) == (kind == "worker_logs")
        if "gen_ai.usage.input_tokens" not in record:
            unknown += 1
            assert "gen_ai.usage.output_tokens" not in record and kind == "app_logs"
    days = {d: truth["days"][d]["openai"] for d in DAY_KEYS}
    assert dict(calls) == {d: t["logged_calls"] for d, t in days.items()}
    assert corrupt == sum(t["corrupt_lines"] for t in days.values()) >= 2 * DAYS
    assert unknown == sum(t["usage_unknown_calls"] for t in days.values()) > 0
    assert lifecycle > 0 and late > 0


def test_lines_sorted_by_timestamp_within_each_file(world):
    out, _, _ = world
    by_file = defaultdict(list)
    for kind in ("app_logs", "worker_logs"):
        for path in sorted((out / "sources" / kind).glob("*/*")):
            data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
            by_file[path] = [line[14:38] for line in data.decode().splitlines()]  # the timestamp text
    for stamps in by_file.values():
        assert stamps == sorted(stamps)


def test_truth_is_what_a_reconciliation_of_the_files_reports(world):
    """Recompute the split from the written files only: per cell and token class, billed tokens and
    dollars from the exports, logged tokens from the logs; the truth must match exactly."""
    out, _, truth = world
    sources = out / "sources"
    for day in DAY_KEYS:
        billed: dict[tuple, int] = defaultdict(int)
        dollars: dict[tuple, Decimal] = defaultdict(Decimal)
        [bucket] = load(sources / "openai/costs" / day / "page-001.json")["data"]
        for r in bucket["results"]:
            if r["quantity"] is not None:
                m = LINE_ITEM.match(r["line_item"])
                cell = (r["project_id"], canonical_model("openai", m["model"]), TOKEN_CLASS[m["kind"]])
                billed[cell] += r["quantity"]
                dollars[cell] += r["amount"]["value"]

        logged: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for _, _, line in log_lines(sources):
            rec = parsed(line)
            if not rec or "gen_ai.provider.name" not in rec or rec["timestamp"][:10] != day:
                continue
            if "gen_ai.usage.input_tokens" not in rec:
                continue  # usage unknown: stays in the residual
            model = canonical_model("openai", rec.get("gen_ai.response.model") or rec["gen_ai.request.model"])
            cached = rec.get("gen_ai.usage.cache_read.input_tokens") or 0
            written = rec.get("gen_ai.usage.cache_creation.input_tokens") or 0
            if rec.get("attempt", 1) >= 2:
                key = "retry:" + (rec.get("job_type") or rec["feature"])
            else:
                key = rec.get("job_type") or "__user__"
            for token_class, tokens in (
                ("uncached_input", rec["gen_ai.usage.input_tokens"] - cached - written),
                ("cache_read", cached),
                ("output", rec["gen_ai.usage.output_tokens"]),
            ):
                if tokens:
                    logged[(rec["billing.account"], model, token_class)][key] += tokens

        split: dict[str, Decimal] = defaultdict(Decimal)
        for cell, tokens in billed.items():
            rate = dollars[cell] / tokens
            shares = logged.pop(cell, {})
            assert sum(shares.values()) <= tokens  # logs never claim more than was billed
            for key, n in shares.items():
                split[key] += n * rate
            split["__unlogged__"] += (tokens - sum(shares.values())) * rate
        assert not logged  # every logged token falls in a billed cell

        t = truth["days"][day]["openai"]
        assert split.pop("__user__") == Decimal(t["user_usd"])
        assert {k: v for k, v in split.items() if v} == {k: Decimal(v) for k, v in t["dark_usd_by_job_type"].items()}
