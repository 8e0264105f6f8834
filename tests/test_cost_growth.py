"""fct_cost_growth (issue 14, item 5): the weekly view over the daily marts, and the
cost_growth_within_users check, on a hand-made lake whose numbers are worked out below.

Reconciled days (fct_spend_reconciliation has rows): 2026-10-04 (the Sunday of week 2026-W40: a
partial week of 1 day), W41 = 10-05..10-11 and W42 = 10-12..10-18 (whole), W45 = 11-02..11-08
(whole), W46 = 11-09..11-10 (partial, 2 days), W53 = 2026-12-28..2027-01-03 (whole; 2026 has 53
ISO weeks).

fct_feature_users (usage_date, feature, user, actions, calls, user $, retry $, background calls, background $):
    10-04 chat u9 1 1 0.40                   W40
    10-05 chat u1 2 3 1.00 0.10 1 0.20       W41 chat: users {u1, u2} = 2 (3 by summing days), actions 5,
    10-06 chat u1 1 1 0.50                        calls 7, user 2.30, retry 0.10, background 0.20 -> cost 2.60,
    10-06 chat u2 1 2 0.50                        per user 1.30, background / user 0.20 / 2.30 = 0.086957
    10-08 chat -  1 1 0.30  (no user: dollars count, no active user)
    10-07 search_answer u1 1 1 1.00          W41 search_answer: 1 user, cost 1.00
    10-12 chat u1 1 1 1.00                   W42
    11-02 chat u1 3 3 3.00                   W45 chat: users {u1, u2, u3} = 3, actions 7, cost 7.80:
    11-02 chat u2 1 1 1.00                        cost growth 7.80 / 2.60 = 3, users 3 / 2 = 1.5
    11-03 chat u3 2 2 2.00
    11-03 chat u1 1 1 1.80
    11-09 chat u1 1 1 1.00                   W46: partial, no growth (W42 is whole, W46 is not)
    12-28 chat u1 1 1 5.20                   W53: 12 weeks after W41: cost 5.20 / 2.60 = 2, users 1 / 2 = 0.5
fct_dark_compute:
    10-05 background digest_job 4 calls 1.00 (openai) + 6 calls 2.00 (anthropic); 10-06 retry:digest_job 0.30;
    10-05 retry:chat 0.10; 10-05 unlogged 5.00 (not in the view)
        W41 digest_job: 10 calls, background 3.00, retry 0.30, cost 3.30, against the product's
        2 users (1.65 each) and its user dollars 3.30 (background / user 0.909091)
    11-04 background digest_job 20 calls 6.60 -> W45: growth 6.60 / 3.30 = 2, users 3 / 2 = 1.5
    11-05 background new_job 2 calls 0.50 -> W45: no earlier week, no growth
Totals: W41 users 2, actions 6, calls 8, user 3.30, retry 0.40, background 3.00, cost 6.70;
        W45 users 3, cost 7.80 + 7.10 = 14.90: growth 2.223881; W53 cost 5.20: 12-week growth 0.776119.

The check with factor 2 on 11-08 (W45 against W41): chat's cost grew by 200% against its users'
50% (> 2 x 50%): warns; digest_job grew by 100% = 2 x 50%, not more: quiet. With factor 1.9 both.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from pipelines.defs.reconcile import checks
from pipelines.lib import sql
from pipelines.lib.lake import Lake

D = Decimal


def _days(first: str, n: int) -> list[date]:
    return [date.fromisoformat(first) + timedelta(days=i) for i in range(n)]


RECONCILED = [date(2026, 10, 4), *_days("2026-10-05", 14), *_days("2026-11-02", 9), *_days("2026-12-28", 7)]
USERS = [  # usage_date, feature, user_id, actions, calls, user, retry, background calls, background
    ("2026-10-04", "chat", "u9", 1, 1, "0.40", "0", 0, "0"),
    ("2026-10-05", "chat", "u1", 2, 3, "1.00", "0.10", 1, "0.20"),
    ("2026-10-06", "chat", "u1", 1, 1, "0.50", "0", 0, "0"),
    ("2026-10-06", "chat", "u2", 1, 2, "0.50", "0", 0, "0"),
    ("2026-10-08", "chat", None, 1, 1, "0.30", "0", 0, "0"),
    ("2026-10-07", "search_answer", "u1", 1, 1, "1.00", "0", 0, "0"),
    ("2026-10-12", "chat", "u1", 1, 1, "1.00", "0", 0, "0"),
    ("2026-11-02", "chat", "u1", 3, 3, "3.00", "0", 0, "0"),
    ("2026-11-02", "chat", "u2", 1, 1, "1.00", "0", 0, "0"),
    ("2026-11-03", "chat", "u3", 2, 2, "2.00", "0", 0, "0"),
    ("2026-11-03", "chat", "u1", 1, 1, "1.80", "0", 0, "0"),
    ("2026-11-09", "chat", "u1", 1, 1, "1.00", "0", 0, "0"),
    ("2026-12-28", "chat", "u1", 1, 1, "5.20", "0", 0, "0"),
]
DARK = [  # usage_date, provider, dark_class, job_type, calls, cost
    ("2026-10-05", "openai", "background", "digest_job", 4, "1.00"),
    ("2026-10-05", "anthropic", "background", "digest_job", 6, "2.00"),
    ("2026-10-06", "openai", "retry", "retry:digest_job", 1, "0.30"),
    ("2026-10-05", "openai", "retry", "retry:chat", 1, "0.10"),
    ("2026-10-05", "openai", "unlogged", "__unlogged__", 0, "5.00"),
    ("2026-11-04", "openai", "background", "digest_job", 20, "6.60"),
    ("2026-11-05", "openai", "background", "new_job", 2, "0.50"),
]


def _tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table fct_spend_reconciliation (usage_date date, invoice_cost_usd decimal(38, 12))")
    con.executemany("insert into fct_spend_reconciliation values (?, 1)", [(d,) for d in RECONCILED])
    con.execute("create table fct_feature_users (usage_date date, feature varchar, user_id varchar, actions bigint, "
                "calls bigint, user_cost_usd decimal(38, 12), retry_cost_usd decimal(38, 12), background_calls bigint, "
                "background_cost_usd decimal(38, 12))")
    con.executemany("insert into fct_feature_users values (?, ?, ?, ?, ?, ?, ?, ?, ?)", USERS)
    con.execute("create table fct_dark_compute (usage_date date, provider varchar, dark_class varchar, job_type varchar, "
                "calls bigint, cost_usd decimal(38, 12))")
    con.executemany("insert into fct_dark_compute values (?, ?, ?, ?, ?, ?)", DARK)


@pytest.fixture(scope="module")
def warehouse():
    con = duckdb.connect()
    _tables(con)
    sql.run_script(con, "publish/cost_growth_view")
    yield con
    con.close()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """The same tables as the lake's daily partitions."""
    root = tmp_path_factory.mktemp("lake")
    con = duckdb.connect()
    _tables(con)
    for table in checks.COST_GROWTH_TABLES:
        for (day,) in con.execute(f"select distinct usage_date from {table}").fetchall():
            path = Lake(root).partition_file("marts", table, day)
            path.parent.mkdir(parents=True)
            con.execute(f"copy (select * from {table} where usage_date = ?) to '{path}' (format parquet)", [day])
    con.close()
    return Lake(root)


COLUMNS = ("iso_week, days_reconciled, whole_week, subject_kind, subject, active_users, actions, calls, "
           "background_calls, user_cost_usd, retry_cost_usd, background_cost_usd, cost_usd, cost_per_active_user_usd, "
           "background_to_user_ratio, cost_growth_4w_ratio, users_growth_4w_ratio, cost_growth_12w_ratio, "
           "users_growth_12w_ratio")


def rows(con, where: str) -> list[tuple]:
    return con.execute(f"select {COLUMNS} from fct_cost_growth where {where} "
                       "order by week_start, subject_kind, subject").fetchall()


def test_feature_rows_count_distinct_users_over_the_week(warehouse):
    assert rows(warehouse, "subject = 'chat'") == [
        ("2026-W40", 1, False, "feature", "chat", 1, 1, 1, 0, D("0.4"), D(0), D(0), D("0.4"), D("0.4"), D(0),
         None, None, None, None),
        ("2026-W41", 7, True, "feature", "chat", 2, 5, 7, 1, D("2.3"), D("0.1"), D("0.2"), D("2.6"), D("1.3"),
         D("0.086957"), None, None, None, None),
        ("2026-W42", 7, True, "feature", "chat", 1, 1, 1, 0, D(1), D(0), D(0), D(1), D(1), D(0), None, None, None, None),
        ("2026-W45", 7, True, "feature", "chat", 3, 7, 7, 0, D("7.8"), D(0), D(0), D("7.8"), D("2.6"), D(0),
         D(3), D("1.5"), None, None),
        ("2026-W46", 2, False, "feature", "chat", 1, 1, 1, 0, D(1), D(0), D(0), D(1), D(1), D(0), None, None, None, None),
        ("2026-W53", 7, True, "feature", "chat", 1, 1, 1, 0, D("5.2"), D(0), D(0), D("5.2"), D("5.2"), D(0),
         None, None, D(2), D("0.5")),
    ]


def test_job_type_rows_weigh_against_the_whole_product(warehouse):
    assert rows(warehouse, "subject_kind = 'job_type'") == [
        ("2026-W41", 7, True, "job_type", "digest_job", 2, None, None, 10, None, D("0.3"), D(3), D("3.3"), D("1.65"),
         D("0.909091"), None, None, None, None),
        ("2026-W45", 7, True, "job_type", "digest_job", 3, None, None, 20, None, D(0), D("6.6"), D("6.6"), D("2.2"),
         D("0.846154"), D(2), D("1.5"), None, None),
        ("2026-W45", 7, True, "job_type", "new_job", 3, None, None, 2, None, D(0), D("0.5"), D("0.5"), D("0.166666666667"),
         D("0.064103"), None, None, None, None),
    ]


def test_total_rows_hold_every_dollar_of_the_week(warehouse):
    got = rows(warehouse, "subject_kind = 'total' and iso_week in ('2026-W41', '2026-W45', '2026-W53')")
    assert got == [
        ("2026-W41", 7, True, "total", "__all__", 2, 6, 8, 10, D("3.3"), D("0.4"), D(3), D("6.7"), D("3.35"),
         D("0.909091"), None, None, None, None),
        ("2026-W45", 7, True, "total", "__all__", 3, 7, 7, 22, D("7.8"), D(0), D("7.1"), D("14.9"), D("4.966666666667"),
         D("0.910256"), D("2.223881"), D("1.5"), None, None),
        ("2026-W53", 7, True, "total", "__all__", 1, 1, 1, 0, D("5.2"), D(0), D(0), D("5.2"), D("5.2"), D(0),
         None, None, D("0.776119"), D("0.5")),
    ]
    # every week of a reconciled day has its total row, partial ones marked
    weeks = warehouse.execute("select iso_week, days_reconciled, whole_week, week_start::varchar, week_end::varchar "
                              "from fct_cost_growth where subject_kind = 'total' order by week_start").fetchall()
    assert weeks == [("2026-W40", 1, False, "2026-09-28", "2026-10-04"), ("2026-W41", 7, True, "2026-10-05", "2026-10-11"),
                     ("2026-W42", 7, True, "2026-10-12", "2026-10-18"), ("2026-W45", 7, True, "2026-11-02", "2026-11-08"),
                     ("2026-W46", 2, False, "2026-11-09", "2026-11-15"), ("2026-W53", 7, True, "2026-12-28", "2027-01-03")]


def test_grain_is_one_row_per_week_and_subject(warehouse):
    assert warehouse.execute("select count(*), count(distinct (week_start, subject_kind, subject)) "
                             "from fct_cost_growth").fetchone() == (16, 16)


def test_check_warns_on_the_feature_whose_cost_outgrew_its_users(lake):
    outcome = checks.cost_growth(lake, date(2026, 11, 8), D(2))
    assert not outcome.passed
    assert outcome.metadata["subjects"] == "feature chat"
    assert outcome.metadata["week"] == "2026-11-02" and outcome.metadata["compared_with"] == "2026-10-05"
    assert (outcome.metadata["worst_cost_growth_4w"], outcome.metadata["worst_users_growth_4w"]) == ("3.000000", "1.500000")
    assert "| feature | chat | 2026-W45 | 7.800000000000 | 3.000000 | 3 | 1.500000 | 2.600000000000 |" \
        in outcome.metadata["by_subject"]


def test_growth_exactly_at_the_factor_is_quiet_and_a_lower_factor_names_both(lake):
    outcome = checks.cost_growth(lake, date(2026, 11, 10), D("1.9"))  # the partial W46: W45 is the latest whole week
    assert outcome.metadata["subjects"] == "feature chat, job_type digest_job"
    assert outcome.metadata["week"] == "2026-11-02"


def test_check_passes_without_a_whole_week_four_weeks_earlier(lake):
    outcome = checks.cost_growth(lake, date(2027, 1, 3), D(2))  # W53 against W49: not reconciled
    assert outcome.passed and outcome.metadata["subjects_over_factor"] == 0
    assert outcome.metadata["week"] == "2026-12-28"
    outcome = checks.cost_growth(lake, date(2026, 10, 10), D(2))  # W41 not whole yet on its Saturday
    assert outcome.passed and outcome.metadata["week"] == "no whole week yet"


def test_check_on_a_lake_without_the_marts_passes_and_says_why(tmp_path):
    outcome = checks.cost_growth(Lake(tmp_path), date(2026, 11, 8), D(2))
    assert outcome.passed
    assert outcome.metadata["compared"] == "nothing to compare: no day reconciled in the 5 weeks to 2026-11-08"


def test_report_section_shows_the_latest_whole_week_fastest_growth_first(warehouse):
    from pipelines.lib import report_sections

    section = next(s for s in report_sections.SECTIONS if s.key == "cost_growth")
    # 2026-10-05 .. 2026-11-10: W46 is partial, so W45 is the week shown
    (shown,) = report_sections.gather(warehouse, date(2026, 10, 5), date(2026, 11, 10), sections=[section])
    assert shown.columns[:5] == ["subject", "kind", "iso_week", "active_users", "cost_usd"]
    assert [r[:9] for r in shown.rows] == [
        ("chat", "feature", "2026-W45", 3, D("7.8"), D("2.6"), D(0), D(3), D("1.5")),
        ("__all__", "total", "2026-W45", 3, D("14.9"), D("4.966666666667"), D("0.910256"), D("2.223881"), D("1.5")),
        ("digest_job", "job_type", "2026-W45", 3, D("6.6"), D("2.2"), D("0.846154"), D(2), D("1.5")),
        ("new_job", "job_type", "2026-W45", 3, D("0.5"), D("0.166666666667"), D("0.064103"), None, None),
    ]
    html = report_sections.render([shown])
    assert "<th scope=row>chat</th><td>feature</td><td>2026-W45</td><td>3</td><td>$7.80</td><td>$2.60</td>" \
           "<td>0.00</td><td>3.00</td><td>1.50</td>" in html
    # a period without a whole week shows nothing to compare
    (empty,) = report_sections.gather(warehouse, date(2026, 11, 9), date(2026, 11, 10), sections=[section])
    assert empty.rows == [] and "nothing in this period" in report_sections.render([empty])


def test_the_plant_grows_users_traffic_and_one_job_type(tmp_path):
    """simulate(cost_growth=...): week 1 has 10% more users (40 -> 44, every one active) and 10%
    more calls a day; the planted job type keeps (1.1 / 1.3)^(8 - 1 - w) of its jobs in week w."""
    from pipelines.simulate import simulate
    from pipelines.simulate.plants_cost_growth import CostGrowth, calls_on, keep

    plant = CostGrowth()
    start = date(2026, 10, 7)  # a Wednesday: week 0 is its ISO week, 5 days of it
    assert [calls_on(plant, start, start + timedelta(days=i), 200) for i in (0, 4, 5, 11, 12)] == [200, 200, 220, 220, 242]
    assert round(keep(plant, 0), 6) == round((1.1 / 1.3) ** 7, 6) == 0.31056 and keep(plant, 7) == keep(plant, 9) == 1
    simulate(tmp_path / "world", start, 12, calls_per_day=300, seed=3, cost_growth=plant, otlp_share=0, deprecated_share=0)
    con = duckdb.connect()
    users = con.execute(
        f"select (timestamp::date - date '2026-10-05') // 7, count(distinct user_id) "
        f"from read_json('{tmp_path}/world/sources/app_logs/*/*.jsonl', format = 'newline_delimited', "
        "ignore_errors = true, columns = {timestamp: 'timestamp', user_id: 'varchar'}) "
        "where timestamp is not null and timestamp::date < date '2026-10-19' group by 1 order by 1").fetchall()
    assert users == [(0, 40), (1, 44)]
    with pytest.raises(ValueError, match="one shard, without gzip or rotation"):
        simulate(tmp_path / "other", start, 1, calls_per_day=10, cost_growth=plant, gzip_app_logs=True)
    with pytest.raises(ValueError, match="cost_growth.job_type must be one of the world's job types"):
        CostGrowth(job_type="nope")


def test_the_plant_off_changes_no_byte(tmp_path):
    from pipelines.simulate import simulate

    simulate(tmp_path / "a", date(2026, 10, 5), 2, calls_per_day=200, seed=5)
    simulate(tmp_path / "b", date(2026, 10, 5), 2, calls_per_day=200, seed=5, cost_growth=None)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
