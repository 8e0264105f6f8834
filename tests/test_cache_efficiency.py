"""fct_cache_efficiency (per cell, from the providers' usage) and its check cache_hit_rate_steady,
on a simulated world of 9 days x 2000 calls in which one tenant's prompt cache thrashes on the
last day (simulate(cache_thrash=(tenant, day))), reconciled once by the real CLI.

The first 8 days of that world are byte for byte the clean world's (the plant changes nothing
but the planted day's calls; `test_the_plant_changes_only_its_day`), so the check staying quiet on
them is the clean world's answer; day 9 is the thrash.
"""

from __future__ import annotations

import json
import statistics
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.defs.reconcile import checks
from pipelines.defs.settings import parse_cache_hit_drop_points
from pipelines.lib import report_sections
from pipelines.lib.lake import Lake
from pipelines.lib.report import percent, usd, write_report
from pipelines.simulate import simulate

pytestmark = pytest.mark.slow  # a 9-day simulated world reconciled by the CLI

D = Decimal
START, DAYS, CALLS = date(2026, 11, 1), 9, 2000
TENANT, THRASH_DAY = "t_0003", date(2026, 11, 9)
PICO = D("0.000000000001")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache_world")
    simulate(root / "world", START, DAYS, CALLS, seed=7, cache_thrash=(TENANT, THRASH_DAY))
    assert main(["reconcile", "--all", "--quiet", "--source", str(root / "world" / "sources"),
                 "--lake", str(root / "lake"), "--warehouse", str(root / "warehouse.duckdb")]) == 0
    truth = json.loads((root / "world" / "ground_truth.json").read_text())["cache_thrash"]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    yield root, con, truth
    con.close()


def _prior(lake: Lake, mart: str, day: date) -> list[Path]:
    return [p for back in range(7, 0, -1) if (p := lake.partition_file("marts", mart, day - timedelta(days=back))).exists()]


def _check(root: Path, day: date, points="20", mart="fct_cache_efficiency", kind="cells") -> checks.Outcome:
    lake = Lake(root / "lake")
    return checks.cache_hit_drop(duckdb.connect(), day, lake.partition_file("marts", mart, day),
                                 _prior(lake, mart, day), parse_cache_hit_drop_points(points), kind)


def test_the_plant_changes_only_its_day(world, tmp_path):
    root, _, truth = world
    simulate(tmp_path / "clean", START, DAYS, CALLS, seed=7)
    planted, clean = root / "world" / "sources", tmp_path / "clean" / "sources"
    files = sorted(p.relative_to(planted) for p in planted.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(clean) for p in clean.rglob("*") if p.is_file())
    differ = [f for f in files if (planted / f).read_bytes() != (clean / f).read_bytes()]
    # the day's exports and logs (Bedrock's invocation logs by hour), and the month's CUR file,
    # whose rows of days 1-8 are the same
    assert len(differ) == 24 and all("2026-11-09" in str(f) or "/2026/11/09/" in str(f)
                                     or "BILLING_PERIOD=2026-11" in str(f) for f in differ), differ
    cur = "cur/darkcompute-cur/data/BILLING_PERIOD=2026-11/part-00000.parquet"
    rows = "select * from read_parquet('{}') where line_item_usage_start_date < '2026-11-09'"
    assert duckdb.execute(f"select count(*) from ({rows.format(planted / cur)} except all {rows.format(clean / cur)}) "
                          f"union all select count(*) from ({rows.format(clean / cur)})").fetchall() == [(0,), (1533,)]
    assert not (tmp_path / "clean" / "ground_truth.json").read_text().count("cache_thrash")
    # the planted tenant's logged calls read nothing on its day, and wrote every prefix again
    assert truth["tenant"] == TENANT and truth["day"] == THRASH_DAY.isoformat()
    day9 = truth["days"][THRASH_DAY.isoformat()]
    assert sum(p["cache_read_tokens"] for p in day9.values()) == 0
    assert day9["openai"]["cache_write_tokens"] == 0  # OpenAI bills no cache write
    assert day9["anthropic"]["cache_write_tokens"] > 0 and day9["aws.bedrock"]["cache_write_tokens"] > 0


def test_one_row_per_cell_and_hit_rate_is_reads_over_input(world):
    _, con, _ = world
    assert con.execute("""
        select count(*), count(distinct (usage_date, provider, billing_account, model)),
               count(*) filter (where input_tokens <> uncached_input_tokens + cache_read_tokens
                                + cache_write_5m_tokens + cache_write_1h_tokens),
               count(*) filter (where cache_hit_rate <> round(cache_read_tokens / input_tokens, 8)),
               count(*) filter (where not list_priced)
        from fct_cache_efficiency""").fetchone() == (188, 188, 0, 0, 0)
    # OpenAI bills no cache write; every cell's reads and writes are the usage exports' own
    assert con.execute("""select sum(cache_write_5m_tokens + cache_write_1h_tokens) from fct_cache_efficiency
                          where provider = 'openai'""").fetchone() == (0,)


def _rates(root: Path, day: date, provider: str, model: str) -> dict[str, Decimal]:
    catalog = Lake(root / "lake").partition_file("catalog", "model_prices", day)
    rows = duckdb.execute("select token_class, rate_mtok from read_parquet($p) where provider = $v and "
                          "canonical_model = $m and modality = 'text'",
                          {"p": str(catalog), "v": provider, "m": model}).fetchall()
    return {c: r / 1_000_000 for c, r in rows}


def test_dollars_are_the_catalog_rates_times_the_tokens(world):
    root, con, _ = world
    day = THRASH_DAY
    # OpenAI gpt-4o-mini on proj_app (standard tier): reads save half the input rate, writes are free
    r = _rates(root, day, "openai", "gpt-4o-mini")
    read, saved, premium, unread = con.execute("""
        select cache_read_tokens, cache_savings_usd, cache_write_premium_usd, unread_write_cost_usd
        from fct_cache_efficiency where usage_date = $d and provider = 'openai' and billing_account = 'proj_app'
          and model = 'gpt-4o-mini-2024-07-18'""", {"d": day}).fetchone()
    assert read > 0 and saved == read * (r["uncached_input"] - r["cache_read"]) and (premium, unread) == (0, 0)
    # Anthropic haiku on the jobs workspace (1-hour writes): every write token pays the premium,
    # those beyond the day's reads are the unread cost
    r = _rates(root, day, "anthropic", "claude-haiku-4-5")
    row = con.execute("""
        select cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, unread_write_tokens,
               cache_savings_usd, cache_write_premium_usd, unread_write_cost_usd, net_cache_savings_usd
        from fct_cache_efficiency where usage_date = $d and provider = 'anthropic' and billing_account = 'wrkspc_jobs'
          and model = 'claude-haiku-4-5-20251001'""", {"d": day}).fetchone()
    read, w5, w1, unread_tokens, saved, premium, unread, net = row
    assert w1 > 0
    assert saved == read * (r["uncached_input"] - r["cache_read"])
    assert premium == w5 * (r["cache_write_5m"] - r["uncached_input"]) + w1 * (r["cache_write_1h"] - r["uncached_input"])
    assert unread_tokens == max(w5 + w1 - read, 0)
    expected_unread = (premium / PICO * unread_tokens // (w5 + w1)) * PICO
    assert unread == expected_unread and net == saved - premium
    # 49,583 tokens written for an hour, 33,792 read: 15,791 never paid back, at the 1-hour premium ($1/MTok)
    assert row == (33792, 0, 49583, 15791, D("0.0304128"), D("0.049583"), D("0.015791"), D("-0.0191702"))


def test_the_check_is_quiet_on_the_clean_days_and_needs_history(world):
    root, _, _ = world
    for n in range(1, 4):  # days 1-3: fewer than 3 prior days
        outcome = _check(root, START + timedelta(days=n - 1))
        assert outcome.passed and outcome.metadata["history"].startswith("not enough history")
        assert outcome.metadata["prior_days"] == n - 1
    for n in range(4, 9):  # days 4-8 (the clean world's): every cell judged, none dropped 20 points
        outcome = _check(root, START + timedelta(days=n - 1))
        assert outcome.passed, outcome.metadata
        assert outcome.metadata["history"] == "enough" and outcome.metadata["dropped"] == 0


def test_the_cell_check_warns_where_the_tenant_was_much_of_a_cell(world):
    root, con, _ = world
    outcome = _check(root, THRASH_DAY)
    assert not outcome.passed
    # the tenant's judge jobs on OpenAI were a third of that cell's cached input
    assert outcome.metadata["dropped"] == 1
    assert outcome.metadata["worst"] == ("openai / proj_jobs / gpt-4o-2024-08-06: hit rate 47.77% on 2026-11-09 "
                                         "against a trailing 7-day median of 72.88% (25.11 points down)")
    assert "| openai / proj_jobs / gpt-4o-2024-08-06 | 47.77 | 72.88 | 25.11 | 7 | 77824 | 162915 |" in (
        outcome.metadata["drops"])
    # the threshold is the setting's: 25 points still warns, 26 does not
    assert not _check(root, THRASH_DAY, "25").passed and _check(root, THRASH_DAY, "26").passed


def test_the_report_section_shows_the_marts_numbers(world, tmp_path):
    root, con, _ = world
    report = write_report(root / "warehouse.duckdb", THRASH_DAY, tmp_path / "report.html", png_copy=False)
    page = report.html_path.read_text()
    section = page[page.index("<section id=section-cache_efficiency>"):]
    section = section[:section.index("</section>")]
    rows = section.split("<tbody>")[1].split("</tbody>")[0].strip().split("\n")
    cells = con.execute("select count(distinct (provider, billing_account, model)) from fct_cache_efficiency"
                        ).fetchone()[0]
    assert len(rows) == min(report_sections.TOP_ROWS, cells)
    # the cell that saved the most over the report's 30 days (all 9 of the world), summed here
    top = con.execute("""
        select provider, billing_account, model, sum(input_tokens), sum(cache_read_tokens),
               sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(cache_savings_usd),
               sum(unread_write_cost_usd), sum(cache_savings_usd) - sum(cache_write_premium_usd)
        from fct_cache_efficiency group by all order by 8 desc limit 1""").fetchone()
    provider, account, model, inp, read, w5, w1, saved, unread, net = top
    rate = (D(read) / D(inp)).quantize(D("0.0001"))
    assert rows[0] == (f"<tr><th scope=row>{provider}</th><td>{account}</td><td>{model}</td><td>{inp}</td>"
                       f"<td>{percent(rate)}</td><td>{w5}</td><td>{w1}</td><td>{usd(saved)}</td><td>{usd(unread)}</td>"
                       f"<td>{usd(net)}</td></tr>")
    assert top[:3] == ("anthropic", "wrkspc_app", "claude-sonnet-4-5-20250929")
    assert (percent(rate), usd(saved), usd(unread), usd(net)) == ("17.0%", "$3.34", "$0.0022", "$2.68")


def test_simulate_plants_a_thrash_from_the_command_line(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path / "w"), "--start", "2026-11-01", "--days", "2", "--calls-per-day",
                 "200", "--cache-thrash", "t_0001:2026-11-02"]) == 0
    truth = json.loads((tmp_path / "w" / "ground_truth.json").read_text())["cache_thrash"]
    assert (truth["tenant"], truth["day"], sorted(truth["days"])) == ("t_0001", "2026-11-02", ["2026-11-01", "2026-11-02"])
    assert sum(p["cache_read_tokens"] for p in truth["days"]["2026-11-02"].values()) == 0
    assert sum(p["cache_read_tokens"] for p in truth["days"]["2026-11-01"].values()) > 0
    assert main(["simulate", "--out", str(tmp_path / "x"), "--start", "2026-11-01", "--days", "1",
                 "--cache-thrash", "t_0001"]) == 2
    assert "--cache-thrash: expected TENANT:DAY like t_0003:2026-11-09, got 't_0001'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# per tenant (fct_cache_efficiency_tenant, from int_call_costs)

def _tenant_rates(truth: dict) -> dict[str, Decimal]:
    """The planted tenant's hit rate per day, in points, from the simulator's own logged calls."""
    out = {}
    for day, providers in truth["days"].items():
        read = sum(p["cache_read_tokens"] for p in providers.values())
        inp = sum(p["input_tokens"] for p in providers.values())
        out[day] = D(100) * read / inp
    return out


def test_the_thrash_tenants_rows_are_its_logged_calls(world):
    _, con, truth = world
    got = con.execute("""
        select usage_date, sum(calls), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens)
        from fct_cache_efficiency_tenant where tenant_id = $t group by all order by all""", {"t": TENANT}).fetchall()
    assert got == [(date.fromisoformat(day), *(sum(p[k] for p in providers.values())
                                               for k in ("calls", "input_tokens", "cache_read_tokens",
                                                         "cache_write_tokens")))
                   for day, providers in sorted(truth["days"].items())]
    day9 = truth["days"][THRASH_DAY.isoformat()]
    assert got[-1][1:] == (314, 1049256, 0, 201874) == (
        sum(p["calls"] for p in day9.values()), sum(p["input_tokens"] for p in day9.values()), 0,
        sum(p["cache_write_tokens"] for p in day9.values()))
    # on its day the tenant read nothing: hit rate 0 and no savings on every one of its rows, and
    # every token it wrote is unread, so the unread cost is the whole write premium
    assert con.execute("""
        select count(*) filter (where cache_read_tokens <> 0 or cache_hit_rate <> 0 or cache_savings_usd <> 0
                                or unread_write_tokens <> cache_write_tokens
                                or unread_write_cost_usd <> cache_write_premium_usd),
               count(*) filter (where cache_write_tokens > 0 and unread_write_cost_usd > 0)
        from fct_cache_efficiency_tenant where tenant_id = $t and usage_date = $d""",
                       {"t": TENANT, "d": THRASH_DAY}).fetchone()[0] == 0
    # the other tenants read as usual that day
    assert con.execute("""
        select count(distinct tenant_id) from fct_cache_efficiency_tenant
        where usage_date = $d and tenant_id <> $t and cache_read_tokens > 0""", {"t": TENANT, "d": THRASH_DAY}
                       ).fetchone() == (4,)


def test_the_tenant_check_warns_naming_the_tenant_and_day(world):
    root, _, truth = world
    rates = _tenant_rates(truth)
    week = [rates[(THRASH_DAY - timedelta(days=back)).isoformat()] for back in range(1, 8)]
    median = round(float(statistics.median(week)), 2)
    assert median == 26.11  # the planted drop, from the simulator's calls: beyond the default 20 points
    outcome = _check(root, THRASH_DAY, mart="fct_cache_efficiency_tenant", kind="tenants")
    assert not outcome.passed and outcome.metadata["dropped"] == 1
    assert outcome.metadata["worst"] == (f"{TENANT}: hit rate 0.0% on {THRASH_DAY} against a trailing 7-day median "
                                         f"of {median}% ({median} points down)")
    for n in range(1, 9):  # the clean days: not enough history, then no tenant dropped 20 points
        outcome = _check(root, START + timedelta(days=n - 1), mart="fct_cache_efficiency_tenant", kind="tenants")
        assert outcome.passed and outcome.metadata["dropped"] == 0
        assert outcome.metadata["history"] == ("enough" if n >= 4 else
                                               f"not enough history: {n - 1} of the 3 prior days needed (of the "
                                               f"trailing 7), nothing judged")
