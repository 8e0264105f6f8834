"""Resources: where sources are read from, the Parquet lake, and the DuckDB warehouse."""


from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.lib import runlock, sql
from pipelines.lib.lake import Lake
from pipelines.lib.pages import all_empty
from pipelines.lib.store import LocalStore, SourceFile, open_store

from .anthropic.pull import AnthropicAdminAPI
from .openai.pull import OpenAIAdminAPI
from .settings import duckdb_temp_dir, landing_dir, setting, storage_errors


class SourceStore(dg.ConfigurableResource):
    """Where sources are delivered: the source root (`DARKCOMPUTE_SOURCE_URI`, a local folder or
    `s3://bucket/prefix`) and the pages pulled from provider APIs (`<landing>/api`), both laid
    out as the source contract."""

    uri: str
    pulled: str = ""

    def store(self):
        return open_store(self.uri)

    def day_files(self, prefix: str, day: date) -> list[SourceFile]:
        """Every file delivered under `<prefix>/<YYYY-MM-DD>/`, read, in key order. Pages pulled
        from the provider's API for that folder replace the source root's (a re-pull is the newer
        statement), unless the pull was empty (its pages hold no result) and the source root
        delivered the folder: an empty answer never wipes out an export. A file delivered twice
        under two names is ingested under both (so both show in `ingest_files`); staging counts
        its content once (by content hash, or call key)."""
        return list(self.iter_day_files(prefix, day))

    def iter_day_files(self, prefix: str, day: date) -> Iterator[SourceFile]:
        """`day_files`, read one file at a time as the caller asks for them (a day of logs is
        gigabytes: a parser holds a batch of files, never the folder)."""
        folder = f"{prefix}/{day.isoformat()}"
        root = self.store()
        pulled = LocalStore(self.pulled) if self.pulled else None
        pulled_keys = pulled.list(folder) if pulled is not None else []
        store = root
        if pulled_keys and not (all_empty(pulled.read(k).data for k in pulled_keys) and root.list(folder)):
            store = pulled
        return (store.read(key) for key in store.list(folder))


class LakeStore(dg.ConfigurableResource):
    """The Parquet lake (`DARKCOMPUTE_LAKE_DIR`).

    A step that uses it holds the lake's run lock shared while it runs (`pipelines/lib/runlock.py`):
    a step of a run launched from the UI or the schedule fails at once, naming the run, while a
    `darkcompute reconcile` holds the lake, and `reconcile` exits 75 while such a step runs. Inside
    `reconcile` itself the lock is already held (exclusively) by the same process."""

    root: str

    def lake(self) -> Lake:
        return Lake(self.root)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        runlock.acquire(self.root, shared=True)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        runlock.release(self.root)


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file (`DARKCOMPUTE_WAREHOUSE`) and the settings every DuckDB session uses.

    Only the `warehouse_tables` asset writes the file (Dagster pool `duckdb_warehouse`, limit 1),
    and never in place: it writes a new file and renames it over the old one (see
    `reconcile/publish.py`), so readers are never blocked. Everything else computes in an
    in-memory session over the lake.
    """

    path: str
    threads: int = 0
    memory_limit: str = ""
    temp_directory: str = ""

    def compute(self) -> duckdb.DuckDBPyConnection:
        """An in-memory session for computing (reads the lake, writes nothing shared)."""
        return self._connect(":memory:")

    def session(self, path: str) -> duckdb.DuckDBPyConnection:
        """A session on the DuckDB file at `path` (the publisher's new warehouse file)."""
        return self._connect(path)

    def _connect(self, path: str) -> duckdb.DuckDBPyConnection:
        with storage_errors():
            return sql.connect(path, threads=self.threads or None, memory_limit=self.memory_limit or None,
                               temp_directory=self.temp_directory or None)


def partition_day(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def next_day(day: date) -> date:
    return day + timedelta(days=1)


def configured_resources() -> dict:
    """The resources as the environment configures them now (see `settings.DEFAULTS`)."""
    pulled = str(Path(landing_dir()) / "api")
    return {
        "sources": SourceStore(uri=setting("DARKCOMPUTE_SOURCE_URI"), pulled=pulled),
        "openai_admin": OpenAIAdminAPI.from_env(landing=pulled),
        "anthropic_admin": AnthropicAdminAPI.from_env(landing=pulled),
        "lake": LakeStore(root=setting("DARKCOMPUTE_LAKE_DIR")),
        "warehouse": Warehouse(
            path=setting("DARKCOMPUTE_WAREHOUSE"),
            threads=int(setting("DARKCOMPUTE_DUCKDB_THREADS") or 0),
            memory_limit=setting("DARKCOMPUTE_DUCKDB_MEMORY_LIMIT"),
            temp_directory=duckdb_temp_dir(),
        ),
    }


defs = dg.Definitions(resources=configured_resources())
