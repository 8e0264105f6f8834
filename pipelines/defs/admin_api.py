"""What the OpenAI and Anthropic Admin API pulls share: the resource's settings (key, base URL,
landing folder, retry budget) and the pull asset's body (no key: nothing pulled, and said; an
empty pull: landed only where it replaces nothing with results, and said)."""

import hashlib
import os
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import ClassVar

import dagster as dg
from pydantic import Field

from pipelines.lib.http import JsonClient, Listing, Pulled, pull_and_land, pull_listings

from .settings import bind, landing_folder


class AdminAPI(dg.ConfigurableResource):
    """A provider's Admin API: base URL, the Admin key (only ever a `dg.EnvVar`; empty when the
    variable is unset, so the code location loads and runs without it), where pulled pages land
    (`<landing>/api`), and the retry budget. Subclasses name the variables and build the
    provider's client."""

    admin_key: str = Field(default="", repr=False, description="a dg.EnvVar of the provider's Admin key, never a literal")
    base_url: str = Field(default="", description="the API's base URL (DARKCOMPUTE_OPENAI_API_URL or "
                          "DARKCOMPUTE_ANTHROPIC_API_URL; empty: the provider's)")
    landing: str = Field(default="", description="where pulled pages land; empty: <landing_dir>/api")
    landing_dir: str = Field(default="", description="DARKCOMPUTE_LANDING_DIR; empty: <lake_dir>/landing")
    lake_dir: str = Field(default="", description="DARKCOMPUTE_LAKE_DIR (for the landing folder's default)")
    usage_bucket_width: str = "1d"
    attempts: int = 6
    backoff_seconds: float = 0.5
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 30.0

    KEY_ENV: ClassVar[str] = ""
    API_URL_ENV: ClassVar[str] = ""
    DEFAULT_API_URL: ClassVar[str] = ""

    @classmethod
    def from_env(cls, landing: str = "", **options):
        """The resource bound to the environment: the key, base URL, landing and lake folders
        through `dg.EnvVar` when their variables are set (read when a run starts, never here),
        else no key and the documented defaults. `landing` names the pages' folder outright."""
        key = dg.EnvVar(cls.KEY_ENV) if os.environ.get(cls.KEY_ENV) else ""
        return cls(admin_key=key, base_url=bind(cls.API_URL_ENV), landing=landing,
                   landing_dir=bind("DARKCOMPUTE_LANDING_DIR"), lake_dir=bind("DARKCOMPUTE_LAKE_DIR"), **options)

    def pages_folder(self) -> str:
        """Where pulled pages land: `landing`, else `<DARKCOMPUTE_LANDING_DIR>/api`."""
        if self.landing:
            return self.landing
        root = landing_folder(self.landing_dir, self.lake_dir)
        return str(Path(root) / "api") if root else ""

    def has_key(self) -> bool:
        return bool(self.admin_key)

    def client(self, sleep=time.sleep) -> JsonClient:
        return self.make_client(
            self.admin_key, self.base_url or self.DEFAULT_API_URL, attempts=self.attempts,
            backoff=self.backoff_seconds, max_wait=self.max_wait_seconds, timeout=self.timeout_seconds, sleep=sleep,
        )

    def make_client(self, api_key: str, base_url: str, **options) -> JsonClient:
        raise NotImplementedError


def _client_and_width(client_or_api: "JsonClient | AdminAPI", usage_bucket_width: str | None):
    if isinstance(client_or_api, AdminAPI):
        return client_or_api.client(), usage_bucket_width or client_or_api.usage_bucket_width
    return client_or_api, usage_bucket_width or "1d"


def pull_day(client_or_api: "JsonClient | AdminAPI", listings: Callable[[date, str], list[Listing]], day: date,
             landing_root: str | Path, usage_bucket_width: str | None = None) -> list[Path]:
    """Fetch the day's `listings(day, usage_bucket_width)` and land each page as received;
    returns the files. `client_or_api` is a `JsonClient` or the resource (whose client and bucket
    width are used). Every listing is fetched whole before anything is written."""
    client, width = _client_and_width(client_or_api, usage_bucket_width)
    return pull_listings(client, listings(day, width), day.isoformat(), landing_root)


def pull_pages(context: dg.AssetExecutionContext, api: AdminAPI,
               listings: Callable[[date, str], list[Listing]]) -> dg.MaterializeResult:
    """The pull asset's body: pull the partition's day of `listings` into the landing folder and
    report the pages landed; without the key, pull nothing and say so. A listing that came back
    empty is said in the log and the metadata: it replaced no landing with results, and an
    export of the day in the source root is read instead of it (see `SourceStore`)."""
    day = date.fromisoformat(context.partition_key)
    if not api.has_key():
        context.log.info(f"{api.KEY_ENV} is not set: nothing pulled")
        return dg.MaterializeResult(metadata={"pulled": False, "reason": f"{api.KEY_ENV} is not set: nothing pulled"})
    if not api.pages_folder():
        raise dg.Failure(f"the {type(api).__name__} resource has no landing folder")
    root = Path(api.pages_folder())
    client, width = _client_and_width(api, None)
    pulled = pull_and_land(client, listings(day, width), day.isoformat(), root)
    for note in _empty_notes(pulled, day):
        context.log.warning(note)
    return dg.MaterializeResult(metadata=_landed(pulled, root, day))


def _empty_notes(pulled: list[Pulled], day: date) -> list[str]:
    """One sentence per listing that came back empty: what was kept, and what to check."""
    notes = []
    for p in pulled:
        if not p.empty:
            continue
        where = f"{p.listing.prefix} {day}"
        if p.kept:
            notes.append(f"{where}: the API returned no results; the previous pull of the day, which has results, "
                         "was kept. Check that the admin key belongs to the right organization.")
        else:
            notes.append(f"{where}: the API returned no results; landed as empty, so a non-empty export of the day "
                         "in the source root is read instead. If the day had usage, check that the admin key "
                         "belongs to the right organization.")
    return notes


def _landed(pulled: list[Pulled], root: Path, day: date) -> dict:
    """Materialization metadata: the pages landed, their sizes and content hashes; per listing,
    the results pulled and whether an empty pull kept the previous landing."""
    files = [f for p in pulled for f in p.files]
    pages = [(f.relative_to(root).as_posix(), f.read_bytes()) for f in files]
    rows = [f"| {name} | {len(data)} | {hashlib.sha256(data).hexdigest()} |" for name, data in pages]
    listings = [f"| {p.listing.prefix} | {p.results} | {'kept the previous pull' if p.kept else 'landed'} |"
                for p in pulled]
    return {
        "pulled": True,
        "pages": len(pages),
        "bytes": sum(len(data) for _, data in pages),
        "landing": dg.MetadataValue.path(str(root)),
        "files": dg.MetadataValue.md("\n".join(["| file | bytes | sha256 |", "|---|---|---|", *rows])),
        "listings": dg.MetadataValue.md("\n".join(["| listing | results | what |", "|---|---|---|", *listings])),
        "empty_listings": ", ".join(p.listing.prefix for p in pulled if p.empty),
        "empty_pull": " ".join(_empty_notes(pulled, day)),
    }
