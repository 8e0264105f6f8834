"""Pull a day of OpenAI Usage and Costs API pages into the landing zone, as received.

`GET {base}/v1/organization/usage/completions`, `/usage/embeddings` and `/costs` for one UTC
day (`start_time`, `end_time` in unix seconds; `group_by` as repeated bare keys; cursor `page`
while `has_more`), authenticated with an Admin key (`Authorization: Bearer $OPENAI_ADMIN_KEY`).
Pages land in the source layout, `<landing root>/openai/usage/completions/<day>/page-NNN.json`
and so on, so the ingest assets read them exactly like delivered files.
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

KEY_ENV = "OPENAI_ADMIN_KEY"
API_URL_ENV = "DARKCOMPUTE_OPENAI_API_URL"
DEFAULT_API_URL = "https://api.openai.com"

# listing -> (landing prefix, API path, group_by values)
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
    if isinstance(client_or_settings, OpenAIAdminAPI):
        client = client_or_settings.client()
        width = usage_bucket_width or client_or_settings.usage_bucket_width
    else:
        client, width = client_or_settings, usage_bucket_width or "1d"
    return pull_listings(client, day_listings(day, width), day.isoformat(), landing_root)


class OpenAIAdminAPI(dg.ConfigurableResource):
    """The OpenAI Admin API: base URL (`DARKCOMPUTE_OPENAI_API_URL`), the Admin key (only ever
    `dg.EnvVar("OPENAI_ADMIN_KEY")`; empty when the variable is unset, so the code location
    loads and runs without it), where pulled pages land, and the retry budget."""

    admin_key: str = Field(default="", repr=False, description="dg.EnvVar(\"OPENAI_ADMIN_KEY\"), never a literal")
    base_url: str = DEFAULT_API_URL
    landing: str = ""
    usage_bucket_width: str = "1d"
    attempts: int = 6
    backoff_seconds: float = 0.5
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 30.0

    @classmethod
    def from_env(cls, landing: str, **options) -> "OpenAIAdminAPI":
        """The resource as the environment configures it: the key through `dg.EnvVar` when
        `OPENAI_ADMIN_KEY` is set (its value is never read here), else no key."""
        key = dg.EnvVar(KEY_ENV) if os.environ.get(KEY_ENV) else ""
        base_url = os.environ.get(API_URL_ENV) or DEFAULT_API_URL
        return cls(admin_key=key, base_url=base_url, landing=landing, **options)

    def has_key(self) -> bool:
        return bool(self.admin_key)

    def client(self, sleep=time.sleep) -> JsonClient:
        return openai_client(
            self.admin_key, self.base_url, attempts=self.attempts, backoff=self.backoff_seconds,
            max_wait=self.max_wait_seconds, timeout=self.timeout_seconds, sleep=sleep,
        )


@dg.asset(partitions_def=daily, group_name="openai", kinds={"openai", "python", "json"})
def openai_api_pages(context: dg.AssetExecutionContext, openai_admin: OpenAIAdminAPI) -> dg.MaterializeResult:
    """The day's OpenAI Usage (completions, embeddings) and Costs API pages, pulled with the Admin
    key and landed as received (`<landing>/openai/...`, content-hashed in `.manifest.json`).
    Without `OPENAI_ADMIN_KEY` it pulls nothing and says so."""
    day = date.fromisoformat(context.partition_key)
    if not openai_admin.has_key():
        context.log.info(f"{KEY_ENV} is not set: nothing pulled")
        return dg.MaterializeResult(metadata={"pulled": False, "reason": f"{KEY_ENV} is not set: nothing pulled"})
    if not openai_admin.landing:
        raise dg.Failure("the OpenAI admin API resource has no landing folder")
    root = Path(openai_admin.landing)
    files = pull_openai_day(openai_admin, day, root)
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
