"""The reconciliation of a simulated world reports the split the simulator planted.

The simulator prices true traffic at list prices and writes what a perfect reconciliation of its
logs must report. Invoices must match to the cent; every (day, provider, job type) within 0.01%
(only picodollar rounding may differ).
"""

import gzip
import json
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

import duckdb
import pytest

import pipelines.simulate as simulate_package
from pipelines.cli import main
from pipelines.simulate import simulate

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out

START = date(2026, 10, 5)


@pytest.fixture(scope="module", params=["one shard", "three shards", "litellm and job aggregates"])
def reconciled(request, tmp_path_factory):
    """The world as tests write it, and as benches write big days: in shards of calls, each
    logging into its own gzipped, rotated files (three shards of ~1,333 calls here); and a world
    where 30% of the first attempts go through a LiteLLM proxy and worker jobs log one aggregate
    record per job and cell."""
    root = tmp_path_factory.mktemp("world")
    if request.param == "one shard":
        simulate(root / "world", START, 2, calls_per_day=4000, seed=20261005)
    elif request.param == "litellm and job aggregates":
        simulate(root / "world", START, 2, calls_per_day=4000, seed=20261005, litellm_share=0.3, aggregate_jobs=True)
        app = root / "world" / "sources" / "app_logs" / "2026-10-05"
        text = "".join(p.read_text() for p in sorted(app.iterdir()))
        assert text.count('"call_type":') > 300  # LiteLLM payloads among the app lines
        worker = root / "world" / "sources" / "worker_logs" / "2026-10-05"
        counts = [int(n) for p in worker.iterdir() for n in re.findall(rb'"request_count":(\d+)', gzip.decompress(p.read_bytes()))]
        assert len(counts) > 100 and sum(counts) > 2 * len(counts)  # jobs of many calls on one line
    else:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(simulate_package, "SHARD_CALLS", 1500)
            simulate(root / "world", START, 2, calls_per_day=4000, seed=20261005, gzip_app_logs=True,
                     max_log_file_bytes=200_000)
        app_files = sorted(p.name for p in (root / "world" / "sources" / "app_logs" / "2026-10-05").iterdir())
        assert app_files[-1].startswith("app-06-"), app_files  # each shard's two servers log apart
    code = main(["reconcile", "--date", "2026-10-05", "--to", "2026-10-06", "--quiet",
                 "--source", str(root / "world" / "sources"), "--lake", str(root / "lake"),
                 "--warehouse", str(root / "warehouse.duckdb")])
    truth = json.loads((root / "world" / "ground_truth.json").read_text())["days"]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    yield code, truth, con
    con.close()


def test_run_succeeds_and_reconciles_both_days(reconciled):
    code, truth, con = reconciled
    assert code == 0
    days = con.execute("select distinct usage_date::varchar from fct_spend_reconciliation order by 1").fetchall()
    assert [d for (d,) in days] == sorted(truth)
    statuses = {s for (s,) in con.execute("select distinct status from fct_spend_reconciliation").fetchall()}
    assert statuses == {"final", "estimated"}  # estimated: Anthropic Priority Tier, priced from the catalog
    providers = {p for (p,) in con.execute("select distinct provider from fct_spend_reconciliation").fetchall()}
    assert providers == {"openai", "anthropic", "aws.bedrock"}
    for day, by_provider in truth.items():  # about 4,000 billed requests a day, however generated
        assert 3800 <= sum(v["provider_requests"] for v in by_provider.values()) <= 4200, day


def test_invoice_and_user_spend_match_to_the_cent(reconciled):
    _, truth, con = reconciled
    got = {
        (str(day), provider): (invoice, user)
        for day, provider, invoice, user in con.execute(
            "select usage_date, provider, sum(invoice_cost_usd), sum(user_cost_usd) "
            "from fct_spend_reconciliation group by all").fetchall()
    }
    expected = {(day, p): (Decimal(v["invoice_usd"]), Decimal(v["user_usd"]))
                for day, providers in truth.items() for p, v in providers.items()}
    assert got.keys() == expected.keys()
    for key, (invoice, user) in expected.items():
        assert got[key][0] == invoice, key  # the invoice is read, not estimated: exact
        assert abs(got[key][1] - user) < Decimal("0.005"), key


def test_dark_spend_by_job_type_matches_within_a_hundredth_of_a_percent(reconciled):
    _, truth, con = reconciled
    got = defaultdict(Decimal)
    for day, provider, job_type, cost in con.execute(
            "select usage_date, provider, job_type, sum(cost_usd) from fct_dark_compute group by all").fetchall():
        got[(str(day), provider, job_type)] += cost
    checked = 0
    for day, providers in truth.items():
        for provider, values in providers.items():
            for job_type, amount in values["dark_usd_by_job_type"].items():
                expected = Decimal(amount)
                if expected < Decimal("0.01"):
                    continue
                checked += 1
                assert abs(got[(day, provider, job_type)] - expected) <= expected * Decimal("0.0001"), (
                    day, provider, job_type, got[(day, provider, job_type)], expected)
    assert checked >= 2 * 8  # five job types, retries and __unlogged__ on each day
    truth_types = {(d, p, j) for d, ps in truth.items() for p, v in ps.items() for j in v["dark_usd_by_job_type"]}
    assert set(got) <= truth_types  # nothing reconciled under a job type the world did not have


def test_logged_calls_count_every_request_an_aggregate_stands_for(reconciled):
    """OpenAI and Anthropic calls are counted from the logs alone (Bedrock adds the invocations its
    requestMetadata attributes), whether a job logged each call or one aggregate record."""
    _, truth, con = reconciled
    got = {(str(d), p): n for d, p, n in con.execute(
        "select usage_date, provider, sum(logged_calls) from fct_spend_reconciliation group by all").fetchall()}
    for day, providers in truth.items():
        for provider in ("openai", "anthropic"):
            assert got[(day, provider)] == providers[provider]["logged_calls"], (day, provider)
