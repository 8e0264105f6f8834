"""The Dagster code location: everything under `pipelines/defs/`, loaded by convention."""

import warnings
from pathlib import Path

import dagster as dg

# dagster-dbt gives the partitioned dbt assets a backfill policy (one partition per run, as set in
# reconcile/assets.py; the other assets have none, which runs one partition per run too), and Dagster
# warns on every job that mixes them. (Here, not beside the assets: the defs folder loads under
# warnings.catch_warnings, which undoes a filter set while loading.)
warnings.filterwarnings("ignore", message="Asset job .* materializes assets with varying BackfillPolicies")


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(project_root=Path(__file__).resolve().parent.parent)
