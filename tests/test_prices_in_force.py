"""The prices in force: genai-prices as of each day (its price start dates), the negotiated and
private prices of the overrides file (validated on load, winning within their dates), and
dim_model_price's ranges of days over the lake's daily catalog partitions."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from pipelines.defs.reconcile.model import ensure_catalog
from pipelines.lib import dbt
from pipelines.lib.lake import Lake
from pipelines.lib.prices import CATALOG_SCHEMA, DEFAULT_OVERRIDES, OverridesError, catalog_table, load_overrides

from .fixtures import call, cost_page, usage, usage_page, write_day

D1, D2 = date(2026, 11, 2), date(2026, 11, 3)
MODEL = "gpt-4o-mini-2024-07-18"
HEADER = "provider,model,token_class,modality,rate_mtok,valid_from,valid_to,note\n"


def overrides_file(tmp_path, *rows: str, header: str = HEADER):
    path = tmp_path / "overrides.csv"
    path.write_text("# negotiated prices\n" + header + "".join(r + "\n" for r in rows))
    return path


def as_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=2), time(4), timezone.utc)


# --- genai-prices as of the day -----------------------------------------------------------------

def test_the_days_catalog_is_genai_prices_as_of_that_day():
    # genai-prices lowers Bedrock's regional.openai.gpt-5.6-luna from 2026-07-30 on (a price start date)
    def luna(day):
        return {(r["token_class"], r["modality"]): r["rate_mtok"] for r in catalog_table(day).to_pylist()
                if r["provider"] == "aws.bedrock" and r["canonical_model"] == "regional.openai.gpt-5.6-luna"
                and r["modality"] == "text"}
    before, after = luna(date(2026, 7, 29)), luna(date(2026, 7, 30))
    assert (before[("uncached_input", "text")], before[("output", "text")]) == (Decimal("1.1"), Decimal("6.6"))
    assert (after[("uncached_input", "text")], after[("output", "text")]) == (Decimal("0.22"), Decimal("1.32"))


# --- the overrides file: format and validation --------------------------------------------------

def test_the_committed_overrides_file_is_valid_and_empty():
    assert DEFAULT_OVERRIDES.name == "overrides.csv" and DEFAULT_OVERRIDES.parent.name == "prices"
    assert load_overrides() == []


def test_an_override_is_read_with_its_canonical_model_and_dates(tmp_path):
    path = overrides_file(tmp_path, f"openai,{MODEL},uncached_input,,0.12,2026-11-03,,\"negotiated, 20% off\"",
                          "anthropic,claude-sonnet-4-5,output,text,12,2026-10-01,2026-11-01,")
    first, second = load_overrides(path)
    assert (first.provider, first.canonical_model, first.token_class, first.modality, first.rate_mtok,
            first.valid_from, first.valid_to, first.origin, first.note) == (
        "openai", "gpt-4o-mini", "uncached_input", "text", Decimal("0.12"), D2, None, f"{path}:3", "negotiated, 20% off")
    assert (second.valid_from, second.valid_to, second.origin) == (date(2026, 10, 1), date(2026, 11, 1), f"{path}:4")
    assert first.in_force(D2) and not first.in_force(D1)
    assert second.in_force(date(2026, 10, 31)) and not second.in_force(date(2026, 11, 1))


def test_every_problem_of_the_overrides_file_is_named_with_file_line_and_field(tmp_path):
    path = overrides_file(
        tmp_path,
        "openai,gpt-4o-mini,uncached_input,,0.12,2026-13-01,,bad day",
        "openai,gpt-4o-mini,input,,0.12,2026-11-01,,unknown class",
        "openai,gpt-4o-mini,output,,-0.5,2026-11-01,,negative",
        "openai,gpt-4o-mini,cache_read,,0.05,2026-11-01,2026-12-01,",
        "openai,gpt-4o-mini-2024-07-18,cache_read,text,0.04,2026-11-15,,overlaps the line before",
        "mistral,x,output,,1,2026-11-01,2026-11-01,",
        "openai,,output,video,abc,2026-11-01,,",
        "openai,gpt-4o,output,,1,2026-11-01",
    )
    with pytest.raises(OverridesError) as raised:
        load_overrides(path)
    assert str(raised.value).splitlines() == [
        "invalid price overrides:",
        f"{path} line 3, field valid_from: expected a day YYYY-MM-DD, got '2026-13-01'",
        f"{path} line 4, field token_class: expected one of uncached_input, cache_read, cache_write_5m, "
        "cache_write_1h, output, got 'input'",
        f"{path} line 5, field rate_mtok: negative (-0.5)",
        f"{path} line 8, field provider: expected one of openai, anthropic, aws.bedrock, got 'mistral'",
        f"{path} line 8, field valid_to: 2026-11-01 is not after valid_from 2026-11-01 (valid_to is exclusive)",
        f"{path} line 9, field model: empty",
        f"{path} line 9, field modality: expected one of text, audio, image (empty: text), got 'video'",
        f"{path} line 9, field rate_mtok: expected USD per million tokens like '2.50' (at most 9 decimals), got 'abc'",
        f"{path} line 10, field row: expected 8 fields, got 6",
        f"{path} line 7, field valid_from: the range from 2026-11-15 overlaps line 6's (2026-11-01 to 2026-12-01) "
        "for openai gpt-4o-mini cache_read text",
    ]


def test_a_wrong_header_or_a_missing_file_is_an_error(tmp_path):
    path = overrides_file(tmp_path, header="provider,model,rate\n")
    with pytest.raises(OverridesError, match=r"line 2, field header: expected the columns provider,model,token_class,"
                                             r"modality,rate_mtok,valid_from,valid_to,note, got provider,model,rate$"):
        load_overrides(path)
    with pytest.raises(OverridesError, match=f"^{tmp_path / 'nowhere.csv'}: cannot read the price overrides file"):
        load_overrides(tmp_path / "nowhere.csv")


def test_a_run_with_a_malformed_overrides_file_stops_before_dbt(tmp_path):
    path = overrides_file(tmp_path, "openai,gpt-4o-mini,output,,-1,2026-11-01,,")
    with pytest.raises(OverridesError, match="line 3, field rate_mtok: negative"):
        dbt.build(Lake(tmp_path / "lake"), D1, as_of(D1), price_overrides=path)


# --- an override changes the catalog cost of the days in its range, and no other -----------------

@pytest.fixture
def two_days(tmp_path) -> Lake:
    """gpt-4o-mini on two days: 1,000,000 input and 100,000 output tokens billed each day (list:
    $0.15 and $0.60 per million: $0.21 a day), 400,000 + 40,000 of them logged."""
    lake = None
    for day in (D1, D2):
        lake = write_day(
            tmp_path / "lake", day,
            usage_pages=[usage_page(day, [{"input_tokens": 1_000_000, "output_tokens": 100_000,
                                           "num_model_requests": 10, "project_id": "proj_a", "model": MODEL}])],
            cost_pages=[cost_page(day, [(f"{MODEL}, input", "proj_a", "0.12"), (f"{MODEL}, output", "proj_a", "0.06")])],
            app_lines=[call(f"{day}T10:00:00Z", **usage(400_000, 40_000))],
        )
        ensure_catalog(lake, day)
    return lake


def catalog_cost(lake: Lake, day: date, overrides=None) -> Decimal:
    result = dbt.build(lake, day, as_of(day), price_overrides=overrides)
    assert result.success, result.failures
    recon = result.marts["fct_spend_reconciliation"].to_pylist()
    assert {r["invoice_cost_usd"] for r in recon if r["model"] != "__non_token__"} == {Decimal("0.18")}
    return sum((r["catalog_cost_usd"] for r in recon), Decimal(0))


def test_a_negotiated_price_changes_the_catalog_cost_from_its_day_on(two_days, tmp_path):
    # 20% off gpt-4o-mini's input from D2: 1,000,000 x $0.12/M + 100,000 x $0.60/M = $0.18 on D2
    negotiated = overrides_file(tmp_path, "openai,gpt-4o-mini,uncached_input,,0.12,2026-11-03,,20% off input")
    assert catalog_cost(two_days, D1) == catalog_cost(two_days, D2) == Decimal("0.21")
    assert catalog_cost(two_days, D1, negotiated) == Decimal("0.21")  # before its range: list price
    assert catalog_cost(two_days, D2, negotiated) == Decimal("0.18")
    # one that ended on D2 (exclusive) priced D1 only
    ended = overrides_file(tmp_path, "openai,gpt-4o-mini,uncached_input,,0.12,2026-10-01,2026-11-03,")
    assert (catalog_cost(two_days, D1, ended), catalog_cost(two_days, D2, ended)) == (Decimal("0.18"), Decimal("0.21"))


# --- dim_model_price: ranges over two catalog versions -------------------------------------------

def hand_catalog(input_rate: str, output_rate: str) -> pa.Table:
    rows = [{"provider": "openai", "canonical_model": "gpt-4o-mini", "token_class": token_class, "modality": "text",
             "rate_mtok": Decimal(rate)} for token_class, rate in (("uncached_input", input_rate), ("output", output_rate))]
    return pa.Table.from_pylist(rows, schema=CATALOG_SCHEMA)


def test_dim_model_price_makes_ranges_of_two_catalog_versions_and_an_override(tmp_path):
    lake = write_day(tmp_path / "lake", D1, app_lines=[call(f"{D1}T10:00:00Z", **usage(1_000, 100))])
    lake.write("catalog", "model_prices", date(2026, 10, 30), hand_catalog("0.15", "0.60"))
    lake.write("catalog", "model_prices", date(2026, 11, 1), hand_catalog("0.15", "0.60"))
    lake.write("catalog", "model_prices", D1, hand_catalog("0.10", "0.60"))  # input cut on D1
    lake.write("catalog", "model_prices", D2, hand_catalog("0.05", "0.60"))  # after the run's day: not read
    overrides = overrides_file(tmp_path, "openai,gpt-4o-mini,uncached_input,,0.08,2026-11-05,2026-11-07,pilot deal",
                               "openai,gpt-4o,output,,1,2026-11-01,,a model the day does not mention")
    result = dbt.build(lake, D1, as_of(D1), price_overrides=overrides, keep=("dim_model_price", "dim_price"))
    assert result.success, result.failures
    rows = sorted((r["token_class"], r["valid_from"], r["valid_to"], r["rate_mtok"], r["price_source"],
                   r["override_origin"]) for r in result.kept["dim_model_price"].to_pylist())
    assert rows == [
        ("output", date(2026, 10, 30), None, Decimal("0.6"), "genai-prices", None),
        ("uncached_input", date(2026, 10, 30), D1, Decimal("0.15"), "genai-prices", None),
        ("uncached_input", D1, date(2026, 11, 5), Decimal("0.1"), "genai-prices", None),
        ("uncached_input", date(2026, 11, 5), date(2026, 11, 7), Decimal("0.08"), "override", f"{overrides}:3"),
        ("uncached_input", date(2026, 11, 7), None, Decimal("0.1"), "genai-prices", None),
    ]
    # the day is priced at the rate in force on it
    day_rates = {(r["token_class"], r["modality"]): r["rate_mtok"] for r in result.kept["dim_price"].to_pylist()}
    assert day_rates[("uncached_input", "text")] == Decimal("0.1") and day_rates[("output", "audio")] == Decimal("0.6")
