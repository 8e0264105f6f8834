"""int_call_costs: every logged call's share of the invoice, summing EXACTLY to the marts.

Per cell, the user calls' cost_usd = fct_spend_reconciliation.user_cost_usd (an audio or image
row folded into its base tier's cell, where the calls are); per cell and job type, the background
and retry calls' = fct_dark_compute.cost_usd; per provider and day, user calls + dark compute +
non-token charges = the invoice. On the committed samples and on a simulated world with every
shape a call's cell can take: an OpenAI usage export not grouped by anything (cells hiding model,
tier and account, calls weighed by list price), batch and flex tiers, audio cells, aggregate
job records, Anthropic's 5-minute and 1-hour cache writes, Bedrock's own attributed invocations.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from pipelines.cli import main
from pipelines.lib.lake import Lake
from pipelines.simulate import simulate

from .fixtures import build_day
from .samples_warehouse import AS_OF, samples_warehouse  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow  # dbt builds of whole days

D = Decimal
KEEP = ("int_call_costs", "stg_model_calls", "stg_bedrock_calls")
SAMPLE_DAYS = [date(2026, 11, d) for d in (1, 2, 3, 4)]
SIM_START = date(2026, 11, 1)


def _base_tier(column: str) -> str:
    return (f"case when {column} like '%+audio' or {column} like '%+image' "
            f"then left({column}, length({column}) - 6) else {column} end")


def _day(lake: Lake, day: date, as_of: datetime) -> duckdb.DuckDBPyConnection:
    """The day's dbt build, its marts and the kept models as tables of a fresh DuckDB."""
    built = build_day(lake, day, as_of, keep=KEEP)
    con = duckdb.connect()
    for name, table in {**built.marts, **built.kept}.items():
        con.register(f"{name}_arrow", table)
        con.execute(f"create table {name} as select * from {name}_arrow")
    return con


def _differences(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    """What does not add up: cells whose user calls differ from the reconciliation, (cell, job
    type)s whose dark calls differ from fct_dark_compute, providers whose invoice identity breaks."""
    user = con.execute(f"""
        with calls as (
            select usage_date, provider, billing_account, model, price_tier, sum(cost_usd) as usd
            from int_call_costs where spend_class = 'user' group by all),
        marts as (
            select usage_date, provider, billing_account, model, {_base_tier('price_tier')} as price_tier,
                sum(user_cost_usd) as usd
            from fct_spend_reconciliation where model <> '__non_token__' group by all)
        select * from calls full join marts using (usage_date, provider, billing_account, model, price_tier)
        where coalesce(calls.usd, 0) <> coalesce(marts.usd, 0)""").fetchall()
    dark = con.execute(f"""
        with calls as (
            select usage_date, provider, billing_account, model, price_tier, job_type, sum(cost_usd) as usd
            from int_call_costs where spend_class <> 'user' group by all),
        marts as (
            select usage_date, provider, billing_account, model, {_base_tier('price_tier')} as price_tier, job_type,
                sum(cost_usd) as usd
            from fct_dark_compute where dark_class <> 'unlogged' group by all)
        select * from calls full join marts using (usage_date, provider, billing_account, model, price_tier, job_type)
        where coalesce(calls.usd, 0) <> coalesce(marts.usd, 0)""").fetchall()
    invoice = con.execute("""
        with parts as (
            select provider, cost_usd as usd from int_call_costs where spend_class = 'user'
            union all select provider, cost_usd from fct_dark_compute
            union all select provider, non_token_cost_usd from fct_spend_reconciliation
            union all select provider, -invoice_cost_usd from fct_spend_reconciliation)
        select provider, sum(usd) from parts group by all having sum(usd) <> 0""").fetchall()
    return {"user": user, "dark": dark, "invoice": invoice}


def _counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    """(rows of int_call_costs, logged call records, rows without a cell or a cost)."""
    rows, uncosted = con.execute("select count(*), count(*) filter (where model is null or cost_usd is null) "
                             "from int_call_costs").fetchone()
    records = con.execute("select (select count(*) from stg_model_calls) + (select count(*) from stg_bedrock_calls)"
                      ).fetchone()[0]
    return rows, records, uncosted


@pytest.fixture(scope="module")
def sample_days(samples_warehouse):  # noqa: F811 (the fixture)
    lake = Lake(samples_warehouse.parent / "lake")
    as_of = datetime.fromisoformat(AS_OF.replace("Z", "+00:00"))
    return {day: _day(lake, day, as_of) for day in SAMPLE_DAYS}


def test_samples_every_call_once_and_every_dollar_exactly(sample_days):
    totals = {}
    for day, con in sample_days.items():
        rows, records, uncosted = _counts(con)
        assert rows == records and uncosted == 0, day
        assert _differences(con) == {"user": [], "dark": [], "invoice": []}, day
        user, dark, invoice = con.execute("""
            select
                (select sum(cost_usd) from int_call_costs where spend_class = 'user'),
                (select sum(cost_usd) from int_call_costs where spend_class <> 'user'),
                (select sum(user_cost_usd + background_cost_usd + retry_cost_usd) from fct_spend_reconciliation)
        """).fetchone()
        assert user + dark == invoice  # every logged dollar of the day is on a call
        totals[day.isoformat()] = rows
    # the samples' days: every logged record of the three providers, after de-duplication
    assert totals == {"2026-11-01": 935, "2026-11-02": 983, "2026-11-03": 999, "2026-11-04": 960}


def test_samples_attribution_is_carried(sample_days):
    con = sample_days[date(2026, 11, 2)]
    user_without_request, dark_with_parent, retries_with_attempt, features = con.execute("""
        select
            count(*) filter (where spend_class = 'user' and request_id is null),
            count(*) filter (where spend_class = 'background' and parent_request_id is not null),
            count(*) filter (where spend_class = 'retry' and attempt >= 2),
            count(distinct feature) filter (where spend_class = 'user')
        from int_call_costs""").fetchone()
    assert user_without_request == 0
    assert dark_with_parent > 0 and retries_with_attempt > 0 and features >= 3


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("callcosts")
    simulate(root / "world", SIM_START, 2, calls_per_day=3000, seed=20261205, tiers=True, audio=True,
             aggregate_jobs=True, openai_usage_group_by=(), openai_cost_group_by=("project_id", "line_item"))
    code = main(["reconcile", "--date", SIM_START.isoformat(), "--to", "2026-11-02", "--quiet",
                 "--as-of", "2026-11-20T04:00:00Z", "--source", str(root / "world" / "sources"),
                 "--lake", str(root / "lake"), "--warehouse", str(root / "warehouse.duckdb")])
    assert code == 0
    as_of = datetime(2026, 11, 20, 4, tzinfo=timezone.utc)
    return {day: _day(Lake(root / "lake"), day, as_of) for day in (SIM_START, date(2026, 11, 2))}


def test_simulated_world_every_call_once_and_every_dollar_exactly(world):
    for day, con in world.items():
        rows, records, uncosted = _counts(con)
        assert rows == records and uncosted == 0, day
        assert _differences(con) == {"user": [], "dark": [], "invoice": []}, day
        # the shapes this world is for are there
        shapes = con.execute("""
            select
                count(*) filter (where provider = 'openai' and model = '__all__' and price_tier = '__all__'),
                count(*) filter (where provider = 'anthropic' and cache_write > 0),
                count(*) filter (where provider = 'aws.bedrock' and request_id is null and spend_class <> 'user'),
                count(*) filter (where request_count > 1)
            from int_call_costs""").fetchone()
        assert all(n > 0 for n in shapes), shapes
        audio_cells = con.execute("select count(*) from fct_spend_reconciliation where price_tier like '%+audio'").fetchone()
        assert audio_cells[0] > 0


def test_a_call_costs_its_list_price_where_the_invoice_is_list_price(world):
    """The simulator bills every token at its tier's list price, so where a cell's own cost lines
    price it (no coarse line, no weighing, no modality split) and the logs claim no more than was
    billed, a call's share of the invoice is its list cost (a cache write split as its cell billed
    it), to within the picodollars floor division moves and the remainder its group's heaviest
    call takes."""
    con = world[SIM_START]
    checked, off, providers = con.execute("""
        with plain as (
            select usage_date, provider, billing_account, model, price_tier from fct_spend_reconciliation
            where allocation_basis = 'cost_line' and overlogged_tokens = 0 and model <> '__non_token__'
                and price_tier not like '%+audio' and price_tier not like '%+image'
                and provider <> 'openai' and status <> 'provisional')
        select count(*), max(abs(cost_usd - list_cost_usd)), count(distinct provider)
        from int_call_costs inner join plain using (usage_date, provider, billing_account, model, price_tier)
        where usage_known""").fetchone()
    assert checked > 500 and providers == 2  # Anthropic and Bedrock (OpenAI's usage is ungrouped here)
    assert off < D("0.000001")


def test_arrow_schema_is_the_contract(world):
    table: pa.Table = world[SIM_START].cursor().sql("select * from int_call_costs limit 0").to_arrow_table()
    assert table.column_names == [
        "usage_date", "provider", "billing_account", "model", "price_tier", "spend_class", "job_type", "feature",
        "request_id", "parent_request_id", "user_id", "tenant_id", "job_id", "attempt", "log_tier", "usage_known",
        "request_count", "uncached_input", "cache_read", "cache_write", "output", "reasoning_tokens",
        "list_cost_usd", "cost_usd"]
    assert str(table.schema.field("cost_usd").type) == "decimal128(38, 12)"
    assert str(table.schema.field("list_cost_usd").type) == "decimal128(38, 12)"

