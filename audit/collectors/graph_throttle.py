"""Throttling on the client side: one pause per Graph budget, a pace for the reports service.

Graph throttles directory reads and its reports separately
(https://learn.microsoft.com/graph/throttling-limits): directory reads (users, groups, service
principals) per application and tenant by ResourceUnits, 3,500 to 8,000 per 10 seconds by tenant
size; the identity and access reports (``/auditLogs``: provisioning logs) at 5 requests per 10
seconds per application and tenant. A ``429`` with ``Retry-After`` pauses every request of the
collection against the same budget (:class:`_Counter`); requests to the reports are spaced to
their documented rate before they are sent, since each refused one still counts against it
("all requests accrue against your usage limits", https://learn.microsoft.com/graph/throttling).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
from kiota_abstractions.request_option import RequestOption
from kiota_http.middleware.middleware import REQUEST_OPTIONS_KEY, BaseMiddleware

from audit.collectors.retry_after import retry_after

__all__ = ["DIRECTORY", "MAX_PAUSE", "REPORTS", "REPORTS_PER_10_S", "scope"]

MAX_PAUSE = 180.0  # as the SDK's retry handler: a longer Retry-After is not waited for
_MAX_PAUSE = MAX_PAUSE
DIRECTORY = "directory"
REPORTS = "reports"
REPORTS_PER_10_S = 5
"""Identity and access reports service limit: requests per 10 seconds per app per tenant."""


class _Counter(RequestOption):
    """Per-collection counts and throttling budgets, carried to :class:`_CountingHandler` as a
    request option.

    The budgets: when Graph answers 429 (or 503/504) with ``Retry-After``, the SDK's retry handler
    waits before retrying *that* request; ``resume_at`` makes every other request of the collection
    that counts against the same budget (:func:`scope`) wait too, so parallel partitions back off
    together instead of spending the budget on more 429s, while requests against the other budget
    go on. Requests to the reports service are also paced to its documented limit beforehand
    (:data:`REPORTS_PER_10_S`), so they are not refused in the first place.
    """

    KEY = "B2bPreflightCounter"

    def __init__(self) -> None:
        self.sent = 0
        self.retries = 0
        self.resume_at: dict[str, float] = {}
        self.paces = {REPORTS: _Pace(REPORTS_PER_10_S, 10.0)}
        self.capped = 0
        self.longest = 0.0
        self.reauthenticated = 0
        self.resent = 0

    @staticmethod
    def get_key() -> str:
        return _Counter.KEY

    async def wait_turn(self, budget: str = DIRECTORY) -> None:
        """Sleep until the budget's shared pause (if any) is over, then for its pace."""
        while (delay := self.resume_at.get(budget, 0.0) - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        pace = self.paces.get(budget)
        if pace is not None:
            await pace.reserve()

    def note(self, response: httpx.Response, budget: str = DIRECTORY) -> None:
        """Start (or extend) the budget's shared pause when ``response`` asks the client to back
        off."""
        if response.status_code not in (429, 503, 504):
            return
        seconds = _retry_after(response.headers.get("Retry-After"))
        if seconds is not None and 0 < seconds < _MAX_PAUSE:
            until = max(self.resume_at.get(budget, 0.0), time.monotonic() + seconds)
            self.resume_at[budget] = until


class _Pace:
    """At most ``count`` requests per ``window`` seconds, at once and then evenly (a token
    bucket); requests that would exceed it wait their turn, in order."""

    def __init__(self, count: int, window: float) -> None:
        self.capacity = float(count)
        self.rate = count / window
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    async def reserve(self) -> None:
        """Wait until this request fits the pace."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1  # below zero: the requests queued before this one
        if self.tokens < 0:
            await asyncio.sleep(-self.tokens / self.rate)


def scope(url: httpx.URL) -> str:
    """The throttling budget a request counts against: Graph limits its reports (``/auditLogs``:
    provisioning logs, sign-ins) apart from directory reads (users, groups, service principals),
    https://learn.microsoft.com/graph/throttling-limits."""
    return REPORTS if "/auditlogs/" in url.path.lower() else DIRECTORY


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number (the form Graph uses) or an HTTP date."""
    seconds = retry_after(value, datetime.now(UTC))
    return None if seconds is None else max(0.0, seconds)


class _CountingHandler(BaseMiddleware):
    """Innermost middleware: sees every attempt, so it counts retries (``Retry-Attempt`` header),
    keeps the shared throttling pauses and paces of :class:`_Counter` and caps ``Retry-After`` at
    ``max_wait`` (the SDK's retry handler, which runs after it, then waits the capped time)."""

    def __init__(self, max_wait: float) -> None:
        super().__init__()
        self.max_wait = max_wait

    async def send(
        self, request: httpx.Request, transport: httpx.AsyncBaseTransport
    ) -> httpx.Response:
        counter = request.extensions.get(_Counter.KEY)
        if counter is None:  # first attempt: the options are dropped after it, so keep our own
            options = request.extensions.get(REQUEST_OPTIONS_KEY) or {}
            counter = request.extensions[_Counter.KEY] = options.get(_Counter.KEY)
        if not isinstance(counter, _Counter):
            return await super().send(request, transport)
        budget = scope(request.url)
        await counter.wait_turn(budget)
        counter.sent += 1
        counter.retries += "Retry-Attempt" in request.headers
        response = await super().send(request, transport)
        self._cap(response, counter)
        counter.note(response, budget)
        return response

    def _cap(self, response: httpx.Response, counter: _Counter) -> None:
        """Shorten a ``Retry-After`` longer than ``max_wait``, and count it."""
        if response.status_code not in (429, 503, 504):
            return
        seconds = _retry_after(response.headers.get("Retry-After"))
        if seconds is None or seconds <= self.max_wait:
            return
        counter.capped += 1
        counter.longest = max(counter.longest, seconds)
        response.headers["Retry-After"] = str(int(self.max_wait))
