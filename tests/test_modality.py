"""Audio and image tokens priced at their own rates, reconciled to the cent (issue 9, "Every
money-changing dimension reaches staging": OpenAI usage, audio and image tokens).

The world of 2026-11-02, by hand. One project (proj_v), one model, gpt-realtime. The Usage API page
(current spec: `input_audio_tokens` is the *uncached* audio input, `input_cached_audio_tokens` the
cached audio, both parts of `input_tokens` / `input_cached_tokens`; `output_audio_tokens` a part of
`output_tokens`) says, over 10 requests:

    input_tokens 100,000 = uncached 80,000 (text 50,000 + audio 30,000) + cached 20,000 (10,000 + 10,000)
    output_tokens 20,000 = text 5,000 + audio 15,000

List prices (genai-prices, gpt-realtime, per million): text $4 input, $0.40 cached, $16 output;
audio $32 input, $0.40 cached, $64 output. At list:

    text   50,000 x $4  = $0.20    10,000 x $0.40 = $0.004   5,000 x $16 = $0.08    ($0.284)
    audio  30,000 x $32 = $0.96    10,000 x $0.40 = $0.004  15,000 x $64 = $0.96    ($1.924)

(at text rates the audio would list at $0.364: the bug this closes). The invoice is 10% below list on
every line ('gpt-realtime, input' ... and 'gpt-realtime audio, input' ...):

    text   $0.18  + $0.0036 + $0.072 = $0.2556      audio  $0.864 + $0.0036 + $0.864 = $1.7316

The logs carry no audio counts. One user call bills a tenth of each class (8,000 uncached, 2,000
cached, 2,000 output tokens), one `voice_agent` job call half (40,000, 10,000, 10,000). A call's
tokens of a class are shared over the text and audio cells in proportion to the billed tokens
(the user call's 8,000 uncached: 5,000 text + 3,000 audio), so each takes the same part of each cell:

    standard        invoice 0.2556   user 0.02556   voice_agent 0.1278   unlogged 0.10224
    standard+audio  invoice 1.7316   user 0.17316   voice_agent 0.8658   unlogged 0.69264
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pyarrow.compute as pc
import pytest

from pipelines.defs.openai.parse import parse_usage_pages
from pipelines.defs.reconcile.model import reconcile_day
from pipelines.lib import sql
from pipelines.lib.prices import catalog_table
from pipelines.lib.store import SourceFile

from .fixtures import DAY, call, cost_page, usage, usage_page, write_day

pytestmark = pytest.mark.slow  # dbt builds: make test-fast leaves it out

D = Decimal
RECONCILED_AT = datetime(2026, 11, 4, 4, 0, tzinfo=timezone.utc)
MODEL = "gpt-realtime-2025-08-28"
RESULT = {
    "input_tokens": 100_000, "input_cached_tokens": 20_000, "input_uncached_tokens": 80_000, "output_tokens": 20_000,
    "input_text_tokens": 50_000, "input_cached_text_tokens": 10_000, "output_text_tokens": 5_000,
    "input_audio_tokens": 30_000, "input_cached_audio_tokens": 10_000, "output_audio_tokens": 15_000,
    "input_image_tokens": 0, "input_cached_image_tokens": 0, "output_image_tokens": 0,
    "num_model_requests": 10, "project_id": "proj_v", "model": MODEL, "batch": False, "service_tier": "default",
}
LINES = [(f"{MODEL}, input", "proj_v", "0.18"), (f"{MODEL}, cached input", "proj_v", "0.0036"),
         (f"{MODEL}, output", "proj_v", "0.072"), (f"{MODEL} audio, input", "proj_v", "0.864"),
         (f"{MODEL} audio, cached input", "proj_v", "0.0036"), (f"{MODEL} audio, output", "proj_v", "0.864")]
LOGGED = dict(gen_ai__request__model="gpt-realtime", billing__account="proj_v")
APP = [call(**usage(10_000, 2_000, cache_read=2_000, feature="voice"), **LOGGED)]
WORKER = [call(**usage(50_000, 10_000, cache_read=10_000, job_type="voice_agent"), **LOGGED)]

COLS = ["price_tier", "invoice_cost_usd", "catalog_cost_usd", "user_cost_usd", "background_cost_usd",
        "unlogged_cost_usd", "provider_requests", "status"]
EXPECTED = [
    ("standard", D("0.2556"), D("0.284"), D("0.02556"), D("0.1278"), D("0.10224"), 10, "final"),
    ("standard+audio", D("1.7316"), D("1.924"), D("0.17316"), D("0.8658"), D("0.69264"), 0, "final"),
]


def reconcile(tmp_path, usage_pages, cost_pages, app=APP, worker=WORKER):
    lake = write_day(tmp_path / "lake", DAY, usage_pages=usage_pages, cost_pages=cost_pages, app_lines=app,
                     worker_lines=worker)
    return reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)


def rows(out, columns=COLS, tier=lambda t: t):
    recon = sorted(out["fct_spend_reconciliation"].to_pylist(), key=lambda r: r["price_tier"])
    for r in recon:  # the identity, per row, to the picodollar
        assert r["invoice_cost_usd"] == (r["user_cost_usd"] + r["background_cost_usd"] + r["retry_cost_usd"]
                                         + r["unlogged_cost_usd"] + r["non_token_cost_usd"]), r
    return [tuple(tier(r[c]) if c == "price_tier" else r[c] for c in columns) for r in recon]


def dark(out) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for r in out["fct_dark_compute"].to_pylist():
        found[r["job_type"]] = found.get(r["job_type"], D(0)) + r["cost_usd"]
    return found


def test_audio_tokens_are_cells_of_their_own_priced_and_matched_to_the_audio_lines(tmp_path):
    out = reconcile(tmp_path, [usage_page(DAY, [RESULT])], [cost_page(DAY, LINES)])
    assert rows(out) == EXPECTED
    assert {r["model"] for r in out["fct_spend_reconciliation"].to_pylist()} == {MODEL}
    assert {r["allocation_basis"] for r in out["fct_spend_reconciliation"].to_pylist()} == {"cost_line"}
    assert dark(out) == {"voice_agent": D("0.9936"), "__unlogged__": D("0.79488")}


def test_cost_export_without_line_items_shares_by_the_audio_rates(tmp_path):
    """Costs grouped by project only: one $1.9872 line, shared over the six cell classes by their
    list cost at their own rates, which gives each class exactly 90% of its list cost."""
    out = reconcile(tmp_path, [usage_page(DAY, [RESULT])], [cost_page(DAY, [(None, "proj_v", "1.9872")])])
    assert rows(out) == EXPECTED
    assert {r["allocation_basis"] for r in out["fct_spend_reconciliation"].to_pylist()} == {"catalog_weights"}


def test_usage_not_grouped_by_tier_keeps_the_audio_cell(tmp_path):
    """Pages grouped by project and model only (no batch, no service_tier): the cells are '__all__'
    and '__all__+audio', and the cost lines roll up to them keeping their modality."""
    out = reconcile(tmp_path, [usage_page(DAY, [{**RESULT, "batch": None, "service_tier": None}])],
                    [cost_page(DAY, LINES)])
    assert [r[0] for r in rows(out)] == ["__all__", "__all__+audio"]
    assert rows(out, tier=lambda t: t.replace("__all__", "standard")) == EXPECTED


def test_cost_lines_without_modality_cover_the_audio_cell(tmp_path):
    """A cost export that folds the audio into the plain lines ('gpt-realtime, input' $1.044 =
    $0.18 + $0.864): each plain line is shared over the text and audio cells of its class by their
    list cost, which again gives 90% of list to each."""
    folded = [(f"{MODEL}, input", "proj_v", "1.044"), (f"{MODEL}, cached input", "proj_v", "0.0072"),
              (f"{MODEL}, output", "proj_v", "0.936")]
    out = reconcile(tmp_path, [usage_page(DAY, [RESULT])], [cost_page(DAY, folded)])
    assert rows(out) == EXPECTED


def test_without_the_cost_export_audio_is_priced_at_the_catalog_audio_rates(tmp_path):
    out = reconcile(tmp_path, [usage_page(DAY, [RESULT])], None)
    # the invoice is the list cost: the user call a tenth, the job half, of each class
    assert rows(out, ["price_tier", "invoice_cost_usd", "user_cost_usd", "background_cost_usd",
                      "unlogged_cost_usd", "status"]) == [
        ("standard", D("0.284"), D("0.0284"), D("0.142"), D("0.1136"), "provisional"),
        ("standard+audio", D("1.924"), D("0.1924"), D("0.962"), D("0.7696"), "provisional"),
    ]


def test_image_tokens_too(tmp_path):
    """gpt-realtime's image input: $5 per million uncached, $0.50 cached. 20,000 of the 50,000 text
    uncached tokens and 4,000 of the 10,000 cached are image tokens instead: text now lists
    30,000 x $4 + 6,000 x $0.40 + 5,000 x $16 = $0.2024, image 20,000 x $5 + 4,000 x $0.50 = $0.102.
    The cost page is grouped by project only ($2.2284 at list: $0.2024 + $0.102 + $1.924)."""
    result = {**RESULT, "input_text_tokens": 30_000, "input_cached_text_tokens": 6_000,
              "input_image_tokens": 20_000, "input_cached_image_tokens": 4_000}
    out = reconcile(tmp_path, [usage_page(DAY, [result])], [cost_page(DAY, [(None, "proj_v", "2.2284")])],
                    app=[], worker=[])
    assert rows(out, ["price_tier", "invoice_cost_usd", "catalog_cost_usd", "unlogged_cost_usd"]) == [
        ("standard", D("0.2024"), D("0.2024"), D("0.2024")),
        ("standard+audio", D("1.924"), D("1.924"), D("1.924")),
        ("standard+image", D("0.102"), D("0.102"), D("0.102")),
    ]


def test_a_page_without_modality_fields_reads_as_all_text(tmp_path):
    """An older page (no audio or image fields): one cell, every token at the text rates."""
    old = {k: v for k, v in RESULT.items() if "audio" not in k and "image" not in k and "text" not in k}
    out = reconcile(tmp_path, [usage_page(DAY, [old])], None, app=[], worker=[])
    # 80,000 x $4 + 20,000 x $0.40 + 20,000 x $16
    assert rows(out, ["price_tier", "invoice_cost_usd"]) == [("standard", D("0.648"))]
    # its cost lines with audio lines: those land on the model's (text) cell of their class, nothing is lost
    out = reconcile(tmp_path / "b", [usage_page(DAY, [old])], [cost_page(DAY, LINES)])
    assert rows(out, ["price_tier", "invoice_cost_usd", "user_cost_usd", "background_cost_usd",
                      "unlogged_cost_usd"]) == [
        ("standard", D("1.9872"), D("0.19872"), D("0.9936"), D("0.79488"))]


def test_modality_parts_larger_than_their_totals_are_rejected():
    bad = [
        {**RESULT, "input_audio_tokens": 80_001},                      # audio + image > uncached input
        {**RESULT, "input_cached_audio_tokens": 20_001},               # > input_cached_tokens
        {**RESULT, "output_audio_tokens": 15_000, "output_image_tokens": 5_001},  # > output_tokens
        RESULT,
    ]
    ingested = parse_usage_pages([SourceFile("openai/usage/completions/2026-11-02/p.json",
                                             usage_page(DAY, bad).encode())],
                                 endpoint="completions", folder_date=DAY)
    assert ingested.records.num_rows == 1
    row = ingested.records.to_pylist()[0]
    assert (row["input_audio_tokens"], row["input_cached_audio_tokens"], row["output_audio_tokens"],
            row["input_image_tokens"]) == (30_000, 10_000, 15_000, 0)
    reasons = sorted(r["reason"] for r in ingested.rejects.to_pylist())
    assert reasons == [
        "input_audio_tokens + input_image_tokens exceed the uncached input "
        "(input_tokens - input_cached_tokens - input_cache_write_tokens)",
        "input_cached_audio_tokens + input_cached_image_tokens exceed input_cached_tokens",
        "output_audio_tokens + output_image_tokens exceed output_tokens",
    ]


def test_catalog_partition_written_before_modality_rows_prices_audio_at_text_rates(tmp_path):
    """A day whose price catalog was written before the `modality` column: the audio cell is still
    a cell of its own, priced at the text rates (30,000 x $4 + 10,000 x $0.40 + 15,000 x $16)."""
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[usage_page(DAY, [RESULT])], cost_pages=None)
    table = catalog_table(DAY)
    old = table.filter(pc.equal(table["modality"], "text")).drop(["modality"])
    lake.write("catalog", "model_prices", DAY, old)
    out = reconcile_day(sql.connect(), lake, DAY, RECONCILED_AT)
    assert rows(out, ["price_tier", "invoice_cost_usd"]) == [("standard", D("0.284")), ("standard+audio", D("0.364"))]
