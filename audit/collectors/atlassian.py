"""Target-side evidence from Atlassian Cloud: read-only GETs to its admin and SCIM APIs.

Each source keeps its pages exactly as Atlassian returned them (``--save-raw`` writes them as they
are, :mod:`audit.collectors.atlassian_export`); :mod:`audit.collectors.atlassian_tables` turns them
into the snapshot's target-side tables. The sources, with the documentation they follow:

``atlassian_domains``
    ``GET /admin/v1/orgs/{orgId}/domains``: the organization's domains, ``data[].attributes.name``
    and ``.claim.status`` (``verified`` | ``unverified`` | ``superseded`` | ``missing_token`` |
    ``deleted``). Scope ``read:domains:admin``.
    https://developer.atlassian.com/cloud/admin/organization/rest/api-group-domains/
``atlassian_users``
    ``GET /admin/v1/orgs/{orgId}/users``: the organization's managed accounts (``account_id``,
    ``email``, ``account_status``, ...). Scope ``read:accounts:admin``.
    https://developer.atlassian.com/cloud/admin/organization/rest/api-group-users/
``atlassian_directory_users``
    ``GET /admin/v2/orgs/{orgId}/directories/-/users?claimStatus=unmanaged``: accounts in the
    organization's directories that it does not manage (``-`` is every directory the key may
    manage). Scope ``read:directories:admin``. Atlassian deprecates this listing after 30 June
    2027; its successor is a POST search, which a read-only tool does not send.
    https://developer.atlassian.com/cloud/admin/organization/rest/api-group-users/
``atlassian_scim_users``
    ``GET /scim/directory/{directoryId}/Users``, with the directory's own API key ("distinct from
    your Cloud admin API key"), paged by ``startIndex``/``count``, at most 100 users a page.
    https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/
    https://support.atlassian.com/atlassian-cloud/kb/how-to-fetch-all-users-via-user-provisioning-scim-api/

Both keys are sent as ``Authorization: Bearer <key>``, only to the configured origin; paging and
throttling live in :mod:`audit.collectors.atlassian_client`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from audit.collectors.atlassian_client import AtlassianClient, AtlassianData, RequestFailed
from audit.collectors.auth import is_loopback
from audit.errors import ConfigError
from audit.models import SourceState, SourceStatus

__all__ = [
    "ATLASSIAN_URL",
    "COVERS",
    "PERMISSIONS",
    "SOURCES",
    "AtlassianClient",
    "AtlassianData",
    "AtlassianOptions",
    "collect_atlassian",
    "probe_atlassian",
]

JSON = dict[str, Any]
ATLASSIAN_URL = "https://api.atlassian.com"
"""Base of the Organizations REST API (``/admin``) and the user provisioning API (``/scim``)."""

ORG_SOURCES = ("atlassian_domains", "atlassian_users", "atlassian_directory_users")
SOURCES = (*ORG_SOURCES, "atlassian_scim_users")

PERMISSIONS: dict[str, str] = {
    "atlassian_domains": "org API key scope read:domains:admin",
    "atlassian_users": "org API key scope read:accounts:admin",
    "atlassian_directory_users": "org API key scope read:directories:admin",
    "atlassian_scim_users": "the SCIM directory's own API key",
}
"""What a 401/403 on each source means is missing (the doctor command names these too)."""

COVERS = {"atlassian_users": "managed", "atlassian_directory_users": "unmanaged"}
"""Which accounts each account listing holds (its status's ``detail["accounts"]``): the v1 listing
"Returns a list of managed accounts", the v2 one is asked for ``claimStatus=unmanaged``."""

_UNAUTHENTICATED = {
    "org": "a valid org API key in ATLASSIAN_API_KEY",
    "scim": "a valid SCIM directory API key in ATLASSIAN_SCIM_KEY",
}
_SCIM_PAGE = 100  # "the first max 100 users ... use the startIndex parameter" (KB above)


@dataclass(frozen=True)
class AtlassianOptions:
    """Which organization and SCIM directory to read, with which keys, how patiently.

    ``org`` needs ``api_key`` (the organization API key) and ``directory`` needs ``scim_key``
    (the SCIM directory's key): a missing key is a configuration error, never a silent skip.
    """

    org: str | None = None
    directory: str | None = None
    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    scim_key: str | None = field(default=None, repr=False)
    max_wait: float = 120.0
    max_retries: int = 5
    retry_delay: float = 1.0

    @property
    def requested(self) -> bool:
        """True when any Atlassian source is asked for."""
        return bool(self.org or self.directory)

    def check(self) -> str:
        """The base URL to use; ConfigError for a missing key or an unsafe URL."""
        if self.org and not self.api_key:
            raise ConfigError("--atlassian-org needs the organization API key in ATLASSIAN_API_KEY")
        if self.directory and not self.scim_key:
            raise ConfigError("--atlassian-directory needs the SCIM directory key in ATLASSIAN_SCIM_KEY")  # fmt: skip
        for name, value in (("organization", self.org), ("directory", self.directory)):
            if value is not None and not _ID.fullmatch(value):
                raise ConfigError(f"Atlassian {name} id {value!r} is not an id (letters, digits, -, _)")  # fmt: skip
        base = (self.url or ATLASSIAN_URL).rstrip("/")
        parts = urlsplit(base)
        if not parts.hostname or (parts.scheme != "https" and not is_loopback(base)):
            raise ConfigError(f"Atlassian URL must be https (or loopback): {base}")
        return base


_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


async def collect_atlassian(
    options: AtlassianOptions, *, http: httpx.AsyncClient | None = None
) -> AtlassianData:
    """Read every requested source concurrently; a failed source is a failed status, never empty."""
    base = options.check()
    client = _client(options, base, http)
    async with client:
        reads = [_read(client, source, options) for source in _requested(options)]
        results = await asyncio.gather(*reads)
    data = client.data
    for source, pages, status in results:
        data.statuses[source] = status
        if pages is not None:
            data.pages[source] = pages
    for source in SOURCES:
        data.statuses.setdefault(source, _not_requested(source, options))
    return data


def _client(
    options: AtlassianOptions, base: str, http: httpx.AsyncClient | None
) -> AtlassianClient:
    secrets = (options.api_key or "", options.scim_key or "")
    return AtlassianClient(base, http=http, max_wait=options.max_wait,
                           max_retries=options.max_retries, retry_delay=options.retry_delay,
                           secrets=secrets)  # fmt: skip


def _requested(options: AtlassianOptions) -> list[str]:
    return [*(ORG_SOURCES if options.org else ()), *(("atlassian_scim_users",) if options.directory else ())]  # fmt: skip


def _not_requested(source: str, options: AtlassianOptions) -> SourceStatus:
    why = "give --atlassian-directory (and ATLASSIAN_SCIM_KEY) to read the SCIM directory"
    if source in ORG_SOURCES:
        why = "give --atlassian-org (and ATLASSIAN_API_KEY) to read the organization"
    return SourceStatus(source, SourceState.NOT_REQUESTED, error=why)


async def _read(
    client: AtlassianClient,
    source: str,
    options: AtlassianOptions,
    *,
    first_page_only: bool = False,
) -> tuple[str, list[JSON] | None, SourceStatus]:
    """One source's pages and status."""
    try:
        if source == "atlassian_scim_users":
            pages = await _scim_pages(client, options, first_page_only)
            rows = sum(len(p.get("Resources") or []) for p in pages)
        else:
            pages = await _org_pages(client, source, options, first_page_only)
            rows = sum(len(p["data"]) for p in pages)
    except RequestFailed as exc:
        return source, None, _failed(source, exc)
    detail: dict[str, Any] = {"pages": len(pages)}
    if source in COVERS:
        detail["accounts"] = COVERS[source]
    return source, pages, SourceStatus(source, SourceState.OK, rows=rows, detail=detail)


def _failed(source: str, exc: RequestFailed) -> SourceStatus:
    detail = {"status": exc.status} if exc.status else {}
    missing = None
    if exc.status == 403:
        missing = PERMISSIONS[source]
    elif exc.status == 401:
        missing = _UNAUTHENTICATED["scim" if source == "atlassian_scim_users" else "org"]
    return SourceStatus(source, SourceState.FAILED, error=str(exc), missing_permission=missing,
                        detail=detail)  # fmt: skip


_ORG_PATHS = {
    "atlassian_domains": ("/admin/v1/orgs/{org}/domains", None),
    "atlassian_users": ("/admin/v1/orgs/{org}/users", None),
    "atlassian_directory_users": (
        "/admin/v2/orgs/{org}/directories/-/users",
        {"claimStatus": "unmanaged"},
    ),
}


async def _org_pages(
    client: AtlassianClient, source: str, options: AtlassianOptions, first_only: bool
) -> list[JSON]:
    """Every page of an admin API listing, following ``links.next`` until it is absent."""
    path, params = _ORG_PATHS[source]
    first = client.url(path.format(org=quote(str(options.org), safe="")))
    url, query = first, params
    pages: list[JSON] = []
    seen: set[tuple[str, str]] = set()
    while True:
        doc = await client.get(url, query, str(options.api_key))
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise RequestFailed('unexpected answer: expected {"data": [...], "links": {...}}')
        pages.append(doc)
        link = _next_link(doc)
        if link is None or first_only:
            return pages
        url, query = client.follow(link, first)
        step = (url, str(query))
        if step in seen:
            raise RequestFailed("the listing's links.next does not advance")
        seen.add(step)


def _next_link(doc: JSON) -> str | None:
    links = doc.get("links")
    link = links.get("next") if isinstance(links, dict) else None
    return link.strip() if isinstance(link, str) and link.strip() else None


async def _scim_pages(
    client: AtlassianClient, options: AtlassianOptions, first_only: bool
) -> list[JSON]:
    """Every page of ``GET /Users``: ``startIndex`` advances by the users returned until
    ``totalResults`` is reached (RFC 7644 §3.4.2.4)."""
    url = client.url(f"/scim/directory/{quote(str(options.directory), safe='')}/Users")
    pages: list[JSON] = []
    start = 1
    while True:
        params = {"startIndex": str(start), "count": str(_SCIM_PAGE)}
        doc = await client.get(url, params, str(options.scim_key))
        resources = doc.get("Resources", []) if isinstance(doc, dict) else None
        if not isinstance(resources, list):
            raise RequestFailed(
                'unexpected answer: expected a SCIM ListResponse {"Resources": [...]}'
            )
        said = doc.get("startIndex")
        if isinstance(said, int) and said != start and resources:
            raise RequestFailed(f"the directory answered startIndex {said} when asked for {start}")
        pages.append(doc)
        total = doc.get("totalResults")
        start += len(resources)
        done = not resources or (isinstance(total, int) and start > total)
        if done or first_only or (not isinstance(total, int) and len(resources) < _SCIM_PAGE):
            return pages


async def probe_atlassian(
    options: AtlassianOptions, *, http: httpx.AsyncClient | None = None
) -> list[tuple[str, bool | None, str]]:
    """The first page of every source (``b2b-preflight doctor``): (source, ok, detail).

    ``ok`` is None for a source that was not asked for.
    """
    base = options.check()
    async with _client(options, base, http) as client:
        wanted = _requested(options)
        reads = [_read(client, s, options, first_page_only=True) for s in wanted]
        results = {source: status for source, _, status in await asyncio.gather(*reads)}
    out: list[tuple[str, bool | None, str]] = []
    for source in SOURCES:
        status = results.get(source)
        if status is None:
            out.append((source, None, str(_not_requested(source, options).error)))
        elif status.usable:
            out.append((source, True, f"{status.rows} object(s) readable on the first page"))
        else:
            out.append((source, False, str(status.error)))
    return out
