"""Pull a day of Anthropic usage and cost report pages into the landing zone, as received.

`GET {base}/v1/organizations/usage_report/messages` and `/v1/organizations/cost_report` for one
UTC day (`starting_at`, `ending_at` in RFC 3339; `group_by[]` in bracket syntax; cursor `page`
while `has_more`), authenticated with an Admin key (`x-api-key: $ANTHROPIC_ADMIN_KEY`,
`anthropic-version: 2023-06-01`). Pages land in the source layout,
`<landing root>/anthropic/usage_report/<day>/page-NNN.json` and `.../cost_report/<day>/...`, so
the ingest assets read them exactly like delivered files.
"""

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import ClassVar

import dagster as dg

from pipelines.lib.http import JsonClient, Listing

from ..admin_api import AdminAPI, pull_day, pull_pages
from ..partitions import daily

KEY_ENV = "ANTHROPIC_ADMIN_KEY"
API_URL_ENV = "DARKCOMPUTE_ANTHROPIC_API_URL"
DEFAULT_API_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"

# listing -> (landing prefix, API path, group_by[] values): every grouping that changes a token's
# price (speed needs a beta header, so it is not asked for)
ENDPOINTS = (
    ("anthropic/usage_report", "/v1/organizations/usage_report/messages",
     ("workspace_id", "model", "service_tier", "context_window", "inference_geo")),
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
    return pull_day(client_or_settings, day_listings, day, landing_root, usage_bucket_width)


class AnthropicAdminAPI(AdminAPI):
    """The Anthropic Admin API: base URL (`DARKCOMPUTE_ANTHROPIC_API_URL`), the Admin key (only ever
    `dg.EnvVar("ANTHROPIC_ADMIN_KEY")`), where pulled pages land, and the retry budget."""

    base_url: str = DEFAULT_API_URL

    KEY_ENV: ClassVar[str] = KEY_ENV
    API_URL_ENV: ClassVar[str] = API_URL_ENV
    DEFAULT_API_URL: ClassVar[str] = DEFAULT_API_URL

    def make_client(self, api_key: str, base_url: str, **options) -> JsonClient:
        return anthropic_client(api_key, base_url, **options)


@dg.asset(partitions_def=daily, group_name="anthropic", kinds={"anthropic", "python", "json"})
def anthropic_api_pages(context: dg.AssetExecutionContext, anthropic_admin: AnthropicAdminAPI) -> dg.MaterializeResult:
    """The day's Anthropic `usage_report/messages` and `cost_report` pages, pulled with the Admin
    key and landed as received (`<landing>/anthropic/...`, content-hashed in `.manifest.json`).
    Without `ANTHROPIC_ADMIN_KEY` it pulls nothing and says so; a listing that comes back empty replaces
    no pages with results (a non-empty export of the day in the source root is read instead)."""
    return pull_pages(context, anthropic_admin, day_listings)
