"""The HTTP side of the Atlassian collector: one httpx.AsyncClient, GET only, throttling shared.

:class:`AtlassianClient` sends every request of a collection: ``Authorization: Bearer <key>``
(https://developer.atlassian.com/cloud/admin/organization/rest/intro/), only to the configured
origin, and no key ever appears in a message of ours (a server or gateway echoing the header is
masked). Paging: ``links.next`` of the admin API is a full URL on ``GET /v1/orgs/{orgId}/users``
and a bare cursor on the v2 listings (https://jira.atlassian.com/browse/AX-241); :meth:`follow`
takes both forms (and a relative path), a URL only on the configured origin. Rate limiting: a 429
carries ``X-RateLimit-Reset``, "Next period reset time (ISO 8601 - Date and time in UTC)"
(https://developer.atlassian.com/cloud/admin/api-access/rest/intro/); ``Retry-After`` (seconds or
an HTTP date) is honoured as well. The wait is shared by every request of the collection, capped
at ``max_wait`` (capped waits are counted) and retried at most ``max_retries`` times, as the Graph
client does; without either header the wait doubles from ``retry_delay``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from audit.collectors.retry_after import retry_after
from audit.models import SourceStatus

__all__ = ["AtlassianClient", "AtlassianData", "RequestFailed"]

JSON = dict[str, Any]
_RETRY_STATUSES = (429, 503, 504)
_MAX_PAUSE = 3600.0


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


class RequestFailed(Exception):
    """A request that failed for good: a source-level failure with a clean message (no key) and the HTTP status, if any."""

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
        """GET ``url`` with the key; waits out throttling; parsed JSON, or :class:`RequestFailed`."""
        if _origin(url) != self._origin:
            raise RequestFailed(f"refusing to send the key to another origin ({_origin_text(url)})")
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
            raise RequestFailed(
                f"Atlassian did not answer in time ({type(exc).__name__})"
            ) from None
        except httpx.HTTPError as exc:
            raise RequestFailed(self.scrub(f"cannot reach Atlassian: {type(exc).__name__}: {exc}")) from None  # fmt: skip

    def _parse(self, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            doc = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            doc = None
        if status >= 400:
            raise RequestFailed(self.scrub(f"HTTP {status}{_said(doc)}"), status)
        if doc is None:
            raise RequestFailed(f"HTTP {status} without a JSON body", status)
        return doc

    def _wait(self, response: httpx.Response, attempt: int) -> float:
        """Seconds to wait before the retry: Retry-After, X-RateLimit-Reset, else a doubling delay."""
        asked = retry_after(response.headers.get("Retry-After"), self._clock())
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
