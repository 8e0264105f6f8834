"""A simulated OpenAI world with voice calls (gpt-realtime, part of each call's tokens audio) still
reports the split the simulator planted: the invoice to the cent, every job type within 0.01%.

`simulate(audio=True)` makes the gpt-4o `chat` calls voice calls on gpt-realtime: 3/5 of each
call's uncached input, half of its cached input and 3/4 of its output are audio tokens, priced at
the catalog's audio rates ($32 / $0.40 / $64 per million, against $4 / $0.40 / $16 for text). The
usage pages carry `input_audio_tokens`, `input_cached_audio_tokens` and `output_audio_tokens`, the
cost pages `gpt-realtime-2025-08-28 audio, input` (cached input, output) lines beside the text
ones; the logs carry no audio counts, so a logged call's tokens take the billed audio share of its
cell (the same part for every call here, up to a token of rounding per call).
"""

import json
from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from pipelines.simulate import simulate

from .test_planted_truth import START

pytestmark = pytest.mark.slow  # dbt builds, Dagster runs, CLI processes or servers: make test-fast leaves it out


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    simulate(root / "world", START, 1, calls_per_day=3000, seed=20261105, providers=("openai",), audio=True)
    code = main(["reconcile", "--date", START.isoformat(), "--quiet", "--as-of", "2026-10-20T04:00:00Z",
                 "--source", str(root / "world" / "sources"), "--lake", str(root / "lake"),
                 "--warehouse", str(root / "warehouse.duckdb")])
    truth = json.loads((root / "world" / "ground_truth.json").read_text())["days"][START.isoformat()]["openai"]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    yield code, truth, con, root
    con.close()


def test_invoice_to_the_cent_and_every_job_type_within_a_hundredth_of_a_percent(reconciled):
    code, truth, con, _ = reconciled
    assert code == 0
    invoice, user, non_token = con.execute(
        "select sum(invoice_cost_usd), sum(user_cost_usd), sum(non_token_cost_usd) from fct_spend_reconciliation"
    ).fetchone()
    assert invoice == Decimal(truth["invoice_usd"])
    assert non_token == Decimal(truth["non_token_usd"])
    assert abs(user - Decimal(truth["user_usd"])) <= Decimal(truth["user_usd"]) * Decimal("0.0001")
    got = dict(con.execute("select job_type, sum(cost_usd) from fct_dark_compute group by all").fetchall())
    expected = {k: Decimal(v) for k, v in truth["dark_usd_by_job_type"].items()}
    assert "retry:chat" in expected  # retried voice calls
    assert got.keys() == expected.keys()
    for job_type, cost in expected.items():
        assert abs(got[job_type] - cost) <= cost * Decimal("0.0001"), (job_type, got[job_type], cost)


def test_the_audio_tokens_are_a_cell_of_their_own_at_the_audio_rates(reconciled):
    _, _, con, root = reconciled
    cells = dict(con.execute(
        "select price_tier, sum(invoice_cost_usd) from fct_spend_reconciliation "
        "where model = 'gpt-realtime-2025-08-28' group by all").fetchall())
    assert cells.keys() == {"standard", "standard+audio"}
    pages = [json.loads(p.read_text()) for p in (root / "world" / "sources" / "openai" / "costs").rglob("*.json")]
    lines = {r["line_item"]: Decimal(str(r["amount"]["value"])) for p in pages for b in p["data"]
             for r in b["results"] if r["line_item"] and r["line_item"].startswith("gpt-realtime")}
    assert cells["standard+audio"] == sum(v for k, v in lines.items() if " audio, " in k)
    assert cells["standard"] == sum(v for k, v in lines.items() if " audio, " not in k)
    assert cells["standard+audio"] > 4 * cells["standard"]  # audio is most of a voice call's price
    assert con.execute("select distinct allocation_basis from fct_spend_reconciliation "
                       "where model = 'gpt-realtime-2025-08-28'").fetchall() == [("cost_line",)]
