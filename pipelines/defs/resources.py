"""Resources: where sources are read from, the Parquet lake, the DuckDB warehouse, and the
settings of ingestion (limits, the LiteLLM attribution rule) and of the reconciliation.

Every setting of the README's configuration table is a field of one of them, bound to its
environment variable with `dg.EnvVar` by `configured_resources` (the Dagster UI shows the
binding): the value is read when a run starts, not when the code is loaded. A variable that is
not set when the code location loads is bound to its documented default instead (Dagster fails a
run on an `EnvVar` whose variable is unset). Values are checked where they are used, with the
messages of `settings.py` (a bad value names its variable and says what was expected).
"""


from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from pipelines.lib import runlock, sql
from pipelines.lib.disk import explained
from pipelines.lib.env import positive_int
from pipelines.lib.lake import Lake
from pipelines.lib.lines import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINE_BYTES
from pipelines.lib.pages import all_empty
from pipelines.lib.store import LocalStore, SourceFile, open_store

from .anthropic.pull import AnthropicAdminAPI
from .logs.litellm import parse_rule
from .openai.pull import OpenAIAdminAPI
from .settings import (
    DEFAULTS,
    bind,
    landing_folder,
    parse_anomaly_factor,
    parse_anomaly_min_usd,
    parse_anomaly_severity,
    parse_cache_hit_drop_points,
    parse_cost_growth_factor,
    parse_max_record_tokens,
    parse_min_coverage,
    parse_price_gap_share,
    parse_retry_amplification_factor,
    parse_settle_days,
    report_folder,
)


class SourceStore(dg.ConfigurableResource):
    """Where sources are delivered: the source root (`DARKCOMPUTE_SOURCE_URI`, a local folder or
    `s3://bucket/prefix`) and the pages pulled from provider APIs (`<landing>/api`), both laid
    out as the source contract. Objects read from S3 land under `<landing>/s3`, with at most
    `s3_max_attempts` requests per object or listing page."""

    uri: str = Field(description="DARKCOMPUTE_SOURCE_URI: the source root, a folder or s3://bucket/prefix")
    pulled: str = Field(default="", description="where pulled API pages are read from; empty: <landing>/api "
                        "when a landing or lake folder is configured, else none")
    landing_dir: str = Field(default="", description="DARKCOMPUTE_LANDING_DIR; empty: <lake_dir>/landing")
    lake_dir: str = Field(default="", description="DARKCOMPUTE_LAKE_DIR (for the landing folder's default)")
    s3_max_attempts: str = Field(default=DEFAULTS["DARKCOMPUTE_S3_MAX_ATTEMPTS"],
                                 description="DARKCOMPUTE_S3_MAX_ATTEMPTS: requests per S3 call, the first included")
    s3_retry_mode: str = Field(default=DEFAULTS["AWS_RETRY_MODE"],
                               description="AWS_RETRY_MODE: botocore's retry mode for S3, standard or adaptive")

    def landing(self) -> str:
        """Where delivered objects and pulled pages land (`lake/landing` when nothing is configured)."""
        return landing_folder(self.landing_dir, self.lake_dir)

    def pulled_folder(self) -> str:
        if self.pulled:
            return self.pulled
        return str(Path(self.landing()) / "api") if self.landing() else ""

    def store(self, uri: str = ""):
        """The store of the source root (or of `uri`, with this resource's S3 settings)."""
        uri = uri or self.uri
        if not uri.startswith("s3://"):
            return open_store(uri)
        attempts = positive_int("DARKCOMPUTE_S3_MAX_ATTEMPTS", self.s3_max_attempts,
                                int(DEFAULTS["DARKCOMPUTE_S3_MAX_ATTEMPTS"]))
        return open_store(uri, self.landing() or None, max_attempts=attempts, retry_mode=self.s3_retry_mode)

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
        pulled = LocalStore(self.pulled_folder()) if self.pulled_folder() else None
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

    root: str = Field(description="DARKCOMPUTE_LAKE_DIR: the Parquet lake")

    def lake(self) -> Lake:
        return Lake(self.root)

    def storage_errors(self, during: str = "") -> AbstractContextManager[None]:
        """A block whose disk errors name the lake's path, DARKCOMPUTE_LAKE_DIR and what to do."""
        return explained([(self.root, "DARKCOMPUTE_LAKE_DIR", self.root)], during=during)

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

    path: str = Field(description="DARKCOMPUTE_WAREHOUSE: the DuckDB file for ad-hoc SQL")
    threads: int = Field(default=0, description="DARKCOMPUTE_DUCKDB_THREADS; 0: DuckDB's default (all cores)")
    memory_limit: str = Field(default="", description="DARKCOMPUTE_DUCKDB_MEMORY_LIMIT, e.g. 2GiB; empty: "
                              "DuckDB's default (80% of RAM)")
    temp_directory: str = Field(default="", description="DARKCOMPUTE_DUCKDB_TEMP_DIR: where DuckDB spills; empty: "
                                "<lake_dir>/.duckdb_tmp when lake_dir is set, else DuckDB's default")
    lake_dir: str = Field(default="", description="DARKCOMPUTE_LAKE_DIR (for the spill folder's default)")
    report_dir: str = Field(default="", description="DARKCOMPUTE_REPORT_DIR: where the nightly report is written; "
                            "empty: reports/ beside the warehouse file")

    def report_folder(self) -> str:
        """Where `dark_compute_report` writes the day's page and its PNG copy."""
        return report_folder(self.report_dir, self.path)

    def spill_dir(self) -> str:
        """Where DuckDB spills what exceeds its memory limit (not the working directory's `.tmp`)."""
        return self.temp_directory or (str(Path(self.lake_dir) / ".duckdb_tmp") if self.lake_dir else "")

    def compute(self) -> duckdb.DuckDBPyConnection:
        """An in-memory session for computing (reads the lake, writes nothing shared)."""
        return self._connect(":memory:")

    def session(self, path: str) -> duckdb.DuckDBPyConnection:
        """A session on the DuckDB file at `path` (the publisher's new warehouse file)."""
        return self._connect(path)

    def storage_errors(self, during: str = "") -> AbstractContextManager[None]:
        """A block whose disk errors (full, read-only, permission denied, a path of the wrong
        type, DuckDB's spill folder full) name the path, the setting that chose it and what to
        do; the spill folder first (it lies inside the lake by default)."""
        places = [(self.spill_dir(), "DARKCOMPUTE_DUCKDB_TEMP_DIR", self.temp_directory),
                  (self.path, "DARKCOMPUTE_WAREHOUSE", self.path), (self.lake_dir, "DARKCOMPUTE_LAKE_DIR", self.lake_dir)]
        return explained([p for p in places if p[0]], during=during)

    def _connect(self, path: str) -> duckdb.DuckDBPyConnection:
        with self.storage_errors():
            return sql.connect(path, threads=self.threads or None, memory_limit=self.memory_limit or None,
                               temp_directory=self.spill_dir() or None)


class IngestLimits(dg.ConfigurableResource):
    """What one delivered file, line or log record may hold before it is rejected as corrupt
    (bounds a parser's memory, whatever the input)."""

    max_line_bytes: str = Field(default=DEFAULTS["DARKCOMPUTE_MAX_LINE_BYTES"], description=(
        "DARKCOMPUTE_MAX_LINE_BYTES: a log or invocation line longer than this is rejected unread"))
    max_file_bytes: str = Field(default=DEFAULTS["DARKCOMPUTE_MAX_FILE_BYTES"], description=(
        "DARKCOMPUTE_MAX_FILE_BYTES: a gzipped file is unpacked to at most this"))
    max_record_tokens: str = Field(default=DEFAULTS["DARKCOMPUTE_MAX_RECORD_TOKENS"], description=(
        "DARKCOMPUTE_MAX_RECORD_TOKENS: a log record with more tokens in any class is rejected"))

    def line_bytes(self) -> int:
        return positive_int("DARKCOMPUTE_MAX_LINE_BYTES", self.max_line_bytes, DEFAULT_MAX_LINE_BYTES)

    def file_bytes(self) -> int:
        return positive_int("DARKCOMPUTE_MAX_FILE_BYTES", self.max_file_bytes, DEFAULT_MAX_FILE_BYTES)

    def record_tokens(self) -> int:
        return parse_max_record_tokens(self.max_record_tokens)


class LiteLLMAttribution(dg.ConfigurableResource):
    """How a LiteLLM payload's team, key, user and tags become the log contract's attribution
    (`logs/litellm.py`): the default rule with these overrides."""

    overrides: str = Field(default=DEFAULTS["DARKCOMPUTE_LITELLM_ATTRIBUTION"], description=(
        "DARKCOMPUTE_LITELLM_ATTRIBUTION: target=source,...;... (empty: the default rule)"))

    def rule(self) -> dict[str, tuple[str, ...]]:
        return parse_rule(self.overrides)


class Reconciliation(dg.ConfigurableResource):
    """When an invoice is final, and how much of it the logs must attribute."""

    settle_days: str = Field(default=DEFAULTS["DARKCOMPUTE_SETTLE_DAYS"], description=(
        "DARKCOMPUTE_SETTLE_DAYS: whole days after a usage day before its invoice is final, per provider"))
    min_coverage: str = Field(default=DEFAULTS["DARKCOMPUTE_MIN_COVERAGE"], description=(
        "DARKCOMPUTE_MIN_COVERAGE: the invoice_coverage check warns below this share, per provider"))
    price_overrides: str = Field(default=DEFAULTS["DARKCOMPUTE_PRICE_OVERRIDES"], description=(
        "DARKCOMPUTE_PRICE_OVERRIDES: the negotiated and private prices file (empty: prices/overrides.csv)"))
    price_gap_warn_share: str = Field(default=DEFAULTS["DARKCOMPUTE_PRICE_GAP_WARN_SHARE"], description=(
        "DARKCOMPUTE_PRICE_GAP_WARN_SHARE: the price_gap_within_share check warns when a cell's price gap "
        "is above this share of its invoice"))
    cost_growth_warn_factor: str = Field(default=DEFAULTS["DARKCOMPUTE_COST_GROWTH_WARN_FACTOR"], description=(
        "DARKCOMPUTE_COST_GROWTH_WARN_FACTOR: the cost_growth_within_users check warns when a feature's or job "
        "type's cost grew by more than this many times its users' growth over the trailing 4 weeks"))
    retry_amplification_warn: str = Field(default=DEFAULTS["DARKCOMPUTE_RETRY_AMPLIFICATION_WARN"], description=(
        "DARKCOMPUTE_RETRY_AMPLIFICATION_WARN: the retry_amplification_within_factor check warns when a cell's "
        "requests counted by the provider per logged call are above this factor"))
    cache_hit_drop_points: str = Field(default=DEFAULTS["DARKCOMPUTE_CACHE_HIT_DROP_POINTS"], description=(
        "DARKCOMPUTE_CACHE_HIT_DROP_POINTS: the cache_hit_rate_steady checks warn when a cell's or tenant's "
        "cache hit rate is more than this many points below its trailing 7-day median"))

    anomaly_factor: str = Field(default=DEFAULTS["DARKCOMPUTE_ANOMALY_FACTOR"], description=(
        "DARKCOMPUTE_ANOMALY_FACTOR: job_type_cost_within_factor flags a job type's cost of a provider-day above "
        "this factor of its trailing 7-day median"))
    anomaly_share_factor: str = Field(default=DEFAULTS["DARKCOMPUTE_ANOMALY_SHARE_FACTOR"], description=(
        "DARKCOMPUTE_ANOMALY_SHARE_FACTOR: dark_share_within_factor flags a provider's dark-compute share of the "
        "day's invoice above this factor of its trailing 7-day median"))
    anomaly_min_usd: str = Field(default=DEFAULTS["DARKCOMPUTE_ANOMALY_MIN_USD"], description=(
        "DARKCOMPUTE_ANOMALY_MIN_USD: a job type or provider whose dark cost of the day is below this is never "
        "an anomaly"))
    anomaly_severity: str = Field(default=DEFAULTS["DARKCOMPUTE_ANOMALY_SEVERITY"], description=(
        "DARKCOMPUTE_ANOMALY_SEVERITY: warn, or block (an anomaly fails its check with ERROR severity and the "
        "day's warehouse and report are not published)"))
    budgets: str = Field(default=DEFAULTS["DARKCOMPUTE_BUDGETS"], description=(
        "DARKCOMPUTE_BUDGETS: the daily budgets file (empty: config/budgets.csv)"))

    def anomaly(self) -> dict:
        """The anomaly checks' settings: factor, share_factor, min_usd (Decimals), severity."""
        return {"factor": parse_anomaly_factor("DARKCOMPUTE_ANOMALY_FACTOR", self.anomaly_factor),
                "share_factor": parse_anomaly_factor("DARKCOMPUTE_ANOMALY_SHARE_FACTOR", self.anomaly_share_factor),
                "min_usd": parse_anomaly_min_usd(self.anomaly_min_usd),
                "severity": parse_anomaly_severity(self.anomaly_severity)}

    def settle(self) -> dict[str, int]:
        return parse_settle_days(self.settle_days)

    def coverage(self) -> Decimal:
        return parse_min_coverage(self.min_coverage)

    def price_gap_share(self) -> Decimal:
        return parse_price_gap_share(self.price_gap_warn_share)

    def cost_growth_factor(self) -> Decimal:
        return parse_cost_growth_factor(self.cost_growth_warn_factor)

    def retry_amplification_factor(self) -> Decimal:
        return parse_retry_amplification_factor(self.retry_amplification_warn)

    def cache_hit_drop(self) -> Decimal:
        return parse_cache_hit_drop_points(self.cache_hit_drop_points)


def partition_day(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def next_day(day: date) -> date:
    return day + timedelta(days=1)


def configured_resources() -> dict:
    """The resources bound to the environment: each setting through `dg.EnvVar` when its
    variable is set (read when a run starts), else its documented default (`settings.DEFAULTS`)."""
    lake_dir, landing_dir = bind("DARKCOMPUTE_LAKE_DIR"), bind("DARKCOMPUTE_LANDING_DIR")
    threads = dg.EnvVar.int("DARKCOMPUTE_DUCKDB_THREADS") if bind("DARKCOMPUTE_DUCKDB_THREADS") else 0
    return {
        "sources": SourceStore(uri=bind("DARKCOMPUTE_SOURCE_URI"), landing_dir=landing_dir, lake_dir=lake_dir,
                               s3_max_attempts=bind("DARKCOMPUTE_S3_MAX_ATTEMPTS"),
                               s3_retry_mode=bind("AWS_RETRY_MODE")),
        "openai_admin": OpenAIAdminAPI.from_env(),
        "anthropic_admin": AnthropicAdminAPI.from_env(),
        "lake": LakeStore(root=lake_dir),
        "warehouse": Warehouse(path=bind("DARKCOMPUTE_WAREHOUSE"), threads=threads,
                               memory_limit=bind("DARKCOMPUTE_DUCKDB_MEMORY_LIMIT"),
                               temp_directory=bind("DARKCOMPUTE_DUCKDB_TEMP_DIR"), lake_dir=lake_dir,
                               report_dir=bind("DARKCOMPUTE_REPORT_DIR")),
        "ingest_limits": IngestLimits(max_line_bytes=bind("DARKCOMPUTE_MAX_LINE_BYTES"),
                                      max_file_bytes=bind("DARKCOMPUTE_MAX_FILE_BYTES"),
                                      max_record_tokens=bind("DARKCOMPUTE_MAX_RECORD_TOKENS")),
        "litellm": LiteLLMAttribution(overrides=bind("DARKCOMPUTE_LITELLM_ATTRIBUTION")),
        "reconciliation": Reconciliation(settle_days=bind("DARKCOMPUTE_SETTLE_DAYS"),
                                         min_coverage=bind("DARKCOMPUTE_MIN_COVERAGE"),
                                         price_overrides=bind("DARKCOMPUTE_PRICE_OVERRIDES"),
                                         price_gap_warn_share=bind("DARKCOMPUTE_PRICE_GAP_WARN_SHARE"),
                                         cost_growth_warn_factor=bind("DARKCOMPUTE_COST_GROWTH_WARN_FACTOR"),
                                         anomaly_factor=bind("DARKCOMPUTE_ANOMALY_FACTOR"),
                                         anomaly_share_factor=bind("DARKCOMPUTE_ANOMALY_SHARE_FACTOR"),
                                         anomaly_min_usd=bind("DARKCOMPUTE_ANOMALY_MIN_USD"),
                                         anomaly_severity=bind("DARKCOMPUTE_ANOMALY_SEVERITY"),
                                         budgets=bind("DARKCOMPUTE_BUDGETS"),
                                         retry_amplification_warn=bind("DARKCOMPUTE_RETRY_AMPLIFICATION_WARN"),
                                         cache_hit_drop_points=bind("DARKCOMPUTE_CACHE_HIT_DROP_POINTS")),
    }


defs = dg.Definitions(resources=configured_resources())
