"""The FOCUS 1.3 export (`focus_costs`, `darkcompute export focus`) and the redistribution views
(issue 13, items 4 and 5).

A simulated world of all three providers (two days, fixed seed) is reconciled by the real CLI
into a lake and a warehouse; its focus_costs must bill exactly the invoice per provider and day,
split every invoice line into allocated rows that sum exactly to it, one per class and job type,
and export the same dollars as CSV and Parquet. The redistribution views must sum to each account's
invoice; the tiny hand-computed day of tests/test_sql_models.py checks one spread to the picodollar.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from pipelines.defs.reconcile.publish import publish
from pipelines.defs.resources import Warehouse
from pipelines.lib.lake import Lake
from tests.fixtures import DAY, build_day, write_day
from tests.golden.worlds import AS_OF, _env, _run
from tests.test_sql_models import APP, COSTS, USAGE, WORKER

pytestmark = pytest.mark.slow

D = Decimal
SIM = ["--start", "2026-11-01", "--days", "2", "--calls-per-day", "300", "--seed", "7",
       "--providers", "openai,anthropic,aws.bedrock", "--tiers"]
DAYS = ("2026-11-01", "2026-11-02")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """The world simulated and reconciled by the CLI: `<work>/lake`, `<work>/warehouse.duckdb`."""
    work = tmp_path_factory.mktemp("focus_world")
    env = _env(work)
    _run(["simulate", "--out", str(work / "world"), *SIM], env)
    _run(["reconcile", "--date", DAYS[0], "--to", DAYS[-1], "--source", str(work / "world" / "sources"),
          "--lake", str(work / "lake"), "--warehouse", str(work / "warehouse.duckdb"), "--as-of", AS_OF, "--quiet"],
         env)
    return work


def lake_rows(work: Path, table: str) -> list[dict]:
    con = duckdb.connect()
    try:
        files = sorted(str(p) for p in (work / "lake" / "marts" / table).glob("date=*/*.parquet"))
        return con.sql(f"select * from read_parquet({files!r}, hive_partitioning = false)").to_arrow_table().to_pylist()
    finally:
        con.close()


def by(rows: list[dict], key, value) -> dict:
    out: dict = defaultdict(lambda: D(0))
    for row in rows:
        out[key(row)] += value(row)
    return dict(out)


def test_billed_cost_is_the_invoice_per_provider_and_day(world):
    focus, recon = lake_rows(world, "focus_costs"), lake_rows(world, "fct_spend_reconciliation")
    billed = by(focus, lambda r: (str(r["x_UsageDate"]), r["x_Provider"]), lambda r: r["BilledCost"])
    invoice = by(recon, lambda r: (str(r["usage_date"]), r["provider"]), lambda r: r["invoice_cost_usd"])
    assert billed == invoice
    assert all(isinstance(v, Decimal) for v in billed.values())
    assert sorted(billed) == [(d, p) for d in DAYS for p in ("anthropic", "aws.bedrock", "openai")]
    assert sum(billed.values()) == D("3.686303680000")
    assert len(focus) == 231
    assert by(focus, lambda r: str(r["x_UsageDate"]), lambda r: 1) == {"2026-11-01": 121, "2026-11-02": 110}
    assert by(focus, lambda r: r["x_DarkClass"], lambda r: 1) == {
        "user": 53, "background": 82, "retry": 27, "unlogged": 61, "non_token": 8}
    # the world's tax and credit lines keep their category (and no quantity)
    assert by(focus, lambda r: r["ChargeCategory"], lambda r: r["BilledCost"]) == {
        "Usage": D("3.666303680000"), "Tax": D("0.05"), "Credit": D("-0.03")}


def test_each_line_is_split_into_rows_that_sum_to_it(world):
    focus, recon = lake_rows(world, "focus_costs"), lake_rows(world, "fct_spend_reconciliation")
    dark = lake_rows(world, "fct_dark_compute")
    # one row per line, class and job type
    keys = [(r["x_LineId"], r["x_DarkClass"], r["x_JobType"]) for r in focus]
    assert len(keys) == len(set(keys))
    lines = defaultdict(list)
    for row in focus:
        lines[row["x_LineId"]].append(row)
    assert len(lines) == 120
    for line_id, rows in lines.items():
        # every dimension of an origin line is the same on its allocated rows
        for column in ("ChargeCategory", "SkuPriceId", "Tags", "SubAccountId", "ChargePeriodStart", "ServiceName"):
            assert len({r[column] for r in rows}) == 1, (line_id, column)
        if rows[0]["AllocatedMethodId"] is None:
            assert len(rows) == 1 and rows[0]["x_DarkClass"] == "non_token"
            continue
        ratios = [D(str(json.loads(r["AllocatedMethodDetails"])["Elements"][0]["AllocatedRatio"])) for r in rows]
        assert sum(ratios) == 1, line_id
        tokens = sum(r["ConsumedQuantity"] for r in rows)
        assert sum(r["PricingQuantity"] for r in rows) * 1_000_000 == tokens
        assert {json.loads(r["AllocatedTags"])["dark_class"] for r in rows} <= {"user", "background", "retry",
                                                                                "unlogged"}
        assert all(r["AllocatedResourceId"] is None for r in rows if r["x_DarkClass"] == "unlogged")
    # summed per cell and class, the rows are the marts' classes; per job type, fct_dark_compute's
    cell = lambda r: (r["x_UsageDate"], r["x_Provider"], r["x_BillingAccount"], r["x_Model"], r["x_PriceTier"])  # noqa: E731
    got = by([r for r in focus if r["x_DarkClass"] != "non_token"], lambda r: (*cell(r), r["x_DarkClass"]),
             lambda r: r["BilledCost"])
    want = {}
    for r in recon:
        if r["model"] == "__non_token__":
            continue
        for klass in ("user", "background", "retry", "unlogged"):
            if r[f"{klass}_cost_usd"] != 0:
                want[(r["usage_date"], r["provider"], r["billing_account"], r["model"], r["price_tier"], klass)] = \
                    r[f"{klass}_cost_usd"]
    assert {k: v for k, v in got.items() if v != 0} == want
    got_jobs = by([r for r in focus if r["x_DarkClass"] in ("background", "retry", "unlogged")],
                  lambda r: (*cell(r), r["x_DarkClass"], r["x_JobType"]), lambda r: r["BilledCost"])
    want_jobs = {(r["usage_date"], r["provider"], r["billing_account"], r["model"], r["price_tier"], r["dark_class"],
                  r["job_type"]): r["cost_usd"] for r in dark}
    assert {k: v for k, v in got_jobs.items() if v != 0} == {k: v for k, v in want_jobs.items() if v != 0}
    non_token = by([r for r in focus if r["x_DarkClass"] == "non_token"], lambda r: r["x_Provider"],
                   lambda r: r["BilledCost"])
    assert non_token == by([r for r in recon if r["model"] == "__non_token__"], lambda r: r["provider"],
                           lambda r: r["non_token_cost_usd"])
    assert all(r["ConsumedQuantity"] is None for r in focus if r["ChargeCategory"] != "Usage")


def export(world: Path, out: Path, *extra: str) -> int:
    return main(["export", "focus", "--from", DAYS[0], "--to", DAYS[-1], "--out", str(out),
                 "--warehouse", str(world / "warehouse.duckdb"), *extra])


def warehouse_invoice(world: Path) -> dict[str, Decimal]:
    con = duckdb.connect(str(world / "warehouse.duckdb"), read_only=True)
    try:
        return dict(con.execute("select provider, sum(invoice_cost_usd) from fct_spend_reconciliation "
                                "group by all").fetchall())
    finally:
        con.close()


def test_the_csv_export_holds_the_invoice_to_the_picodollar(world, tmp_path, capsys):
    out = tmp_path / "focus.csv"
    assert export(world, out) == 0
    assert f"wrote {out}: 231 FOCUS 1.3 rows, 2 day(s)" in capsys.readouterr().out
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 231
    assert list(rows[0])[:4] == ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"]
    assert by(rows, lambda r: r["x_Provider"], lambda r: D(r["BilledCost"])) == warehouse_invoice(world)
    assert sum(D(r["BilledCost"]) for r in rows) == D("3.686303680000")
    assert {r["ChargePeriodStart"] for r in rows} == {"2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"}
    assert {r["ServiceCategory"] for r in rows} == {"AI and Machine Learning"}
    assert {r["ConsumedUnit"] for r in rows if r["x_TokenClass"]} == {"Tokens"}


def test_the_parquet_export_keeps_decimals_and_utc_times(world, tmp_path):
    out = tmp_path / "focus.parquet"
    assert export(world, out) == 0
    table = pq.read_table(out)
    assert table.num_rows == 231
    assert table.schema.field("BilledCost").type == pa.decimal128(38, 12)
    assert table.schema.field("ChargePeriodStart").type == pa.timestamp("us", "UTC")
    assert "date" not in table.column_names
    rows = table.to_pylist()
    assert by(rows, lambda r: r["x_Provider"], lambda r: r["BilledCost"]) == warehouse_invoice(world)
    assert min(r["ChargePeriodStart"] for r in rows) == datetime(2026, 11, 1, tzinfo=timezone.utc)


def test_export_refuses_an_unknown_extension_and_an_empty_range(world, tmp_path, capsys):
    assert export(world, tmp_path / "focus.json") == 2
    assert "expected a file ending in .parquet or .csv" in capsys.readouterr().err
    assert not (tmp_path / "focus.json").exists()
    assert main(["export", "focus", "--from", "2026-10-01", "--out", str(tmp_path / "f.csv"),
                 "--warehouse", str(world / "warehouse.duckdb")]) == 2
    assert "no focus_costs rows from 2026-10-01 to 2026-10-01" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()
    assert main(["export", "focus", "--from", "2026-11-02", "--to", "2026-11-01", "--out", str(tmp_path / "f.csv"),
                 "--warehouse", str(world / "warehouse.duckdb")]) == 2


def views(path: Path, view: str) -> list[dict]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(f"select * from {view} order by all").to_arrow_table().to_pylist()
    finally:
        con.close()


@pytest.mark.parametrize("view", ["redistributed_spend_proportional", "redistributed_spend_even"])
def test_redistribution_sums_to_each_accounts_invoice(world, view):
    rows = views(world / "warehouse.duckdb", view)
    recon = lake_rows(world, "fct_spend_reconciliation")
    account = lambda r: (r["usage_date"], r["provider"], r["billing_account"])  # noqa: E731
    assert by(rows, account, lambda r: r["redistributed_cost_usd"]) == by(recon, account,
                                                                          lambda r: r["invoice_cost_usd"])
    # the shares are the unlogged dollars, and only accounts without attributed dollars keep them
    shares = by(rows, account, lambda r: r["unlogged_share_usd"] + (r["cost_usd"] if r["spend_class"] == "unlogged"
                                                                    else 0))
    unlogged = by(recon, account, lambda r: r["unlogged_cost_usd"])
    assert {k: v for k, v in shares.items() if v} == {k: v for k, v in unlogged.items() if v}
    # proj_digest's calls are logged by no one on either day: its unlogged dollars have nowhere to go
    assert [(str(r["usage_date"]), r["billing_account"], r["cost_usd"]) for r in rows if r["spend_class"] == "unlogged"] \
        == [("2026-11-01", "proj_digest", D("0.00576315")), ("2026-11-02", "proj_digest", D("0.00474045"))]
    assert len(rows) == 59


def test_a_hand_computed_spread(tmp_path):
    # tests/test_sql_models.py's day: proj_a billed user $0.00084, background (ingest_summarization)
    # $0.00084, retry:chat $0.00036, unlogged $0.00048 and web search $0.06.
    lake = write_day(tmp_path / "lake", DAY, usage_pages=[USAGE], cost_pages=[COSTS], app_lines=APP,
                     worker_lines=WORKER)
    built = build_day(lake, DAY, datetime(2026, 11, 3, 4, tzinfo=timezone.utc))
    for mart, table in built.marts.items():
        lake.write("marts", mart, DAY, table)
    path = tmp_path / "warehouse.duckdb"
    publish(path, Lake(lake.root), [DAY], connect=Warehouse(path=str(path)).session, day_files=lambda d: [])
    columns = ("spend_class", "job_type", "cost_usd", "unlogged_share_usd", "redistributed_cost_usd")
    # proportionally: 480,000,000 picodollars x 840/2040, x 840/2040 and x 360/2040, floored:
    # 197,647,058 + 197,647,058 + 84,705,882 = 479,999,998; the 2 left go to the largest row, background
    # (it ties with user at $0.00084 and comes first by name)
    assert [tuple(r[c] for c in columns) for r in views(path, "redistributed_spend_proportional")] == [
        ("background", "ingest_summarization", D("0.00084"), D("0.000197647060"), D("0.001037647060")),
        ("non_token", "__non_token__", D("0.06"), D("0"), D("0.06")),
        ("retry", "retry:chat", D("0.00036"), D("0.000084705882"), D("0.000444705882")),
        ("user", "__user__", D("0.00084"), D("0.000197647058"), D("0.001037647058")),
    ]
    # evenly: 480,000,000 / 3 = 160,000,000 picodollars each, nothing left over
    assert [tuple(r[c] for c in columns) for r in views(path, "redistributed_spend_even")] == [
        ("background", "ingest_summarization", D("0.00084"), D("0.00016"), D("0.001")),
        ("non_token", "__non_token__", D("0.06"), D("0"), D("0.06")),
        ("retry", "retry:chat", D("0.00036"), D("0.00016"), D("0.00052")),
        ("user", "__user__", D("0.00084"), D("0.00016"), D("0.001")),
    ]
    for view in ("redistributed_spend_proportional", "redistributed_spend_even"):
        assert sum(r["redistributed_cost_usd"] for r in views(path, view)) == D("0.06252")
    # the stored marts keep the raw residual
    recon = built.marts["fct_spend_reconciliation"].to_pylist()
    assert sum(r["unlogged_cost_usd"] for r in recon) == D("0.00048")
    assert date(2026, 11, 2) == DAY
