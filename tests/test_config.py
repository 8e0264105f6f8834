"""Configuration: every setting of the README's table is a field of a resource, bound to its
variable with `dg.EnvVar` and read when a run starts (not when the code is imported); the code
location loads with no variable set, on the documented defaults."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from pipelines.defs.logs.assets import app_calls
from pipelines.defs.resources import configured_resources
from pipelines.defs.settings import DEFAULTS

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 2)
CALL = {"timestamp": "2026-11-02T10:00:00Z", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10, "billing.account": "proj_a"}


def readme_settings() -> list[str]:
    """The DARKCOMPUTE_* variables of the README's configuration table that feed a resource field
    (the schedule's default state, read when the code location loads, feeds none)."""
    text = (REPO / "README.md").read_text()
    table = text[text.index("## Configuration"):text.index("### What the source root holds")]
    return sorted(set(re.findall(r"^\| `(DARKCOMPUTE_[A-Z0-9_]+)` \|.*\| (?!none)[^|]*\|$", table, flags=re.M)))


def bindings(resources: dict) -> dict[str, list[str]]:
    """{variable: ["resource.field", ...]} of every field bound to an environment variable."""
    out: dict[str, list[str]] = {}
    for key, resource in resources.items():
        for field, value in resource._convert_to_config_dictionary().items():  # what the UI shows
            if isinstance(value, dict) and "env" in value:
                out.setdefault(value["env"], []).append(f"{key}.{field}")
    return out


def test_every_setting_of_the_readme_is_a_resource_field_bound_with_envvar(monkeypatch):
    names = readme_settings()
    assert len(names) == 27 and set(names) <= set(DEFAULTS)
    for name in names:
        monkeypatch.setenv(name, DEFAULTS[name] or "1")
    bound = bindings(configured_resources())
    assert sorted(n for n in bound if n.startswith("DARKCOMPUTE_")) == names
    # the README names the field each variable feeds
    text = (REPO / "README.md").read_text()
    for name in names:
        [row] = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
        assert any(f"`{field}`" in row or f"`{field.split('.')[1]}` of " in row for field in bound[name]), (name, row)
    assert bound["DARKCOMPUTE_LAKE_DIR"] == ["sources.lake_dir", "openai_admin.lake_dir", "anthropic_admin.lake_dir",
                                             "lake.root", "warehouse.lake_dir"]
    assert bound["DARKCOMPUTE_MIN_COVERAGE"] == ["reconciliation.min_coverage"]


def test_unset_variables_bind_the_documented_defaults(monkeypatch):
    for name in list(os.environ):
        if name.startswith("DARKCOMPUTE_") or name == "AWS_RETRY_MODE":
            monkeypatch.delenv(name)
    resources = configured_resources()
    assert bindings(resources) == {}
    warehouse = resources["warehouse"].process_config_and_initialize()
    assert (warehouse.path, warehouse.threads, warehouse.spill_dir()) == ("warehouse.duckdb", 0, "lake/.duckdb_tmp")
    assert warehouse.report_folder() == "reports"
    sources = resources["sources"].process_config_and_initialize()
    assert (sources.uri, sources.landing(), sources.pulled_folder()) == (
        str(REPO / "data_samples" / "sources"), "lake/landing", "lake/landing/api")
    limits = resources["ingest_limits"].process_config_and_initialize()
    assert (limits.line_bytes(), limits.file_bytes(), limits.record_tokens()) == (64 << 20, 512 << 20, 10**13)
    reconciliation = resources["reconciliation"].process_config_and_initialize()
    assert reconciliation.settle() == {"openai": 1, "anthropic": 1, "aws.bedrock": 2}
    assert str(reconciliation.coverage()) == "0.5"
    assert str(reconciliation.price_gap_share()) == "0.05"
    assert str(reconciliation.cost_growth_factor()) == "2.0"
    assert str(reconciliation.retry_amplification_factor()) == "1.5"
    assert str(reconciliation.cache_hit_drop()) == "20"
    assert resources["litellm"].process_config_and_initialize().rule()["feature"] == (
        "tag:feature", "metadata:feature", "key_alias")
    assert resources["openai_admin"].process_config_and_initialize().pages_folder() == "lake/landing/api"


@pytest.mark.slow
def test_the_code_location_validates_with_no_variable_set():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DARKCOMPUTE_") and k not in (
        "OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "AWS_RETRY_MODE")}
    run = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-m",
                          "pipelines.definitions"], capture_output=True, text=True, cwd=REPO,
                         env={**env, "DAGSTER_HOME": ""})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Validation successful" in run.stdout + run.stderr


@pytest.mark.parametrize(("name", "value", "message"), [
    ("DARKCOMPUTE_SETTLE_DAYS", "openai=one", "DARKCOMPUTE_SETTLE_DAYS: expected provider=days pairs like "
                                              "'openai=1', got 'openai=one'"),
    ("DARKCOMPUTE_MIN_COVERAGE", "half", "DARKCOMPUTE_MIN_COVERAGE: expected a share from 0 to 1 like '0.5', "
                                         "got 'half'"),
    ("DARKCOMPUTE_MIN_COVERAGE", "1.5", "DARKCOMPUTE_MIN_COVERAGE: expected a share from 0 to 1 like '0.5', "
                                        "got '1.5'"),
    ("DARKCOMPUTE_PRICE_GAP_WARN_SHARE", "5%", "DARKCOMPUTE_PRICE_GAP_WARN_SHARE: expected a share from 0 to 1 "
                                                "like '0.05', got '5%'"),
    ("DARKCOMPUTE_RETRY_AMPLIFICATION_WARN", "0.9", "DARKCOMPUTE_RETRY_AMPLIFICATION_WARN: expected a factor of at "
                                                    "least 1 like '1.5', got '0.9'"),
    ("DARKCOMPUTE_CACHE_HIT_DROP_POINTS", "-5", "DARKCOMPUTE_CACHE_HIT_DROP_POINTS: expected percentage points "
                                                "from 0 to 100 like '20', got '-5'"),
    ("DARKCOMPUTE_COST_GROWTH_WARN_FACTOR", "0", "DARKCOMPUTE_COST_GROWTH_WARN_FACTOR: expected a positive number "
                                                 "like '2.0', got '0'"),
    ("DARKCOMPUTE_MAX_LINE_BYTES", "64MiB", "DARKCOMPUTE_MAX_LINE_BYTES must be a positive whole number, got '64MiB'"),
    ("DARKCOMPUTE_LITELLM_ATTRIBUTION", "owner=team_id", "DARKCOMPUTE_LITELLM_ATTRIBUTION: expected target=source"),
])
def test_a_bad_value_names_its_variable_and_what_was_expected(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    resources = {k: r.process_config_and_initialize() for k, r in configured_resources().items()
                 if k in ("reconciliation", "ingest_limits", "litellm")}
    checks = [resources["reconciliation"].settle, resources["reconciliation"].coverage,
              resources["reconciliation"].price_gap_share, resources["reconciliation"].cost_growth_factor,
              resources["reconciliation"].retry_amplification_factor,
              resources["reconciliation"].cache_hit_drop,
              resources["ingest_limits"].line_bytes, resources["litellm"].rule]
    failures = []
    for check in checks:
        try:
            check()
        except ValueError as exc:
            failures.append(str(exc))
    assert len(failures) == 1 and failures[0].startswith(message), failures


@pytest.mark.slow
def test_a_run_reads_the_variables_when_it_starts_not_when_the_code_was_loaded(tmp_path, monkeypatch):
    """The resources are bound (as `pipelines.definitions` binds them) while
    DARKCOMPUTE_MAX_LINE_BYTES and DARKCOMPUTE_MAX_RECORD_TOKENS hold the defaults; then both are
    changed, and a real `app_calls` materialization applies the new values: the 9 KiB line is
    rejected by its length and the 5,000-token record as impossible, each naming its variable."""
    folder = tmp_path / "sources" / "app_logs" / DAY.isoformat()
    folder.mkdir(parents=True)
    big = CALL | {"gen_ai.prompt": "x" * 9000}
    many = CALL | {"gen_ai.usage.input_tokens": 5000}
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (CALL, big, many, CALL)))
    for name, value in {"DARKCOMPUTE_SOURCE_URI": str(tmp_path / "sources"), "DARKCOMPUTE_LAKE_DIR": str(tmp_path / "lake"),
                        "DARKCOMPUTE_WAREHOUSE": str(tmp_path / "w.duckdb"),
                        "DARKCOMPUTE_MAX_LINE_BYTES": DEFAULTS["DARKCOMPUTE_MAX_LINE_BYTES"],
                        "DARKCOMPUTE_MAX_RECORD_TOKENS": DEFAULTS["DARKCOMPUTE_MAX_RECORD_TOKENS"]}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DARKCOMPUTE_LANDING_DIR", raising=False)
    resources = configured_resources()

    def materialize() -> tuple[int, list[tuple[int, str]]]:
        result = dg.materialize([app_calls], partition_key=DAY.isoformat(), resources=resources,
                                instance=dg.DagsterInstance.ephemeral())
        assert result.success
        [event] = result.get_asset_materialization_events()
        rejects = pq.read_table(tmp_path / "lake" / "bronze" / "app_calls_rejects" / f"date={DAY}" / "data.parquet")
        return event.materialization.metadata["records"].value, [(r["line"], r["reason"]) for r in rejects.to_pylist()]

    assert materialize() == (4, [])  # the defaults: every line is a call

    monkeypatch.setenv("DARKCOMPUTE_MAX_LINE_BYTES", "4096")
    monkeypatch.setenv("DARKCOMPUTE_MAX_RECORD_TOKENS", "1000")
    assert materialize() == (2, [
        (2, f"line of {len(json.dumps(big)) + 1} bytes is longer than DARKCOMPUTE_MAX_LINE_BYTES: not read"),
        (3, "count above 1000 in one record, more than any day could hold (DARKCOMPUTE_MAX_RECORD_TOKENS)")])

    monkeypatch.setenv("DARKCOMPUTE_MAX_LINE_BYTES", "lots")  # a bad value fails the run, naming the variable
    result = dg.materialize([app_calls], partition_key=DAY.isoformat(), resources=resources,
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_failure_data.error.cause.message.strip() == (
        "ValueError: DARKCOMPUTE_MAX_LINE_BYTES must be a positive whole number, got 'lots'")


@pytest.mark.parametrize(("value", "status"), [(None, "STOPPED"), ("stopped", "STOPPED"), ("running", "RUNNING"),
                                               (" Running ", "RUNNING")])
def test_the_schedule_default_state_is_a_setting(monkeypatch, value, status):
    import importlib

    from pipelines.defs import schedules

    if value is None:
        monkeypatch.delenv("DARKCOMPUTE_SCHEDULE_DEFAULT", raising=False)
    else:
        monkeypatch.setenv("DARKCOMPUTE_SCHEDULE_DEFAULT", value)
    try:
        reloaded = importlib.reload(schedules)
        assert reloaded.nightly.default_status.name == status
        assert f"Default state: {status.lower()} (DARKCOMPUTE_SCHEDULE_DEFAULT" in reloaded.nightly.description
    finally:
        monkeypatch.delenv("DARKCOMPUTE_SCHEDULE_DEFAULT", raising=False)
        importlib.reload(schedules)
    # the README's configuration table documents it, with its default
    [row] = [line for line in (REPO / "README.md").read_text().splitlines()
             if line.startswith("| `DARKCOMPUTE_SCHEDULE_DEFAULT` |")]
    assert "| `stopped` |" in row


def test_a_bad_schedule_default_names_the_setting(monkeypatch):
    from pipelines.defs.settings import parse_schedule_default

    with pytest.raises(ValueError, match="DARKCOMPUTE_SCHEDULE_DEFAULT: expected 'running' or 'stopped', got 'on'"):
        parse_schedule_default("on")
