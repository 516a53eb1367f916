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

Both keys are sent as ``Authorization: Bearer <key>``
(https://developer.atlassian.com/cloud/admin/organization/rest/intro/), only to the configured
origin, and never appear in a message, status or log line of ours. Paging: ``links.next`` of the
admin API is a full URL on ``GET /v1/orgs/{orgId}/users`` and a bare cursor on the v2 listings
(https://jira.atlassian.com/browse/AX-241); both forms (and a relative path) are followed, a URL
only on the configured origin. Rate limiting: a 429 carries ``X-RateLimit-Reset``, "Next period
reset time (ISO 8601 - Date and time in UTC)" (https://developer.atlassian.com/cloud/admin/api-access/rest/intro/);
``Retry-After`` (seconds or an HTTP date) is honoured as well. The wait is shared by every request
of the collection, capped at ``max_wait`` (capped waits are counted) and retried at most
``max_retries`` times, as the Graph client does; without either header the wait doubles from
``retry_delay``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
import orjson

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
_RETRY_STATUSES = (429, 503, 504)
_MAX_PAUSE = 3600.0


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


@dataclass
class AtlassianData:
    """What :func:`collect_atlassian` read: each source's pages as returned, and its status.

    ``pages`` holds only sources whose status is ``ok``. ``requests`` counts every GET sent,
    ``throttled`` the retries after 429/503/504, ``capped_waits`` the waits shortened to
    ``max_wait`` (``longest_wait`` is the longest one asked for).
    """

    pages: dict[str, list[JSON]] = field(default_factory=dict)
    statuses: dict[str, SourceStatus] = field(default_factory=dict)
    requests: int = 0
    throttled: int = 0
    capped_waits: int = 0
    longest_wait: float = 0.0

    def extra(self) -> dict[str, Any]:
        """The counts for the snapshot manifest."""
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "capped_waits": self.capped_waits,
            "longest_wait": self.longest_wait,
        }


class _Failure(Exception):
    """A source-level failure with a clean message (no key) and the HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AtlassianClient:
    """GETs to one Atlassian origin through an httpx.AsyncClient this object builds and holds.

    ``http`` may be given (tests, proxies); it is then not closed here. ``sleep`` and ``clock``
    (a wall clock, for ``X-RateLimit-Reset``) are injectable so waits can be observed.
    """

    def __init__(
        self,
        base_url: str,
        *,
        http: httpx.AsyncClient | None = None,
        max_wait: float = 120.0,
        max_retries: int = 5,
        retry_delay: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.base = base_url.rstrip("/")
        self._origin = _origin(self.base)
        self._own = http is None
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=15.0))
        self.max_wait, self.max_retries, self.retry_delay = max_wait, max_retries, retry_delay
        self._sleep, self._clock = sleep, clock
        self._secrets = tuple(s for s in secrets if s)
        self._resume_at = 0.0
        self.data = AtlassianData()

    async def aclose(self) -> None:
        """Close the connection pool (when this object built the httpx client)."""
        if self._own:
            await self.http.aclose()

    async def __aenter__(self) -> AtlassianClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def url(self, path: str) -> str:
        """``path`` on the configured base URL."""
        return self.base + path

    async def get(self, url: str, params: dict[str, str] | None, key: str) -> Any:
        """GET ``url`` with the key; waits out throttling; parsed JSON, or :class:`_Failure`."""
        if _origin(url) != self._origin:
            raise _Failure(f"refusing to send the key to another origin ({_origin_text(url)})")
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        for attempt in range(self.max_retries + 1):
            await self._wait_turn()
            response = await self._send(url, params, headers)
            if response.status_code in _RETRY_STATUSES and attempt < self.max_retries:
                self.data.throttled += 1
                self._pause(self._wait(response, attempt))
                continue
            return self._parse(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, url: str, params: dict[str, str] | None, headers: dict[str, str]
    ) -> httpx.Response:
        self.data.requests += 1
        try:
            return await self.http.get(url, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Failure(f"Atlassian did not answer in time ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise _Failure(self.scrub(f"cannot reach Atlassian: {type(exc).__name__}: {exc}")) from None  # fmt: skip

    def _parse(self, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            doc = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            doc = None
        if status >= 400:
            raise _Failure(self.scrub(f"HTTP {status}{_said(doc)}"), status)
        if doc is None:
            raise _Failure(f"HTTP {status} without a JSON body", status)
        return doc

    def _wait(self, response: httpx.Response, attempt: int) -> float:
        """Seconds to wait before the retry: Retry-After, X-RateLimit-Reset, else a doubling delay."""
        asked = _retry_after(response.headers.get("Retry-After"), self._clock())
        if asked is None:
            asked = _reset_at(response.headers.get("X-RateLimit-Reset"), self._clock())
        if asked is None:
            asked = self.retry_delay * 2**attempt
        if asked > self.max_wait:
            self.data.capped_waits += 1
            self.data.longest_wait = max(self.data.longest_wait, asked)
            return self.max_wait
        return max(asked, 0.0)

    def _pause(self, seconds: float) -> None:
        """Make every request of the collection wait ``seconds`` (they share one budget)."""
        self._resume_at = max(self._resume_at, time.monotonic() + min(seconds, _MAX_PAUSE))

    async def _wait_turn(self) -> None:
        while (delay := self._resume_at - time.monotonic()) > 0:
            await self._sleep(delay)

    def follow(self, link: str, first: str) -> tuple[str, dict[str, str] | None]:
        """The next request of a listing: ``links.next`` as a URL, a path, or a bare cursor."""
        if link.startswith(("http://", "https://")):
            return link, None
        if link.startswith("/"):
            return urljoin(self.base + "/", link), None
        return first, {"cursor": link}

    def scrub(self, text: str, limit: int = 400) -> str:
        """``text`` without the keys (a server echoing a header must not put them in our output)."""
        for secret in self._secrets:
            text = text.replace(secret, "[key]")
        text = _BEARER.sub("[key]", text)
        return text if len(text) <= limit else text[: limit - 1] + "…"


_BEARER = re.compile(r"(?i)(?<=bearer )\S+")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _origin_text(url: str) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}"


def _said(doc: Any) -> str:
    """What an error body says: the admin API's ``errors[]``, SCIM's ``detail``, or ``message``."""
    if not isinstance(doc, dict):
        return ""
    errors = doc.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    for value in (first.get("title"), first.get("detail"), doc.get("detail"), doc.get("message")):
        if isinstance(value, str) and value.strip():
            return f": {value.strip()[:300]}"
    return ""


def _retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After``: seconds, or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return (when - now).total_seconds()


def _reset_at(value: str | None, now: datetime) -> float | None:
    """``X-RateLimit-Reset``: an ISO 8601 UTC time (API Access REST intro, above)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return (when - now).total_seconds()


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
    except _Failure as exc:
        return source, None, _failed(source, exc)
    detail: dict[str, Any] = {"pages": len(pages)}
    if source in COVERS:
        detail["accounts"] = COVERS[source]
    return source, pages, SourceStatus(source, SourceState.OK, rows=rows, detail=detail)


def _failed(source: str, exc: _Failure) -> SourceStatus:
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
            raise _Failure('unexpected answer: expected {"data": [...], "links": {...}}')
        pages.append(doc)
        link = _next_link(doc)
        if link is None or first_only:
            return pages
        url, query = client.follow(link, first)
        step = (url, str(query))
        if step in seen:
            raise _Failure("the listing's links.next does not advance")
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
            raise _Failure('unexpected answer: expected a SCIM ListResponse {"Resources": [...]}')
        said = doc.get("startIndex")
        if isinstance(said, int) and said != start and resources:
            raise _Failure(f"the directory answered startIndex {said} when asked for {start}")
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
