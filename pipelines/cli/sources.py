"""Where `reconcile` reads: the source root checked before any Dagster work starts, and the days
its deliveries name. No Dagster import here: a source that is missing or empty fails in a fraction
of a second (an S3 root is listed with the `sources` resource's settings, which imports Dagster).

The folders and how each names its days come from the registry of lake tables, the sources file
(`sql/models/staging/_sources.yml`, each ingested table's `meta.delivered`), not from a list kept
here; tests/test_cli_navigation.py checks that registry against the ingest code's own folders.
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

SOURCES_FILE = Path(__file__).resolve().parents[2] / "sql" / "models" / "staging" / "_sources.yml"
DAY_FORMS = ("date_folder", "yyyy/mm/dd", "billing_period")


class BadSource(ValueError):
    """A source root reconcile cannot read from, with the path and what was expected there."""


@dataclass(frozen=True)
class Delivery:
    """One ingested table's folders in the source root: `provider` None for the app and worker logs."""

    table: str
    provider: str | None
    folders: tuple[str, ...]
    days: str  # one of DAY_FORMS


@lru_cache(maxsize=1)
def deliveries() -> tuple[Delivery, ...]:
    """The registry: every bronze table whose ingest reads the source root, as the sources file declares it."""
    out = []
    for source in yaml.safe_load(SOURCES_FILE.read_text())["sources"]:
        for table in source["tables"]:
            delivered = (table.get("meta") or {}).get("delivered")
            if delivered:
                if delivered["days"] not in DAY_FORMS:
                    raise ValueError(f"{SOURCES_FILE}: {table['name']}: days must be one of {DAY_FORMS}")
                out.append(Delivery(table["name"], delivered.get("provider"), tuple(delivered["folders"]),
                                    delivered["days"]))
    return tuple(out)


def expected_folders() -> str:
    return ", ".join(f"{folder}/" for d in deliveries() for folder in d.folders)


def survey(source_uri: str, every: bool = True) -> dict[Delivery, list[str]]:
    """The keys under each registry folder of the source root, the providers' first (`every`
    False: up to the first folder holding any, enough to know the root is the right place).
    BadSource, naming the root, when it is missing, not a folder, holds no file at all, or none
    under any folder the ingest reads."""
    text = str(source_uri)
    if text.startswith("s3://"):
        store = _s3_store(text)
    else:
        from pipelines.lib.store import LocalStore

        root = Path(text.removeprefix("file://"))
        if not root.exists():
            raise BadSource(f"source folder {root} does not exist (set by --source or DARKCOMPUTE_SOURCE_URI)")
        if not root.is_dir():
            raise BadSource(f"source {root} is not a folder (set by --source or DARKCOMPUTE_SOURCE_URI)")
        if not _any_file(root):
            raise BadSource(f"source folder {root} is empty: no files at all")
        store = LocalStore(root)
    found = {}
    for delivery in sorted(deliveries(), key=lambda d: d.provider is None):
        keys = [key for folder in delivery.folders for key in store.list(folder)]
        if keys:
            found[delivery] = keys
            if not every:
                break
    if not found:
        raise BadSource(f"source {text} holds no provider exports or logs: expected files under some of "
                        f"{expected_folders()}")
    return found


def export_days(source_uri: str, found: dict[Delivery, list[str]] | None = None) -> list[date]:
    """Every day from the first to the last that a provider's delivery names (the logs do not
    count: without an export there is nothing to reconcile them against)."""
    found = survey(source_uri) if found is None else found
    days: set[date] = set()
    for delivery, keys in found.items():
        if delivery.provider and keys:
            days |= _days(delivery, keys, source_uri)
    if not days:
        return []
    first, last = min(days), max(days)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _days(delivery: Delivery, keys: list[str], source_uri: str) -> set[date]:
    if delivery.days == "date_folder":  # <folder>/YYYY-MM-DD/...
        out = set()
        for folder in delivery.folders:
            for key in keys:
                if key.startswith(f"{folder}/"):
                    try:
                        out.add(date.fromisoformat(key[len(folder) + 1:].split("/", 1)[0]))
                    except ValueError:
                        continue
        return out
    if delivery.days == "yyyy/mm/dd":
        return _invocation_days(keys)
    return _usage_days(keys, source_uri)


def _invocation_days(keys: list[str]) -> set[date]:
    """Bedrock invocation logs: the delivery days of the log objects (`.../YYYY/MM/DD/HH/`, as the
    ingest partitions them), but for a day whose every object was delivered in its first hour
    (`HH` 00): those hold the last calls of the day before, delivered after midnight, not a day
    of use (a day of use is delivered through its hours)."""
    from pipelines.defs.bedrock.parse import delivery_day, object_kind

    hours: dict[date, set[str]] = {}
    for key in keys:
        day = delivery_day(key)
        if day is not None and object_kind(key) == "log":
            hours.setdefault(day, set()).add(key[key.index(f"{day:%Y/%m/%d}/") + 11:][:2])
    return {day for day, seen in hours.items() if seen != {"00"}}


def _usage_days(keys: list[str], source_uri: str) -> set[date]:
    """CUR: a folder names only its billing period (`BILLING_PERIOD=YYYY-MM`); the days are the
    first and last its data files' lines were used on (`line_item_usage_start_date`, one column read)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    store = _s3_store(source_uri) if source_uri.startswith("s3://") else None
    if store is None:
        from pipelines.lib.store import open_store

        store = open_store(source_uri)
    column = "line_item_usage_start_date"
    out: set[date] = set()
    for key in keys:
        if "/data/BILLING_PERIOD=" not in key:
            continue
        data = store.read(key).data
        try:
            if key.endswith(".parquet"):
                values = pq.read_table(io.BytesIO(data), columns=[column])[column]
            elif key.endswith((".csv.gz", ".csv")):
                raw = gzip.decompress(data) if key.endswith(".gz") else data
                options = pacsv.ConvertOptions(include_columns=[column], column_types={column: pa.string()})
                values = pc.utf8_slice_codeunits(pacsv.read_csv(io.BytesIO(raw), convert_options=options)[column], 0, 10)
            else:
                continue
        except (pa.ArrowException, OSError, EOFError, KeyError):  # the ingest rejects it, with the reason
            continue
        bounds = pc.min_max(values)
        for value in (bounds["min"].as_py(), bounds["max"].as_py()):
            if value is not None:
                try:
                    out.add(value.date() if hasattr(value, "date") else date.fromisoformat(str(value)))
                except ValueError:
                    continue
    return out


def _any_file(root: Path) -> bool:
    for _folder, _dirs, files in os.walk(root):
        if any(not name.startswith(".") for name in files):
            return True
    return False


def dagster():
    """Dagster, imported with its beta and preview warnings silenced (it flags APIs at import; the
    user of the CLI cannot act on that)."""
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    return dg


def _s3_store(uri: str):  # never cached: the environment (the endpoint, the retries) may change between runs
    dagster()
    from pipelines.defs.resources import configured_resources

    return configured_resources()["sources"].process_config_and_initialize().store(uri)
