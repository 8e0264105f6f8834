"""Pull a day of Anthropic usage and cost report pages into the landing zone, as received.

`GET {base}/v1/organizations/usage_report/messages` and `/v1/organizations/cost_report` for one
UTC day (`starting_at`, `ending_at` in RFC 3339; `group_by[]` in bracket syntax; cursor `page`
while `has_more`), authenticated with an Admin key (`x-api-key: $ANTHROPIC_ADMIN_KEY`,
`anthropic-version: 2023-06-01`). Pages land in the source layout,
`<landing root>/anthropic/usage_report/<day>/page-NNN.json` and `.../cost_report/<day>/...`, so
the ingest assets read them exactly like delivered files.
"""

import hashlib
import os
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipelines.lib.http import JsonClient, Listing, pull_listings

from ..partitions import daily

KEY_ENV = "ANTHROPIC_ADMIN_KEY"
API_URL_ENV = "DARKCOMPUTE_ANTHROPIC_API_URL"
DEFAULT_API_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"

# listing -> (landing prefix, API path, group_by[] values)
ENDPOINTS = (
    ("anthropic/usage_report", "/v1/organizations/usage_report/messages",
     ("workspace_id", "model", "service_tier", "context_window")),
    ("anthropic/cost_report", "/v1/organizations/cost_report", ("workspace_id", "description")),
)
BUCKETS_PER_DAY = {"1d": 1, "1h": 24}  # `limit` counts buckets: one page holds the whole day


def anthropic_client(api_key: str, base_url: str = DEFAULT_API_URL, **options) -> JsonClient:
    """A client for the Anthropic Admin API; the key is a secret the client redacts from errors."""
    headers = {"x-api-key": api_key, "anthropic-version": API_VERSION}
    return JsonClient(base_url, headers=headers, secrets=(api_key,), **options)


def rfc3339(moment: datetime) -> str:
    """`2026-11-02T00:00:00Z`: a UTC instant as the Admin API writes it."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_listings(day: date, usage_bucket_width: str = "1d") -> list[Listing]:
    """The two listings of one UTC day: the messages usage report and the cost report (`1d`)."""
    if usage_bucket_width not in BUCKETS_PER_DAY:
        raise ValueError(f"usage bucket width must be one of {sorted(BUCKETS_PER_DAY)}, got {usage_bucket_width!r}")
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    listings = []
    for prefix, path, group_by in ENDPOINTS:
        width = "1d" if prefix == "anthropic/cost_report" else usage_bucket_width
        params = [("starting_at", rfc3339(start)), ("ending_at", rfc3339(start + timedelta(days=1))),
                  ("bucket_width", width)]
        params += [("group_by[]", g) for g in group_by]
        params += [("limit", str(BUCKETS_PER_DAY[width]))]
        listings.append(Listing(prefix=prefix, path=path, params=tuple(params)))
    return listings


def pull_anthropic_day(
    client_or_settings: "JsonClient | AnthropicAdminAPI", day: date, landing_root: str | Path,
    *, usage_bucket_width: str | None = None,
) -> list[Path]:
    """Fetch the day's usage and cost report pages and land each one as received; returns the files.

    `client_or_settings` is a `JsonClient` (see `anthropic_client`) or the `AnthropicAdminAPI`
    resource. Every listing is fetched whole before anything is written.
    """
    if isinstance(client_or_settings, AnthropicAdminAPI):
        client = client_or_settings.client()
        width = usage_bucket_width or client_or_settings.usage_bucket_width
    else:
        client, width = client_or_settings, usage_bucket_width or "1d"
    return pull_listings(client, day_listings(day, width), day.isoformat(), landing_root)


class AnthropicAdminAPI(dg.ConfigurableResource):
    """The Anthropic Admin API: base URL (`DARKCOMPUTE_ANTHROPIC_API_URL`), the Admin key (only
    ever `dg.EnvVar("ANTHROPIC_ADMIN_KEY")`; empty when the variable is unset, so the code
    location loads and runs without it), where pulled pages land, and the retry budget."""

    admin_key: str = Field(default="", repr=False, description="dg.EnvVar(\"ANTHROPIC_ADMIN_KEY\"), never a literal")
    base_url: str = DEFAULT_API_URL
    landing: str = ""
    usage_bucket_width: str = "1d"
    attempts: int = 6
    backoff_seconds: float = 0.5
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 30.0

    @classmethod
    def from_env(cls, landing: str, **options) -> "AnthropicAdminAPI":
        """The resource as the environment configures it: the key through `dg.EnvVar` when
        `ANTHROPIC_ADMIN_KEY` is set (its value is never read here), else no key."""
        key = dg.EnvVar(KEY_ENV) if os.environ.get(KEY_ENV) else ""
        base_url = os.environ.get(API_URL_ENV) or DEFAULT_API_URL
        return cls(admin_key=key, base_url=base_url, landing=landing, **options)

    def has_key(self) -> bool:
        return bool(self.admin_key)

    def client(self, sleep=time.sleep) -> JsonClient:
        return anthropic_client(
            self.admin_key, self.base_url, attempts=self.attempts, backoff=self.backoff_seconds,
            max_wait=self.max_wait_seconds, timeout=self.timeout_seconds, sleep=sleep,
        )


@dg.asset(partitions_def=daily, group_name="anthropic", kinds={"anthropic", "python", "json"})
def anthropic_api_pages(context: dg.AssetExecutionContext, anthropic_admin: AnthropicAdminAPI) -> dg.MaterializeResult:
    """The day's Anthropic `usage_report/messages` and `cost_report` pages, pulled with the Admin
    key and landed as received (`<landing>/anthropic/...`, content-hashed in `.manifest.json`).
    Without `ANTHROPIC_ADMIN_KEY` it pulls nothing and says so."""
    day = date.fromisoformat(context.partition_key)
    if not anthropic_admin.has_key():
        context.log.info(f"{KEY_ENV} is not set: nothing pulled")
        return dg.MaterializeResult(metadata={"pulled": False, "reason": f"{KEY_ENV} is not set: nothing pulled"})
    if not anthropic_admin.landing:
        raise dg.Failure("the Anthropic admin API resource has no landing folder")
    root = Path(anthropic_admin.landing)
    files = pull_anthropic_day(anthropic_admin, day, root)
    return dg.MaterializeResult(metadata=_landed(files, root))


def _landed(files: list[Path], root: Path) -> dict:
    """Materialization metadata: the pages landed, their sizes and content hashes."""
    pages = [(f.relative_to(root).as_posix(), f.read_bytes()) for f in files]
    rows = [f"| {name} | {len(data)} | {hashlib.sha256(data).hexdigest()} |" for name, data in pages]
    return {
        "pulled": True,
        "pages": len(pages),
        "bytes": sum(len(data) for _, data in pages),
        "landing": dg.MetadataValue.path(str(root)),
        "files": dg.MetadataValue.md("\n".join(["| file | bytes | sha256 |", "|---|---|---|", *rows])),
    }
