"""The budgets file: validated on load, every problem named by file, line and field."""

from decimal import Decimal

import pytest

from pipelines.lib.budgets import DEFAULT_BUDGETS, Budget, BudgetsError, load_budgets

HEADER = "scope,name,provider,daily_usd,severity,note\n"


def _load(tmp_path, body: str, header: str = HEADER):
    path = tmp_path / "budgets.csv"
    path.write_text("# budgets\n" + header + body)
    return path, load_budgets(path)


def _errors(tmp_path, body: str, header: str = HEADER) -> list[str]:
    with pytest.raises(BudgetsError) as raised:
        _load(tmp_path, body, header)
    return str(raised.value).split(": ", 1)[1].split("\n")


def test_the_committed_file_has_no_budgets_and_loads():
    assert load_budgets() == [] and load_budgets(None) == []
    assert DEFAULT_BUDGETS.name == "budgets.csv" and DEFAULT_BUDGETS.parent.name == "config"


def test_a_valid_file(tmp_path):
    path, budgets = _load(tmp_path, "job_type,ingest_summarization,,40.00,,usual day $25\n\n"
                                    "# a comment\njob_type,llm_judge_evaluation,openai,15,block,\n"
                                    "job_type,llm_judge_evaluation,anthropic,0.000000000001,warn,\n"
                                    "feature,chat,,300,warn,\n")
    assert budgets == [
        Budget("job_type", "ingest_summarization", None, Decimal("40.00"), "warn", f"{path}:3", "usual day $25"),
        Budget("job_type", "llm_judge_evaluation", "openai", Decimal(15), "block", f"{path}:6", ""),
        Budget("job_type", "llm_judge_evaluation", "anthropic", Decimal("1E-12"), "warn", f"{path}:7", ""),
        Budget("feature", "chat", None, Decimal(300), "warn", f"{path}:8", ""),
    ]
    assert budgets[0].parameter() == {"scope": "job_type", "name": "ingest_summarization", "provider": None,
                                      "daily_usd": "40.00", "severity": "warn", "origin": f"{path}:3"}


def test_bad_number_unknown_scope_duplicate_and_negative_are_each_named(tmp_path):
    path = tmp_path / "budgets.csv"
    errors = _errors(tmp_path, "job_type,a,,forty,warn,\n"        # line 3
                               "team,b,,10,warn,\n"               # line 4
                               "job_type,c,openai,10,warn,\n"     # line 5
                               "job_type,c,openai,12,block,\n"    # line 6: the same budget again
                               "job_type,d,,-5,warn,\n"           # line 7
                               "job_type,e,,1e400,warn,\n"        # line 8: not a dollar amount
                               "job_type,f,,0.0000000000001,warn,\n")  # line 9: 13 decimals
    assert errors == [
        f"{path} line 3, field daily_usd: expected dollars a day like '25.00' (at most 12 decimals), got 'forty'",
        f"{path} line 4, field scope: expected one of job_type, feature, got 'team'",
        f"{path} line 6, field name: a second budget for job_type 'c' at openai (line 5 has the first)",
        f"{path} line 7, field daily_usd: negative (-5)",
        f"{path} line 8, field daily_usd: expected dollars a day like '25.00' (at most 12 decimals), got '1e400'",
        f"{path} line 9, field daily_usd: expected dollars a day like '25.00' (at most 12 decimals), "
        "got '0.0000000000001'",
    ]


def test_provider_severity_name_fields_and_header(tmp_path):
    path = tmp_path / "budgets.csv"
    assert _errors(tmp_path, "job_type,,azure,1,page,\nfeature,chat,openai,1,warn,\njob_type,x,,1\n") == [
        f"{path} line 3, field name: empty (the job type or feature the budget is for)",
        f"{path} line 3, field provider: expected one of openai, anthropic, aws.bedrock (empty: every provider), "
        "got 'azure'",
        f"{path} line 3, field severity: expected one of warn, block (empty: warn), got 'page'",
        f"{path} line 4, field provider: a feature budget is over every provider (fct_user_action_cost is per "
        "feature), got 'openai'",
        f"{path} line 5, field row: expected 6 fields, got 4",
    ]
    assert _errors(tmp_path, "", header="scope,name,usd\n") == [
        f"{path} line 2, field header: expected the columns scope,name,provider,daily_usd,severity,note, "
        "got scope,name,usd"]
    path.write_text("# only comments\n")
    with pytest.raises(BudgetsError, match=r"line 2, field header: no header line"):
        load_budgets(path)
    with pytest.raises(BudgetsError, match=r"nowhere.csv: cannot read the budgets file"):
        load_budgets(tmp_path / "nowhere.csv")


def test_the_first_line_of_the_error_names_the_first_problem(tmp_path):
    with pytest.raises(BudgetsError) as raised:
        _load(tmp_path, "job_type,a,,-1,warn,\nteam,b,,1,warn,\n")
    first = str(raised.value).splitlines()[0]
    assert first == f"invalid budgets (2 problem(s)): {tmp_path / 'budgets.csv'} line 3, field daily_usd: negative (-1)"


def test_job_type_budgets_against_a_day_of_fct_dark_compute(tmp_path):
    """A budget counts its job type's rows and its retries, at its provider or every provider; the
    overrun names its cells; a feature budget is not this check's (features_within_budget's)."""
    import duckdb

    from pipelines.defs.reconcile import checks

    day = tmp_path / "fct_dark_compute.parquet"
    con = duckdb.connect()
    con.execute(f"""copy (select * from (values
        ('openai', 'proj_jobs', 'gpt-4o-mini', 'ingest', 10.25::decimal(38, 12)),
        ('openai', 'proj_app', 'gpt-4o-mini', 'ingest', 2.50::decimal(38, 12)),
        ('anthropic', 'wrkspc_jobs', 'claude-haiku-4-5', 'ingest', 4.00::decimal(38, 12)),
        ('openai', 'proj_jobs', 'gpt-4o-mini', 'retry:ingest', 0.75::decimal(38, 12)),
        ('openai', 'proj_jobs', 'gpt-4o', 'evals', 3.00::decimal(38, 12))
        ) t(provider, billing_account, model, job_type, cost_usd)) to '{day}' (format parquet)""")
    path, budgets = _load(tmp_path, "job_type,ingest,,17.49,warn,\njob_type,ingest,openai,13.50,block,\n"
                                    "job_type,evals,,3,block,\nfeature,chat,,1,warn,\n")
    outcome, blocking = checks.job_type_budgets(con, "2026-10-08", day, budgets)
    # ingest: 10.25 + 2.50 + 4.00 + 0.75 = 17.50 > 17.49 (warn); at openai 13.50, not over 13.50; evals 3 = 3
    assert (outcome.passed, blocking) == (False, False)
    meta = outcome.metadata
    assert (meta["budgets"], meta["over_budget"], meta["over"], meta["name"]) == ("3", 1, "ingest", "ingest")
    assert (Decimal(meta["day_usd"]), Decimal(meta["budget_usd"])) == (Decimal("17.50"), Decimal("17.49"))
    assert meta["alert"].startswith(f"2026-10-08 ingest: $17.50 over its $17.49 daily budget (warn, {path}:3); "
                                    "largest cells: openai proj_jobs gpt-4o-mini ingest $10.25; anthropic "
                                    "wrkspc_jobs claude-haiku-4-5 ingest $4.00; openai proj_app gpt-4o-mini ingest $2.50")
    assert f"| ingest | openai | 13.50 | 13.50 | within | block | {path}:4 |" in meta["by_budget"]
    assert f"| evals | every provider | 3.00 | 3.00 | within | block | {path}:5 |" in meta["by_budget"]
    assert "chat" not in meta["by_budget"] and "feature_budgets" not in meta
    # one cent less for the evals budget: a block overrun, and the check blocks
    path, budgets = _load(tmp_path, "job_type,evals,,2.99,block,\n")
    outcome, blocking = checks.job_type_budgets(con, "2026-10-08", day, budgets)
    assert (outcome.passed, blocking, outcome.metadata["over"]) == (False, True, "evals")
    # no job-type budget: passes, saying so
    outcome, blocking = checks.job_type_budgets(con, "2026-10-08", day, [])
    assert (outcome.passed, blocking, outcome.metadata["note"]) == (True, False, "no budgets of this scope in the "
                                                                                  "budgets file")


def test_feature_budgets_against_a_day_of_fct_user_action_cost(tmp_path):
    """A feature's cost of the day is its users' calls plus the retries and background work its
    actions triggered; a feature the day did not see costs $0; a job-type budget is not counted."""
    import duckdb

    from pipelines.defs.reconcile import checks

    day = tmp_path / "fct_user_action_cost.parquet"
    con = duckdb.connect()
    con.execute(f"""copy (select * from (values
        ('chat', 6.10::decimal(38, 12), 0.40::decimal(38, 12), 1.25::decimal(38, 12)),
        ('doc_qa', 2.00::decimal(38, 12), 0.00::decimal(38, 12), 0.99::decimal(38, 12))
        ) t(feature, user_cost_usd, retry_cost_usd, background_cost_usd)) to '{day}' (format parquet)""")
    path, budgets = _load(tmp_path, "feature,chat,,7.74,warn,\nfeature,doc_qa,,2.99,block,\n"
                                    "feature,autocomplete,,0,block,\njob_type,chat,,0,block,\n")
    outcome, blocking = checks.feature_budgets(con, "2026-10-08", day, budgets)
    # chat: 6.10 + 0.40 + 1.25 = 7.75 > 7.74 (warn); doc_qa 2.99 = 2.99; autocomplete not seen: $0
    assert (outcome.passed, blocking) == (False, False)
    meta = outcome.metadata
    assert (meta["budgets"], meta["over_budget"], meta["over"], meta["name"]) == ("3", 1, "chat", "chat")
    assert (Decimal(meta["day_usd"]), Decimal(meta["budget_usd"])) == (Decimal("7.75"), Decimal("7.74"))
    assert meta["alert"] == (f"2026-10-08 chat: $7.75 over its $7.74 daily budget (warn, {path}:3); largest cells: "
                             "user $6.10; retries $0.40; background it triggered $1.25")
    assert f"| doc_qa | every provider | 2.99 | 2.99 | within | block | {path}:4 |" in meta["by_budget"]
    assert f"| autocomplete | every provider | 0.00 | 0.00 | within | block | {path}:5 |" in meta["by_budget"]
    # a cent less for doc_qa: a block overrun, and the check blocks
    path, budgets = _load(tmp_path, "feature,doc_qa,,2.98,block,\n")
    outcome, blocking = checks.feature_budgets(con, "2026-10-08", day, budgets)
    assert (outcome.passed, blocking, outcome.metadata["over"]) == (False, True, "doc_qa")
