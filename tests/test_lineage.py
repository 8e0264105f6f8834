"""The lineage as the Dagster UI shows it, asked of Dagster's GraphQL API over the code location
`pipelines.definitions` (as `make ui` loads it): every dbt model is an asset node of its layer's
group, documented, with a column schema; every bronze ingest asset reaches fct_dark_compute only
through staging and intermediate models."""

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster_graphql.test.utils import (
    define_out_of_process_context,
    execute_dagster_graphql,
)

from pipelines.lib.dbt import manifest

pytestmark = pytest.mark.slow  # a Dagster code server: make test-fast leaves it out

ROOT = Path(__file__).resolve().parents[1]

ASSET_NODES = """
{
  assetNodes {
    assetKey { path }
    groupName
    description
    dependencyKeys { path }
    metadataEntries {
      label
      ... on TableSchemaMetadataEntry { schema { columns { name description } } }
    }
  }
}
"""


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workspace")
    workspace = folder / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": {
        "module_name": "pipelines.definitions", "attribute": "defs", "working_directory": str(ROOT),
        "location_name": "darkcompute"}}]}))
    with dg.instance_for_test(temp_dir=str(folder)) as instance, \
            define_out_of_process_context(str(workspace), None, instance) as context:
        result = execute_dagster_graphql(context, ASSET_NODES)
    assert not result.errors, result.errors
    return {"/".join(n["assetKey"]["path"]): n for n in result.data["assetNodes"]}


def models() -> dict[str, str]:
    """Every model of the project -> its layer (the folder under `sql/models/`)."""
    return {n["name"]: n["fqn"][1] for n in manifest()["nodes"].values() if n["resource_type"] == "model"}


def bronze_assets() -> set[str]:
    """The ingest assets the project's bronze sources name (`meta.dagster.asset_key`)."""
    return {"/".join(s["meta"]["dagster"]["asset_key"]) for s in manifest()["sources"].values()
            if s["source_name"] == "bronze"}


def test_every_model_is_an_asset_of_its_layer(nodes):
    layers = models()
    assert set(layers.values()) == {"staging", "intermediate", "marts"}
    assert len(layers) >= 28
    assert {name: nodes[name]["groupName"] for name in layers if name in nodes} == layers
    assert bronze_assets() == {"openai_usage", "openai_costs", "anthropic_usage", "anthropic_costs",
                               "bedrock_invocations", "cur_lines", "app_calls", "worker_calls"}
    assert nodes["dim_price"]["dependencyKeys"] and {"price_catalog", "dim_model"} == {
        "/".join(k["path"]) for k in nodes["dim_price"]["dependencyKeys"]}


def test_every_model_is_documented_with_a_column_schema(nodes):
    undocumented, unschemed = [], []
    for name in models():
        node = nodes[name]
        if not (node["description"] or "").strip():
            undocumented.append(name)
        schemas = [e for e in node["metadataEntries"] if e["label"] == "dagster/column_schema"]
        if not schemas or not schemas[0]["schema"]["columns"]:
            unschemed.append(name)
    assert undocumented == [] and unschemed == []


def test_every_bronze_asset_reaches_the_dark_compute_mart_through_staging_and_intermediate(nodes):
    parents = {key: {"/".join(k["path"]) for k in n["dependencyKeys"]} for key, n in nodes.items()}
    layer = models()

    def paths_up(key: str, stop: str) -> list[list[str]]:
        """Every path from `key` up its dependencies to `stop` (leaf first)."""
        if key == stop:
            return [[key]]
        return [[*path, key] for parent in parents.get(key, ()) for path in paths_up(parent, stop)]

    for bronze in sorted(bronze_assets()):
        paths = paths_up("fct_dark_compute", bronze)
        assert paths, f"no lineage from {bronze} to fct_dark_compute"
        for path in paths:
            layers = [layer.get(key, "ingest") for key in path]
            assert layers[0] == "ingest" and layers[1] == "staging" and layers[-1] == "marts", path
            assert "intermediate" in layers, path
            # the layers never step back: ingest -> staging -> intermediate -> marts
            order = ["ingest", "staging", "intermediate", "marts"]
            assert [order.index(x) for x in layers] == sorted(order.index(x) for x in layers), path
