"""The settings (the README's configuration table): their documented defaults and the checks of
their values. The values reach the code through the resources' fields (`resources.py` binds each
to its variable with `dg.EnvVar`); the functions here parse a value they are given."""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

DEFAULTS = {
    "DARKCOMPUTE_SOURCE_URI": str(REPO / "data_samples" / "sources"),
    "DARKCOMPUTE_LAKE_DIR": "lake",
    "DARKCOMPUTE_WAREHOUSE": "warehouse.duckdb",
    "DARKCOMPUTE_LANDING_DIR": "",  # empty: <DARKCOMPUTE_LAKE_DIR>/landing
    "DARKCOMPUTE_DUCKDB_THREADS": "",
    "DARKCOMPUTE_DUCKDB_MEMORY_LIMIT": "",
    "DARKCOMPUTE_DUCKDB_TEMP_DIR": "",  # empty: <DARKCOMPUTE_LAKE_DIR>/.duckdb_tmp
    "DARKCOMPUTE_MAX_LINE_BYTES": str(64 * 1024 * 1024),
    "DARKCOMPUTE_MAX_FILE_BYTES": str(512 * 1024 * 1024),
    "DARKCOMPUTE_S3_MAX_ATTEMPTS": "10",
    "AWS_RETRY_MODE": "standard",  # botocore's retry mode for S3: standard or adaptive
    "DARKCOMPUTE_OPENAI_API_URL": "https://api.openai.com",
    "DARKCOMPUTE_ANTHROPIC_API_URL": "https://api.anthropic.com",
    "DARKCOMPUTE_MIN_COVERAGE": "0.5",
    # the price_gap_within_share check warns when a cell's price gap exceeds this share of its invoice
    "DARKCOMPUTE_PRICE_GAP_WARN_SHARE": "0.05",
    # the cost_growth_within_users check warns when a feature's or job type's cost grew by more than
    # this many times its users' growth over the trailing 4 weeks
    "DARKCOMPUTE_COST_GROWTH_WARN_FACTOR": "2.0",
    # the retry_amplification_within_factor check warns when a cell's provider requests per logged call exceed this
    "DARKCOMPUTE_RETRY_AMPLIFICATION_WARN": "1.5",
    # the cache_hit_rate_steady checks warn when a cell's or tenant's prompt-cache hit rate is more
    # than this many percentage points below its trailing 7-day median
    "DARKCOMPUTE_CACHE_HIT_DROP_POINTS": "20",
    # days after the end of a usage day before its invoice is trusted as final, per provider
    "DARKCOMPUTE_SETTLE_DAYS": "openai=1,anthropic=1,aws.bedrock=2",
    # a log record above this many tokens (or requests) in any class cannot be true, even for a
    # whole job's aggregate: it is rejected as corrupt
    "DARKCOMPUTE_MAX_RECORD_TOKENS": "10000000000000",
    # overrides of the LiteLLM attribution rule (pipelines/defs/logs/litellm.py), e.g.
    # "job_type=tag:job_type,metadata:job_type;billing.account=team_alias"
    "DARKCOMPUTE_LITELLM_ATTRIBUTION": "",
    # the nightly schedule's state until someone turns it on or off in the UI: running or stopped
    "DARKCOMPUTE_SCHEDULE_DEFAULT": "stopped",
    "DARKCOMPUTE_REPORT_DIR": "",  # empty: `reports/` in the warehouse file's folder
    "DARKCOMPUTE_PRICE_OVERRIDES": "",  # empty: the committed prices/overrides.csv
    # the anomaly checks: a job type's dark cost (provider-day) above this factor of its trailing
    # 7-day median warns; so does a provider's dark-compute share above its own factor
    "DARKCOMPUTE_ANOMALY_FACTOR": "3",
    "DARKCOMPUTE_ANOMALY_SHARE_FACTOR": "1.5",
    "DARKCOMPUTE_ANOMALY_MIN_USD": "5",  # a cell that cost less on the day is never an anomaly
    "DARKCOMPUTE_ANOMALY_SEVERITY": "warn",  # warn, or block: an anomaly keeps the day from publishing
    "DARKCOMPUTE_BUDGETS": "",  # empty: the committed config/budgets.csv
}


def setting(name: str) -> str:
    """The environment's value for `name`, or its documented default. Only for the resource layer
    (binding the resources), the schedule's default state and the CLI (its flags and what it
    prints); everything else takes its settings from a resource."""
    return os.environ.get(name) or DEFAULTS[name]


def parse_settle_days(text: str) -> dict[str, int]:
    """`DARKCOMPUTE_SETTLE_DAYS` as {provider: days}; a malformed value says what was expected."""
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        provider, _, days = item.partition("=")
        if not days.strip().isdigit():
            raise ValueError(f"DARKCOMPUTE_SETTLE_DAYS: expected provider=days pairs like 'openai=1', got {item!r}")
        out[provider.strip()] = int(days)
    return out


def parse_max_record_tokens(text: str) -> int:
    """`DARKCOMPUTE_MAX_RECORD_TOKENS`: the largest count one log record may carry."""
    text = (text or DEFAULTS["DARKCOMPUTE_MAX_RECORD_TOKENS"]).strip().replace("_", "")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"DARKCOMPUTE_MAX_RECORD_TOKENS: expected a positive whole number of tokens, got {text!r}")
    return int(text)


def parse_min_coverage(text: str) -> Decimal:
    """`DARKCOMPUTE_MIN_COVERAGE`: a share of the token invoice, from 0 to 1."""
    text = (text or DEFAULTS["DARKCOMPUTE_MIN_COVERAGE"]).strip()
    try:
        share = Decimal(text)
    except InvalidOperation:
        share = None
    if share is None or not share.is_finite() or not 0 <= share <= 1:
        raise ValueError(f"DARKCOMPUTE_MIN_COVERAGE: expected a share from 0 to 1 like '0.5', got {text!r}")
    return share


def parse_price_gap_share(text: str) -> Decimal:
    """`DARKCOMPUTE_PRICE_GAP_WARN_SHARE`: a share of a cell's invoice, from 0 to 1."""
    text = (text or DEFAULTS["DARKCOMPUTE_PRICE_GAP_WARN_SHARE"]).strip()
    try:
        share = Decimal(text)
    except InvalidOperation:
        share = None
    if share is None or not share.is_finite() or not 0 <= share <= 1:
        raise ValueError(f"DARKCOMPUTE_PRICE_GAP_WARN_SHARE: expected a share from 0 to 1 like '0.05', got {text!r}")
    return share


def parse_anomaly_factor(name: str, text: str) -> Decimal:
    """`DARKCOMPUTE_ANOMALY_FACTOR` / `DARKCOMPUTE_ANOMALY_SHARE_FACTOR`: a factor above 1."""
    text = (text or DEFAULTS[name]).strip()
    try:
        factor = Decimal(text)
    except InvalidOperation:
        factor = None
    if factor is None or not factor.is_finite() or factor <= 1:
        raise ValueError(f"{name}: expected a factor above 1 like '3' or '1.5', got {text!r}")
    return factor


def parse_anomaly_min_usd(text: str) -> Decimal:
    """`DARKCOMPUTE_ANOMALY_MIN_USD`: dollars, not negative."""
    text = (text or DEFAULTS["DARKCOMPUTE_ANOMALY_MIN_USD"]).strip()
    try:
        usd = Decimal(text)
    except InvalidOperation:
        usd = None
    if usd is None or not usd.is_finite() or usd < 0:
        raise ValueError(f"DARKCOMPUTE_ANOMALY_MIN_USD: expected dollars, not negative, like '5' or '0.50', got {text!r}")
    return usd


def parse_anomaly_severity(text: str) -> str:
    """`DARKCOMPUTE_ANOMALY_SEVERITY`: `warn` or `block`."""
    severity = (text or DEFAULTS["DARKCOMPUTE_ANOMALY_SEVERITY"]).strip().lower()
    if severity not in ("warn", "block"):
        raise ValueError(f"DARKCOMPUTE_ANOMALY_SEVERITY: expected 'warn' or 'block', got {text!r}")
    return severity


def parse_retry_amplification_factor(text: str) -> Decimal:
    """`DARKCOMPUTE_RETRY_AMPLIFICATION_WARN`: requests on the wire per logged call, at least 1."""
    text = (text or DEFAULTS["DARKCOMPUTE_RETRY_AMPLIFICATION_WARN"]).strip()
    try:
        factor = Decimal(text)
    except InvalidOperation:
        factor = None
    if factor is None or not factor.is_finite() or factor < 1:
        raise ValueError(f"DARKCOMPUTE_RETRY_AMPLIFICATION_WARN: expected a factor of at least 1 like '1.5', "
                         f"got {text!r}")
    return factor


def parse_cache_hit_drop_points(text: str) -> Decimal:
    """`DARKCOMPUTE_CACHE_HIT_DROP_POINTS`: percentage points of hit rate, from 0 to 100."""
    text = (text or DEFAULTS["DARKCOMPUTE_CACHE_HIT_DROP_POINTS"]).strip()
    try:
        points = Decimal(text)
    except InvalidOperation:
        points = None
    if points is None or not points.is_finite() or not 0 <= points <= 100:
        raise ValueError(f"DARKCOMPUTE_CACHE_HIT_DROP_POINTS: expected percentage points from 0 to 100 like '20', "
                         f"got {text!r}")
    return points


def parse_cost_growth_factor(text: str) -> Decimal:
    """`DARKCOMPUTE_COST_GROWTH_WARN_FACTOR`: a positive number (2.0: cost growing more than twice as
    fast as the users warns)."""
    text = (text or DEFAULTS["DARKCOMPUTE_COST_GROWTH_WARN_FACTOR"]).strip()
    try:
        factor = Decimal(text)
    except InvalidOperation:
        factor = None
    if factor is None or not factor.is_finite() or factor <= 0:
        raise ValueError(f"DARKCOMPUTE_COST_GROWTH_WARN_FACTOR: expected a positive number like '2.0', got {text!r}")
    return factor


def parse_schedule_default(text: str) -> str:
    """`DARKCOMPUTE_SCHEDULE_DEFAULT`: `running` or `stopped` (read when the code location loads)."""
    state = (text or DEFAULTS["DARKCOMPUTE_SCHEDULE_DEFAULT"]).strip().lower()
    if state not in ("running", "stopped"):
        raise ValueError(f"DARKCOMPUTE_SCHEDULE_DEFAULT: expected 'running' or 'stopped', got {text!r}")
    return state


def bind(name: str):
    """A resource field's binding: `dg.EnvVar(name)` when the variable is set (its value is read
    when a run starts, not now), else the documented default. A variable unset when the code
    location loads keeps its default until the next load (Dagster fails a run on an EnvVar
    whose variable is unset)."""
    import dagster as dg

    return dg.EnvVar(name) if os.environ.get(name) else DEFAULTS[name]


def landing_folder(landing_dir: str, lake_dir: str) -> str:
    """`DARKCOMPUTE_LANDING_DIR`, else `<DARKCOMPUTE_LAKE_DIR>/landing`; empty when neither is known."""
    return landing_dir or (str(Path(lake_dir) / "landing") if lake_dir else "")


def report_folder(report_dir: str, warehouse: str) -> str:
    """`DARKCOMPUTE_REPORT_DIR`, else `reports/` beside the warehouse file (`DARKCOMPUTE_WAREHOUSE`)."""
    return report_dir or str(Path(warehouse).parent / "reports")


def report_name(day) -> str:
    """The file name of the report whose period ends on `day` (its PNG copy: the same, `.png`)."""
    return f"dark-compute-{day.isoformat()}.html"
