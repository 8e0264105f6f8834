"""Environment variables and their defaults (the README's configuration table)."""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.lib.disk import explained

REPO = Path(__file__).resolve().parents[2]

DEFAULTS = {
    "DARKCOMPUTE_SOURCE_URI": str(REPO / "data_samples" / "sources"),
    "DARKCOMPUTE_LAKE_DIR": "lake",
    "DARKCOMPUTE_WAREHOUSE": "warehouse.duckdb",
    "DARKCOMPUTE_LANDING_DIR": "",  # empty: <DARKCOMPUTE_LAKE_DIR>/landing
    "DARKCOMPUTE_DUCKDB_THREADS": "",
    "DARKCOMPUTE_DUCKDB_MEMORY_LIMIT": "",
    "DARKCOMPUTE_DUCKDB_TEMP_DIR": "",  # empty: <DARKCOMPUTE_LAKE_DIR>/.duckdb_tmp
    "DARKCOMPUTE_MIN_COVERAGE": "0.5",
    # days after the end of a usage day before its invoice is trusted as final, per provider
    "DARKCOMPUTE_SETTLE_DAYS": "openai=1,anthropic=1,aws.bedrock=2",
    # a log record above this many tokens (or requests) in any class cannot be true, even for a
    # whole job's aggregate: it is rejected as corrupt
    "DARKCOMPUTE_MAX_RECORD_TOKENS": "10000000000000",
    # overrides of the LiteLLM attribution rule (pipelines/defs/logs/litellm.py), e.g.
    # "job_type=tag:job_type,metadata:job_type;billing.account=team_alias"
    "DARKCOMPUTE_LITELLM_ATTRIBUTION": "",
}


def setting(name: str) -> str:
    """The environment's value for `name`, or its documented default."""
    return os.environ.get(name) or DEFAULTS[name]


def settle_days() -> dict[str, int]:
    """`DARKCOMPUTE_SETTLE_DAYS` as {provider: days}; a malformed value says what was expected."""
    text = setting("DARKCOMPUTE_SETTLE_DAYS")
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        provider, _, days = item.partition("=")
        if not days.strip().isdigit():
            raise ValueError(f"DARKCOMPUTE_SETTLE_DAYS: expected provider=days pairs like 'openai=1', got {item!r}")
        out[provider.strip()] = int(days)
    return out


def max_record_tokens() -> int:
    """`DARKCOMPUTE_MAX_RECORD_TOKENS`: the largest count one log record may carry."""
    text = setting("DARKCOMPUTE_MAX_RECORD_TOKENS").strip().replace("_", "")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"DARKCOMPUTE_MAX_RECORD_TOKENS: expected a positive whole number of tokens, got {text!r}")
    return int(text)


def duckdb_temp_dir() -> str:
    """Where DuckDB spills what exceeds its memory limit (not the working directory's `.tmp`)."""
    return setting("DARKCOMPUTE_DUCKDB_TEMP_DIR") or str(Path(setting("DARKCOMPUTE_LAKE_DIR")) / ".duckdb_tmp")


def landing_dir() -> str:
    """Where downloaded objects and pulled API pages land (raw, as delivered)."""
    return setting("DARKCOMPUTE_LANDING_DIR") or str(Path(setting("DARKCOMPUTE_LAKE_DIR")) / "landing")


def storage_places() -> list[tuple[str, str]]:
    """Every folder or file darkcompute writes, with the setting that chose it, most specific
    first (the spill and landing folders lie inside the lake by default)."""
    return [(duckdb_temp_dir(), "DARKCOMPUTE_DUCKDB_TEMP_DIR"), (landing_dir(), "DARKCOMPUTE_LANDING_DIR"),
            (setting("DARKCOMPUTE_WAREHOUSE"), "DARKCOMPUTE_WAREHOUSE"),
            (setting("DARKCOMPUTE_LAKE_DIR"), "DARKCOMPUTE_LAKE_DIR")]


def storage_errors(during: str = ""):
    """A block whose disk errors (full, read-only, permission denied, a path of the wrong type,
    DuckDB's spill folder full) name the path, the setting that chose it and what to do."""
    return explained(storage_places(), during=during)
