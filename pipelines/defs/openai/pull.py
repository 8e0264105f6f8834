"""Pull a day of OpenAI Usage and Costs API pages into the landing zone, as received.

`GET {base}/v1/organization/usage/completions`, `/usage/embeddings` and `/costs` for one UTC
day (`start_time`, `end_time` in unix seconds; `group_by` as repeated bare keys; cursor `page`
while `has_more`), authenticated with an Admin key (`Authorization: Bearer $OPENAI_ADMIN_KEY`).
Pages land in the source layout, `<landing root>/openai/usage/completions/<day>/page-NNN.json`
and so on, so the ingest assets read them exactly like delivered files.
"""

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import ClassVar

import dagster as dg

from pipelines.lib.http import JsonClient, Listing

from ..admin_api import AdminAPI, pull_day, pull_pages
from ..partitions import daily

KEY_ENV = "OPENAI_ADMIN_KEY"
API_URL_ENV = "DARKCOMPUTE_OPENAI_API_URL"
DEFAULT_API_URL = "https://api.openai.com"

# listing -> (landing prefix, API path, group_by values): the finest grouping that changes money
# (user_id and api_key_id would only be summed over)
ENDPOINTS = (
    ("openai/usage/completions", "/v1/organization/usage/completions",
     ("project_id", "model", "batch", "service_tier")),
    ("openai/usage/embeddings", "/v1/organization/usage/embeddings", ("project_id", "model")),
    ("openai/costs", "/v1/organization/costs", ("project_id", "line_item")),
)
BUCKETS_PER_DAY = {"1d": 1, "1h": 24}  # `limit` counts buckets: one page holds the whole day


def openai_client(api_key: str, base_url: str = DEFAULT_API_URL, **options) -> JsonClient:
    """A client for the OpenAI Admin API; the key is a secret the client redacts from errors."""
    return JsonClient(base_url, headers={"Authorization": f"Bearer {api_key}"}, secrets=(api_key,), **options)


def day_listings(day: date, usage_bucket_width: str = "1d") -> list[Listing]:
    """The three listings of one UTC day: completions and embeddings usage, and costs (`1d`)."""
    if usage_bucket_width not in BUCKETS_PER_DAY:
        raise ValueError(f"usage bucket width must be one of {sorted(BUCKETS_PER_DAY)}, got {usage_bucket_width!r}")
    start = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
    end = int((datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)).timestamp())
    listings = []
    for prefix, path, group_by in ENDPOINTS:
        width = "1d" if prefix == "openai/costs" else usage_bucket_width
        params = [("start_time", str(start)), ("end_time", str(end)), ("bucket_width", width)]
        params += [("group_by", g) for g in group_by]
        params += [("limit", str(BUCKETS_PER_DAY[width]))]
        listings.append(Listing(prefix=prefix, path=path, params=tuple(params)))
    return listings


def pull_openai_day(
    client_or_settings: "JsonClient | OpenAIAdminAPI", day: date, landing_root: str | Path,
    *, usage_bucket_width: str | None = None,
) -> list[Path]:
    """Fetch the day's usage and cost pages and land each one as received; returns the files.

    `client_or_settings` is a `JsonClient` (see `openai_client`) or the `OpenAIAdminAPI`
    resource. Every listing is fetched whole before anything is written.
    """
    return pull_day(client_or_settings, day_listings, day, landing_root, usage_bucket_width)


class OpenAIAdminAPI(AdminAPI):
    """The OpenAI Admin API: base URL (`DARKCOMPUTE_OPENAI_API_URL`), the Admin key (only ever
    `dg.EnvVar("OPENAI_ADMIN_KEY")`), where pulled pages land, and the retry budget."""

    base_url: str = DEFAULT_API_URL

    KEY_ENV: ClassVar[str] = KEY_ENV
    API_URL_ENV: ClassVar[str] = API_URL_ENV
    DEFAULT_API_URL: ClassVar[str] = DEFAULT_API_URL

    def make_client(self, api_key: str, base_url: str, **options) -> JsonClient:
        return openai_client(api_key, base_url, **options)


@dg.asset(partitions_def=daily, group_name="openai", kinds={"openai", "python", "json"})
def openai_api_pages(context: dg.AssetExecutionContext, openai_admin: OpenAIAdminAPI) -> dg.MaterializeResult:
    """The day's OpenAI Usage (completions, embeddings) and Costs API pages, pulled with the Admin
    key and landed as received (`<landing>/openai/...`, content-hashed in `.manifest.json`).
    Without `OPENAI_ADMIN_KEY` it pulls nothing and says so; a listing that comes back empty replaces
    no pages with results (a non-empty export of the day in the source root is read instead)."""
    return pull_pages(context, openai_admin, day_listings)
