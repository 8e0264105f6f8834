"""One registry of providers (issue 11 item 5): the var `providers` in `sql/dbt_project.yml`, from
which `sql/macros/union_providers.sql` writes the intermediate layer's unions, agrees with the
sources file and the staging models.

dbt renders every model before it reads a YAML file, so the unions cannot be read from the sources
file itself; these checks are what keeps the var, `sql/models/staging/_sources.yml` and
`sql/models/staging/` from drifting apart. A provider left out of the var would be left out of the
marts without an error, so the checks are also run on a copy of the project with a fourth provider
whose registration is forgotten: it must be named.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipelines.lib.dbt import MARTS, PROJECT_DIR, lake_sources, manifest

DBT = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "dbt"


def registry(project: Path) -> dict[str, list[str]]:
    return yaml.safe_load((project / "dbt_project.yml").read_text())["vars"]["providers"]


def registry_problems(project: Path, parsed: dict) -> list[str]:
    """What disagrees between the var `providers`, the sources file and the staging models of the
    parsed project `parsed` (its manifest)."""
    models = {n["name"]: n for n in parsed["nodes"].values()
              if n["resource_type"] == "model" and n["package_name"] == "darkcompute"}
    staging = {name for name, n in models.items() if n["original_file_path"].startswith("models/staging/")}
    registered = {f"stg_{provider}_{kind}": provider
                  for provider, kinds in registry(project).items() for kind in kinds}
    children = parsed["child_map"]
    marts = {f"model.darkcompute.{m}" for m in MARTS}

    def feeds_a_mart(unique_id: str) -> bool:
        seen, todo = set(), [unique_id]
        while todo:
            node = todo.pop()
            if node in marts:
                return True
            if node not in seen:
                seen.add(node)
                todo += children.get(node, [])
        return False

    def bronze_read(name: str) -> set[str]:
        """The bronze tables a model reads, through other staging models too."""
        out, todo = set(), [f"model.darkcompute.{name}"]
        while todo:
            for parent in parsed["parent_map"].get(todo.pop(), []):
                if parent.startswith("source.darkcompute.bronze."):
                    out.add(parent.rsplit(".", 1)[1])
                elif parent.startswith("model.darkcompute.") and parent.rsplit(".", 1)[1] in staging:
                    todo.append(parent)
        return out

    problems = []
    for name, provider in sorted(registered.items()):
        if name not in staging:
            problems.append(f"the var providers names {name} ({provider}), which is no model in models/staging/")
        elif not bronze_read(name):
            problems.append(f"{name} ({provider}) reads no bronze table of the sources file")
    for name in sorted(staging):
        if not feeds_a_mart(f"model.darkcompute.{name}"):
            problems.append(f"staging model {name} feeds no mart: is its provider and kind in the var providers?")
    declared = yaml.safe_load((project / "models" / "staging" / "_sources.yml").read_text())["sources"]
    for source in declared:
        for table in source["tables"] if source["name"] == "bronze" else []:
            if not feeds_a_mart(f"source.darkcompute.bronze.{table['name']}"):
                problems.append(f"bronze table {table['name']} of the sources file feeds no mart")
    return problems


def test_the_registry_lists_the_providers_staging_models_in_union_order():
    assert registry(PROJECT_DIR) == {
        "openai": ["usage", "costs", "source_status"],
        "anthropic": ["usage", "costs", "source_status"],
        "bedrock": ["usage", "costs", "source_status", "calls"],
    }
    parents = manifest()["parent_map"]
    assert sorted(parents["model.darkcompute.int_provider_usage"]) == [
        "model.darkcompute.dim_model", "model.darkcompute.stg_anthropic_usage",
        "model.darkcompute.stg_bedrock_usage", "model.darkcompute.stg_openai_usage"]
    assert sorted(p for p in parents["model.darkcompute.int_calls"] if "_calls" in p) == [
        "model.darkcompute.stg_bedrock_calls", "model.darkcompute.stg_model_calls"]
    assert len(parents["model.darkcompute.int_model_names"]) == 8


def test_the_var_the_sources_file_and_the_staging_models_agree():
    parsed = manifest()
    assert registry_problems(PROJECT_DIR, parsed) == []
    # the tables the orchestrator lists for a run are the sources file's, every one of them checked
    assert len([t for source, t, _ in lake_sources() if source == "bronze"]) == 12


@pytest.fixture(scope="module")
def forgotten_provider(tmp_path_factory) -> Path:
    """A copy of the project with a provider `mistral` whose bronze table and staging model exist
    but whose line in the var `providers` was forgotten."""
    project = tmp_path_factory.mktemp("project") / "sql"
    project.mkdir()
    for item in ("dbt_project.yml", "profiles.yml", "models", "macros"):
        src = PROJECT_DIR / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, project / item)
    sources = yaml.safe_load((project / "models" / "staging" / "_sources.yml").read_text())
    bronze = next(s for s in sources["sources"] if s["name"] == "bronze")
    bronze["tables"].append({"name": "mistral_usage", "columns": [
        {"name": "usage_date", "data_type": "DATE"}, {"name": "model", "data_type": "VARCHAR"}]})
    (project / "models" / "staging" / "_sources.yml").write_text(yaml.safe_dump(sources, sort_keys=False))
    (project / "models" / "staging" / "stg_mistral_usage.sql").write_text(
        "select 'mistral' as provider, usage_date, model from {{ source('bronze', 'mistral_usage') }}\n")
    return project


def dbt(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(DBT), *args, "--project-dir", str(project), "--profiles-dir", str(project),
                           "--no-send-anonymous-usage-stats"], check=False, capture_output=True, text=True, cwd=project)


@pytest.mark.slow  # dbt parses a copy of the project (tens of seconds)
def test_a_provider_missing_from_the_var_is_named(forgotten_provider):
    parse = dbt(forgotten_provider, "parse")
    assert parse.returncode == 0, parse.stdout + parse.stderr
    parsed = json.loads((forgotten_provider / "target" / "manifest.json").read_text())
    assert registry_problems(forgotten_provider, parsed) == [
        "staging model stg_mistral_usage feeds no mart: is its provider and kind in the var providers?",
        "bronze table mistral_usage of the sources file feeds no mart",
    ]


@pytest.mark.slow  # dbt parses a copy of the project (tens of seconds)
def test_dbt_refuses_a_union_that_leaves_a_staging_model_out(forgotten_provider):
    compiled = dbt(forgotten_provider, "compile", "--select", "int_provider_usage")
    assert compiled.returncode != 0
    assert ("stg_mistral_usage is not in the union of usage staging models: add its provider and kind to "
            "the var `providers` in sql/dbt_project.yml") in compiled.stdout


@pytest.mark.slow  # dbt parses a copy of the project (tens of seconds)
def test_a_registered_provider_is_unioned_and_one_without_its_model_is_refused(forgotten_provider):
    project = forgotten_provider
    text = (project / "dbt_project.yml").read_text()
    line = "    bedrock: [usage, costs, source_status, calls]\n"
    assert line in text
    try:
        (project / "dbt_project.yml").write_text(text.replace(line, line + "    mistral: [usage]\n"))
        assert dbt(project, "parse").returncode == 0
        parsed = json.loads((project / "target" / "manifest.json").read_text())
        assert registry_problems(project, parsed) == []
        compiled = dbt(project, "compile", "--select", "int_provider_usage", "--quiet", "--output", "text")
        assert compiled.returncode == 0, compiled.stdout
        assert compiled.stdout.count(" as stg_mistral_usage") == 1
        assert compiled.stdout.index("as stg_bedrock_usage") < compiled.stdout.index("as stg_mistral_usage")

        # registered with a kind it has no model of: dbt stops at the ref
        (project / "dbt_project.yml").write_text(text.replace(line, line + "    mistral: [usage, costs]\n"))
        parse = dbt(project, "parse")
        assert parse.returncode != 0
        assert "stg_mistral_costs" in parse.stdout and "was not found" in parse.stdout
    finally:
        (project / "dbt_project.yml").write_text(text)
