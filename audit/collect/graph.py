"""Collect the Graph side of the audit through msgraph-sdk: read-only, fast, honest about failures.

Requests go through the SDK's request adapter and its whole middleware chain (auth, retry with
``Retry-After``, redirects), but bulk lists come back as raw bytes parsed by orjson: typed kiota
models parse a few hundred users per second, raw pages a hundred thousand (see
reference/measurements.md). Only GET is ever sent. Each source ends with a :class:`SourceStatus`; a
source that failed is reported as failed (with the missing permission for a 401/403), never as zero
rows.

Records are the raw Graph objects exactly as returned, keyed by source, with two additions:
``group_members`` items carry ``"_groupId"`` (the assigned group they were listed under; nested
groups appear as members typed ``#microsoft.graph.group``) and the ``sync_schema`` object carries
``"_jobId"`` (the job whose schema it is) instead of the response's ``@odata.context``.

Dependencies: when the service principal is not found (or is ambiguous), its dependants are
``not_requested`` with the reason; with no provisioning job, ``sync_schema`` is ``not_requested``.

At tenant scale (see bench/README.md): ``partitions=N`` reads the guest list in parallel chains
(:mod:`audit.collect.partition`), at most N requests in flight, all pausing together when Graph
answers 429/503 with ``Retry-After`` (one throttling budget); ``checkpoint=`` logs every page so an
interrupted collection resumes (:mod:`audit.collect.checkpoint`); ``track_changes`` stores a
``/users/delta`` link and ``delta=`` reads only the changes since one (:mod:`audit.collect.delta`).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib
import re
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import orjson
from azure.core.exceptions import AzureError, ClientAuthenticationError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_abstractions.request_option import RequestOption
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware.middleware import REQUEST_OPTIONS_KEY, BaseMiddleware
from kiota_http.middleware.options import RetryHandlerOption, UrlReplaceHandlerOption
from msgraph._version import VERSION as SDK_VERSION
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import APIVersion, GraphClientFactory
from msgraph_core.authentication import AzureIdentityAuthenticationProvider
from msgraph_core.middleware import GraphTelemetryHandler
from msgraph_core.middleware.options import GraphTelemetryHandlerOption

from audit.collect._heap import freeze_young, pages_frozen, release_on_close
from audit.collect.auth import Credential, cloud_endpoints, is_loopback
from audit.collect.checkpoint import Checkpoint, PageLog
from audit.collect.delta import DeltaChanges, DeltaState, fold_changes, needs_refetch
from audit.collect.partition import Slots, collect_partitioned
from audit.errors import ConfigError, SourceError
from audit.models import SourceState, SourceStatus

__all__ = [
    "GUEST_SELECT",
    "PERMISSIONS",
    "SIGN_IN_SELECT",
    "SOURCES",
    "GraphData",
    "close_graph_client",
    "collect_graph",
    "make_graph_client",
]

JSON = dict[str, Any]

GUEST_SELECT: tuple[str, ...] = (
    # Returned by GET /users without $select too:
    "id",
    "displayName",
    "givenName",
    "surname",
    "userPrincipalName",
    "mail",
    # Omitted by default; Graph returns them only when selected:
    "otherMails",
    "proxyAddresses",
    "userType",
    "creationType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "identities",
    "accountEnabled",
    "assignedLicenses",
    "createdDateTime",
    "mailNickname",
)
SIGN_IN_SELECT = "signInActivity"  # appended on request: needs AuditLog.Read.All and Entra ID P1/P2

# Least-privileged application permission per source (the doctor command names these).
PERMISSIONS: dict[str, str] = {
    "organization": "Organization.Read.All",
    "domains": "Domain.Read.All",
    "users": "User.Read.All",
    "sign_in_activity": "AuditLog.Read.All",
    "service_principal": "Application.Read.All",
    "app_role_assignments": "Application.Read.All",
    "group_members": "GroupMember.Read.All",
    "sync_jobs": "Synchronization.Read.All",
    "sync_schema": "Synchronization.Read.All",
    "provisioning_logs": "AuditLog.Read.All",
}
SOURCES = tuple(PERMISSIONS)
REQUIRED = ("organization", "domains", "users")
APP_SOURCES = SOURCES[4:]
_ERROR_MAP = cast(dict[str, Any], {"4XX": ODataError, "5XX": ODataError})
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_GROUP_CONCURRENCY = 4
_REFETCH_CONCURRENCY = 8
_MAX_PAUSE = 180.0  # as the SDK's retry handler: a longer Retry-After is not waited for
MAX_RETRY_WAIT = 120.0
"""Default cap (seconds) on a ``Retry-After`` wait: a longer one is shortened to this and counted."""
_GUESTS = "userType eq 'Guest'"
_INVITED_MEMBERS = "creationType eq 'Invitation' and userType eq 'Member'"


# SDK quirk: every generated request builder (and one kiota module) emits a DeprecationWarning while
# its module body runs, i.e. on first import, and the SDK imports builders lazily on attribute
# access. _quiet_sdk_imports() imports the ones we use once, with that warning silenced.
_SDK_MODULES = (
    "kiota_abstractions.default_query_parameters",
    *(
        f"msgraph.generated.{path}"
        for path in (
            "organization.organization_request_builder",
            "domains.domains_request_builder",
            "users.users_request_builder",
            "users.item.user_item_request_builder",
            "service_principals.service_principals_request_builder",
            "service_principals.item.service_principal_item_request_builder",
            "service_principals.item.app_role_assigned_to.app_role_assigned_to_request_builder",
            "service_principals.item.synchronization.synchronization_request_builder",
            "service_principals.item.synchronization.jobs.jobs_request_builder",
            "service_principals.item.synchronization.jobs.item."
            "synchronization_job_item_request_builder",
            "service_principals.item.synchronization.jobs.item.schema.schema_request_builder",
            "groups.groups_request_builder",
            "groups.item.group_item_request_builder",
            "groups.item.members.members_request_builder",
            "audit_logs.audit_logs_request_builder",
            "audit_logs.provisioning.provisioning_request_builder",
        )
    ),
)


@functools.cache
def _quiet_sdk_imports() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(msgraph|kiota)")
        for module in _SDK_MODULES:
            importlib.import_module(module)


@dataclass
class GraphData:
    """What :func:`collect_graph` gathered.

    ``records`` holds only sources whose status is ``ok``; ``throttled`` counts the retries the
    SDK's retry handler absorbed (429/503/504), ``requests`` the GET requests the collector made.
    ``delta_link`` is the ``/users/delta`` link for the next incremental run (when changes were
    tracked). After an incremental run, ``changes`` holds what changed and ``records`` has no
    ``users``: apply the changes to the previous table (:func:`audit.collect.delta.apply_changes`).
    ``resumed_pages`` counts pages taken from a checkpoint instead of Graph. ``capped_waits``
    counts ``Retry-After`` waits shortened to the client's ``max_wait`` (``longest_retry_after``
    is the longest one asked for), ``reauthenticated`` the requests sent again with a fresh token
    after a 401, ``resent`` those sent again after a connection reset or a truncated body.
    """

    records: dict[str, list[JSON]] = field(default_factory=dict)
    statuses: dict[str, SourceStatus] = field(default_factory=dict)
    throttled: int = 0
    requests: int = 0
    delta_link: str | None = None
    changes: DeltaChanges | None = None
    resumed_pages: int = 0
    capped_waits: int = 0
    longest_retry_after: float = 0.0
    reauthenticated: int = 0
    resent: int = 0

    def __repr__(self) -> str:
        """Counts, not contents: a repr of a million users takes seconds (and asyncio.run builds
        one of the coroutine's result when it restores its SIGINT handler)."""
        rows = {name: len(items) for name, items in self.records.items()}
        return f"GraphData(records={rows}, requests={self.requests}, throttled={self.throttled})"


def make_graph_client(
    *,
    base_url: str,
    credential: Credential | None,
    cloud: str = "global",
    max_retries: int = 5,
    retry_delay: float = 1.0,
    max_wait: float = MAX_RETRY_WAIT,
) -> GraphServiceClient:
    """A GraphServiceClient on ``base_url``: the SDK's default middleware plus a request counter.

    The token goes only to the cloud's Graph host and the ``base_url`` host (explicit
    ``allowed_hosts``). Without a credential, no Authorization header is sent, which is allowed for
    a loopback URL only. ``retry_delay`` is the SDK's base delay added to its exponential backoff
    when a 503/504 carries no ``Retry-After``. A ``Retry-After`` above ``max_wait`` seconds is
    shortened to ``max_wait`` (at least 1 s) and counted (``GraphData.capped_waits``), so a server
    asking for an hour neither stalls the run nor, beyond the SDK's 180 s limit, fails it at once.
    """
    _quiet_sdk_imports()
    endpoints = cloud_endpoints(cloud)
    url = base_url.rstrip("/")
    loopback = is_loopback(url)
    if urlsplit(url).scheme != "https" and not loopback:
        raise ConfigError(f"Graph URL must use https: {url}")
    if credential is None:
        if not loopback:
            raise ConfigError("a credential is required for a Graph URL that is not loopback")
        provider: Any = AnonymousAuthenticationProvider()
    else:
        hosts = sorted({endpoints.graph_host, str(urlsplit(url).hostname)})
        provider = AzureIdentityAuthenticationProvider(
            credential, scopes=[endpoints.graph_scope], allowed_hosts=hosts
        )
    http = _http_client(max_retries, retry_delay, max(1.0, min(max_wait, _MAX_PAUSE - 1)))
    adapter = GraphRequestAdapter(provider, client=http)
    adapter.base_url = url
    return GraphServiceClient(request_adapter=adapter)


async def close_graph_client(client: GraphServiceClient) -> None:
    """Close the connection pool of a client made by :func:`make_graph_client`.

    SDK quirk: msgraph-core's ``AsyncGraphTransport`` has no ``aclose()``, so ``AsyncClient.aclose()``
    leaves the pooled connections it wraps open; close the wrapped transports ourselves.
    """
    http = getattr(client.request_adapter, "_http_client", None)  # kiota keeps it private
    if not isinstance(http, httpx.AsyncClient):
        return
    wrappers = [http._transport, *http._mounts.values()]
    await http.aclose()
    for wrapper in wrappers:
        inner = getattr(wrapper, "transport", None)
        if isinstance(inner, httpx.AsyncBaseTransport):
            await inner.aclose()


def _http_client(max_retries: int, retry_delay: float, max_wait: float) -> httpx.AsyncClient:
    """httpx with the SDK's default middleware (as GraphRequestAdapter builds it) + our counter."""
    options: dict[str, Any] = {
        RetryHandlerOption.get_key(): RetryHandlerOption(retry_delay, max_retries),
        UrlReplaceHandlerOption.get_key(): UrlReplaceHandlerOption(
            enabled=True, replacement_pairs={"/users/me-token-to-replace": "/me"}
        ),
    }
    telemetry = GraphTelemetryHandlerOption(api_version=APIVersion.v1, sdk_version=SDK_VERSION)
    middleware = KiotaClientFactory.get_default_middleware(options)
    middleware += [GraphTelemetryHandler(options=telemetry), _CountingHandler(max_wait)]
    client = KiotaClientFactory.get_default_client()
    client.event_hooks["response"].append(release_on_close)
    return cast(
        httpx.AsyncClient,
        GraphClientFactory.create_with_custom_middleware(middleware, client=client),
    )


class _Counter(RequestOption):
    """Per-collection counts and throttling budget, carried to :class:`_CountingHandler` as a
    request option.

    The budget: when Graph answers 429 (or 503/504) with ``Retry-After``, the SDK's retry handler
    waits before retrying *that* request; ``resume_at`` makes every other request of the collection
    wait too, so parallel partitions back off together instead of spending the budget on more 429s.
    """

    KEY = "B2bPreflightCounter"

    def __init__(self) -> None:
        self.sent = 0
        self.retries = 0
        self.resume_at = 0.0
        self.capped = 0
        self.longest = 0.0
        self.reauthenticated = 0
        self.resent = 0

    @staticmethod
    def get_key() -> str:
        return _Counter.KEY

    async def wait_turn(self) -> None:
        """Sleep until the shared pause (if any) is over."""
        while (delay := self.resume_at - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    def note(self, response: httpx.Response) -> None:
        """Start (or extend) the shared pause when ``response`` asks the client to back off."""
        if response.status_code not in (429, 503, 504):
            return
        seconds = _retry_after(response.headers.get("Retry-After"))
        if seconds is not None and 0 < seconds < _MAX_PAUSE:
            self.resume_at = max(self.resume_at, time.monotonic() + seconds)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number (the form Graph uses) or an HTTP date."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _CountingHandler(BaseMiddleware):
    """Innermost middleware: sees every attempt, so it counts retries (``Retry-Attempt`` header),
    keeps the shared throttling pause of :class:`_Counter` and caps ``Retry-After`` at
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
        await counter.wait_turn()
        counter.sent += 1
        counter.retries += "Retry-Attempt" in request.headers
        response = await super().send(request, transport)
        self._cap(response, counter)
        counter.note(response)
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


class _Problem(Exception):
    """A source-level failure with a clean message (no token, no traceback) and HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


_EXPECTED = (APIError, httpx.HTTPError, AzureError, _Problem)  # AzureError: getting a token


@dataclass
class _Chain:
    """The items of one ``nextLink`` chain, its final ``@odata.deltaLink`` (delta rounds) and how
    many of its pages came from a checkpoint."""

    items: list[JSON]
    delta_link: str | None = None
    resumed: int = 0


class _Graph:
    """Raw GETs through the SDK adapter: bytes in, orjson out, ``@odata.nextLink`` followed."""

    def __init__(self, client: GraphServiceClient, checkpoint: Checkpoint | None = None) -> None:
        self.client = client
        self.adapter: Any = client.request_adapter  # send_primitive_async is typed as -> None
        self.counter = _Counter()
        self.base_url = str(self.adapter.base_url).rstrip("/")
        self.origin = _origin(self.base_url)
        self.checkpoint = checkpoint
        self.requests = 0
        self.resumed = 0
        self.freeze = False  # freeze each parsed page (audit.collect._heap)

    async def fetch(self, info: RequestInformation) -> tuple[bytes, JSON]:
        """One GET: the raw body and its parsed JSON object.

        Two faults the SDK does not retry get exactly one more attempt: a 401 (an access token that
        expired mid-run) is sent again without its Authorization header, so the SDK asks the
        credential for a token again; a connection reset or a truncated or unparseable body (not a
        timeout) is sent again as it was. Both are counted (``GraphData``); a second failure stands.
        """
        info.add_request_options([self.counter])
        self.requests += 1
        for last in (False, True):
            try:
                raw = await self.adapter.send_primitive_async(info, "bytes", _ERROR_MAP)
            except APIError as exc:
                if last or exc.response_status_code != 401:
                    raise
                self.counter.reauthenticated += 1
                info.headers.remove("Authorization")
                continue
            except httpx.TransportError as exc:
                if last or isinstance(exc, httpx.TimeoutException):
                    raise
                self.counter.resent += 1
                continue
            doc = _parse(raw, freeze=self.freeze) if raw else None
            if isinstance(doc, dict):
                return raw, doc
            if last:
                raise _Problem("Graph answered with something that is not a JSON object")
            self.counter.resent += 1
        raise AssertionError("unreachable")  # pragma: no cover

    async def document(self, info: RequestInformation) -> JSON:
        return (await self.fetch(info))[1]

    async def pages(self, info: RequestInformation) -> list[JSON]:
        """Every item of a collection, following ``@odata.nextLink`` to the end."""
        return (await self.chain(info)).items

    async def chain(
        self,
        info: RequestInformation,
        *,
        resumable: bool = False,
        limit: Slots | None = None,
        on_items: Callable[[list[JSON]], None] | None = None,
    ) -> _Chain:
        """A whole chain; ``resumable`` logs its pages to the checkpoint (if any) and continues a
        logged chain where it stopped; ``limit`` bounds requests in flight across chains;
        ``on_items`` sees each page's items as they arrive (resumed ones first)."""
        log = self.checkpoint.log(self.url_of(info)) if resumable and self.checkpoint else None
        point = log.resume() if log is not None else None
        walk = _Walk(limit, on_items)
        if point is None:
            return await self._walk(info, info, [], log, walk)
        if on_items is not None:
            on_items(point.items)
        if point.next_link is None:
            self.resumed += point.pages
            return _Chain(point.items, point.delta_link, point.pages)
        try:
            chain = await self._walk(
                self.follow(point.next_link, info), info, point.items, log, walk
            )
        except _EXPECTED as exc:
            if _describe(exc).status not in (400, 404, 410) or log is None:
                raise
            log.start()  # the stored skip token expired: read the chain again from its start
            return await self._walk(info, info, [], log, walk)
        self.resumed += point.pages
        chain.resumed = point.pages
        return chain

    async def _walk(
        self,
        info: RequestInformation,
        first: RequestInformation,
        items: list[JSON],
        log: PageLog | None,
        walk: _Walk,
    ) -> _Chain:
        pages = 0
        while True:
            if walk.limit is None:
                raw, doc = await self.fetch(info)
            else:
                async with walk.limit.hold(pages=pages if info is first else pages + 1):
                    raw, doc = await self.fetch(info)
            pages += 1
            value = doc.get("value")
            if not isinstance(value, list):
                raise _Problem("collection response without a 'value' list")
            page = [v for v in value if isinstance(v, dict)]
            items.extend(page)
            if walk.on_items is not None:
                walk.on_items(page)
            if log is not None:
                log.append(raw)
            link = doc.get("@odata.nextLink")
            if not link:
                delta = doc.get("@odata.deltaLink")
                return _Chain(items, str(delta) if delta else None)
            info = self.follow(str(link), first)

    def url_of(self, info: RequestInformation) -> str:
        """The absolute URL of a request (the identity of its chain in a checkpoint)."""
        url = str(info.url)
        return url if "://" in url else self.base_url + url

    def follow(self, link: str, previous: RequestInformation | None) -> RequestInformation:
        """A GET for a nextLink (or a stored deltaLink), refused if it leaves the Graph host we
        were given."""
        if _origin(link) != self.origin:
            raise _Problem(f"@odata.nextLink points away from {self.origin[1]}")
        info = RequestInformation(Method.GET)
        info.url = link
        info.headers.try_add("Accept", "application/json")
        for value in previous.headers.get("ConsistencyLevel") if previous is not None else ():
            info.headers.try_add("ConsistencyLevel", value)
        return info


@dataclass(frozen=True)
class _Walk:
    """How a chain is walked: the shared bound on requests in flight, and who sees each page."""

    limit: Slots | None = None
    on_items: Callable[[list[JSON]], None] | None = None


def _parse(raw: bytes, *, freeze: bool = False) -> Any:
    """orjson.loads with the cyclic GC paused: parsed JSON has no cycles, and the collections that
    the allocation of a 999-user page would trigger (scanning everything already collected) cost
    more than the parse itself, about 2.5x overall at 100,000 guests. With ``freeze``, the page
    is then frozen (:mod:`audit.collect._heap`), so later collections do not scan it either."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        doc = orjson.loads(raw)
        if freeze:
            freeze_young()
        return doc
    except orjson.JSONDecodeError:
        return None
    finally:
        if was_enabled:
            gc.enable()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


async def collect_graph(
    client: GraphServiceClient,
    *,
    app: str | None = "Atlassian Cloud",
    include_sign_in: bool = False,
    log_days: int = 30,
    now: datetime | None = None,
    page_size: int = 999,
    partitions: int = 0,
    track_changes: bool = False,
    delta: DeltaState | None = None,
    checkpoint: Checkpoint | None = None,
    on_users: Callable[[list[JSON]], None] | None = None,
) -> GraphData:
    """Collect every Graph source of the audit; see the module docstring for the record shapes.

    ``app`` is the service principal's display name or appId; None skips the app sources (their
    status is ``not_requested``). Raises :class:`SourceError` when a required source (organization,
    domains, users) fails for a reason other than a missing permission.

    ``partitions`` > 0 reads the guest list in partitions with at most that many requests in
    flight (verified against ``$count``; same rows as sequential paging, another order).
    ``track_changes`` sets ``GraphData.delta_link``; ``delta`` makes the users source incremental
    (``GraphData.changes``), falling back to a full read (reason in the users status detail) when
    the link is refused or belongs to another tenant or ``$select``. ``checkpoint`` logs the users
    pages, resumes logged chains, and is cleared once the users source is complete.
    ``on_users`` is called with each page of users of a full read as it arrives, so work on them
    can start before the collection ends (DNS of their domains); it may see a user twice, or one
    the final list leaves out, and sees nothing of an incremental read.
    """
    if not 1 <= page_size <= 999:
        raise ConfigError(f"page_size must be between 1 and 999, not {page_size}")
    if partitions < 0:
        raise ConfigError(f"partitions must be 0 (sequential) or more, not {partitions}")
    _quiet_sdk_imports()
    graph, data = _Graph(client, checkpoint), GraphData()
    since = (now or datetime.now(UTC)) - timedelta(days=log_days)
    await _run(
        data, "organization", lambda: graph.pages(client.organization.to_get_request_information())
    )
    plan = _UsersPlan(include_sign_in, page_size, partitions, track_changes or delta is not None)
    plan.delta, plan.note = _usable_delta(delta, data)
    plan.on_page = on_users
    try:
        with pages_frozen(graph):
            await _sources(graph, data, plan, app, since if log_days > 0 else None, page_size)
    except BaseExceptionGroup as errors:
        raise _first_leaf(errors) from None
    data.statuses = {s: data.statuses[s] for s in SOURCES if s in data.statuses}
    data.throttled, data.requests = graph.counter.retries, graph.requests
    data.resumed_pages = graph.resumed
    counter = graph.counter
    data.capped_waits, data.longest_retry_after = counter.capped, counter.longest
    data.reauthenticated, data.resent = counter.reauthenticated, counter.resent
    if checkpoint is not None and data.statuses["users"].usable:
        checkpoint.clear()
    return data


async def _sources(
    graph: _Graph,
    data: GraphData,
    plan: _UsersPlan,
    app: str | None,
    since: datetime | None,
    page_size: int,
) -> None:
    """Domains, users and the app's sources, concurrently."""
    async with asyncio.TaskGroup() as group:
        domains_info = graph.client.domains.to_get_request_information()
        group.create_task(_run(data, "domains", lambda: graph.pages(domains_info)))
        group.create_task(_users(graph, data, plan))
        group.create_task(_app(graph, data, app, since, page_size))


def _first_leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def _run(
    data: GraphData, source: str, fetch: Callable[[], Awaitable[list[JSON]]]
) -> list[JSON] | None:
    """Collect one source into ``data``; None (and a failed status) when it could not be read."""
    try:
        rows = await fetch()
    except _EXPECTED as exc:
        data.statuses[source] = _failed(source, exc)
        return None
    data.records[source] = rows
    data.statuses[source] = SourceStatus(source, SourceState.OK, rows=len(rows))
    return rows


def _failed(source: str, exc: BaseException) -> SourceStatus:
    """The failed status for ``exc``; raises :class:`SourceError` for a broken required source."""
    problem = _describe(exc)
    detail = {"status": problem.status} if problem.status else {}
    if problem.status in (401, 403):
        permission = PERMISSIONS[source]
        return SourceStatus(source, SourceState.FAILED, error=str(problem),
                            missing_permission=permission, detail=detail)  # fmt: skip
    if source in REQUIRED:
        raise SourceError(source, str(problem), status=problem.status) from exc
    return SourceStatus(source, SourceState.FAILED, error=str(problem), detail=detail)


def _describe(exc: BaseException) -> _Problem:
    """A short, token-free description of what went wrong, with the HTTP status if any."""
    if isinstance(exc, _Problem):
        return exc
    if isinstance(exc, ODataError) and exc.error is not None:
        status = exc.response_status_code
        return _Problem(_clip(f"HTTP {status} {exc.error.code}: {exc.error.message}"), status)
    if isinstance(exc, APIError):
        return _Problem(f"HTTP {exc.response_status_code}", exc.response_status_code)
    if isinstance(exc, ClientAuthenticationError):
        first_line = str(exc.message or exc).strip().splitlines()[0] if str(exc).strip() else ""
        return _Problem(_clip(f"authentication failed: {first_line}"))
    if isinstance(exc, AzureError):
        first_line = str(exc.message or exc).strip().splitlines()[0] if str(exc).strip() else ""
        return _Problem(_clip(f"cannot get an access token: {type(exc).__name__}: {first_line}"))
    if isinstance(exc, httpx.TimeoutException):
        return _Problem(f"Graph did not answer in time ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.ConnectError):
        said = f": {exc}" if str(exc) else ""
        return _Problem(_clip(f"the connection to Graph broke ({type(exc).__name__}{said})"))
    return _Problem(_clip(f"cannot reach Graph: {type(exc).__name__}: {exc}"))


def _clip(text: str, limit: int = 400) -> str:
    """``text`` cut to ``limit`` characters, with anything shaped like a token masked: a server
    (or a proxy) echoing the request's Authorization header must not put it in our messages."""
    text = _TOKEN_LIKE.sub("[token]", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_TOKEN_LIKE = re.compile(r"(?i)(?<=bearer )\S+|eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")


def _not_requested(data: GraphData, sources: Iterable[str], reason: str | None = None) -> None:
    for source in sources:
        data.statuses[source] = SourceStatus(source, SourceState.NOT_REQUESTED, error=reason)


# ---- users ------------------------------------------------------------------------------------


@dataclass
class _UsersPlan:
    """How to read the users source (see :func:`collect_graph`)."""

    include_sign_in: bool
    page_size: int
    partitions: int
    track_changes: bool
    delta: DeltaState | None = None
    note: str | None = None  # why an incremental read became a full one
    detail: JSON = field(default_factory=dict)  # how the guest list was paged
    on_page: Callable[[list[JSON]], None] | None = None  # sees each page of a full read


def _usable_delta(
    delta: DeltaState | None, data: GraphData
) -> tuple[DeltaState | None, str | None]:
    """``delta`` unless it cannot apply to this tenant and ``$select`` (then None and why)."""
    if delta is None:
        return None, None
    orgs = data.records.get("organization") or [{}]
    tenant = orgs[0].get("id")
    if delta.tenant_id and tenant and str(tenant) != delta.tenant_id:
        return None, "full read: the previous snapshot is of another tenant"
    if tuple(delta.select) != GUEST_SELECT:
        return None, "full read: the previous snapshot tracked other properties"
    return delta, None


async def _users(graph: _Graph, data: GraphData, plan: _UsersPlan) -> None:
    """Guests plus invited members: incremental when a delta link applies, else a full read."""
    if plan.delta is not None:
        try:
            await _incremental(graph, data, plan.delta)
            return
        except _EXPECTED as exc:
            if _describe(exc).status in (401, 403):
                data.statuses["users"] = _failed("users", exc)
                _not_requested(data, ["sign_in_activity"])
                return
            plan.note = f"full read: the delta link was refused ({_describe(exc)})"
    if plan.track_changes:
        data.delta_link = await _latest_delta_link(graph)
    await _full_users(graph, data, plan)
    status = data.statuses["users"]
    if status.usable:
        status.detail.update(plan.detail)
    if status.usable and plan.note:
        status.detail["incremental"] = plan.note
    if status.usable and plan.track_changes and data.delta_link is None:
        status.detail["delta"] = "unavailable: no delta link (the next run reads everything)"


async def _full_users(graph: _Graph, data: GraphData, plan: _UsersPlan) -> None:
    """Every guest and invited member; with sign-in activity when asked and permitted."""
    if plan.include_sign_in:
        try:
            rows = await _guests(graph, (*GUEST_SELECT, SIGN_IN_SELECT), plan)
        except _EXPECTED as exc:
            if _describe(exc).status not in (401, 403):
                data.statuses["users"] = _failed("users", exc)
                return
            data.statuses["sign_in_activity"] = _failed("sign_in_activity", exc)
        else:
            data.records["users"] = rows
            data.statuses["users"] = SourceStatus("users", SourceState.OK, rows=len(rows))
            signed = sum(SIGN_IN_SELECT in r for r in rows)
            data.statuses["sign_in_activity"] = SourceStatus(
                "sign_in_activity", SourceState.OK, rows=signed
            )
            return
    else:
        _not_requested(data, ["sign_in_activity"])
    await _run(data, "users", lambda: _guests(graph, GUEST_SELECT, plan))


def _filter_refused(exc: BaseException) -> str | None:
    """``HTTP 400 <code>`` when Graph refused a request as malformed (a filter it does not take)."""
    if isinstance(exc, APIError) and exc.response_status_code == 400:
        code = getattr(getattr(exc, "error", None), "code", None)
        return f"HTTP 400 {code}" if code else "HTTP 400"
    return None


async def _guests(graph: _Graph, select: tuple[str, ...], plan: _UsersPlan) -> list[JSON]:
    """``userType eq 'Guest'`` and externally-originated members, merged and deduplicated by id."""
    limit = Slots(plan.partitions) if plan.partitions else None

    async def chain(filter_: str) -> list[JSON]:
        info = _users_request(graph.client, filter_, select, plan.page_size)
        chained = await graph.chain(info, resumable=True, limit=limit, on_items=plan.on_page)
        return chained.items

    async def guests() -> list[JSON]:
        if not plan.partitions:
            return await chain(_GUESTS)
        rows, report = await collect_partitioned(
            _GUESTS,
            fetch=chain,
            count=lambda: _count(graph, _GUESTS),
            min_count=2 * plan.page_size,
            refused=_filter_refused,
        )
        plan.detail = report.to_detail()
        return rows

    try:
        async with asyncio.TaskGroup() as group:  # a failure stops the other read too
            reads = group.create_task(guests()), group.create_task(chain(_INVITED_MEMBERS))
    except BaseExceptionGroup as errors:
        raise _first_leaf(errors) from None
    found, members = (task.result() for task in reads)
    merged: dict[str, JSON] = {}
    for user in found + [m for m in members if m.get("userType") == "Member"]:
        merged.setdefault(str(user.get("id")), user)
    return list(merged.values())


async def _count(graph: _Graph, filter_: str) -> int | None:
    """``$count`` of a users query (advanced query), or None when Graph will not count it."""
    query = graph.client.users.UsersRequestBuilderGetQueryParameters(
        filter=filter_, count=True, top=1, select=["id"]
    )
    config: RequestConfiguration[Any] = RequestConfiguration(query_parameters=query)
    config.headers.add("ConsistencyLevel", "eventual")
    try:
        doc = await graph.document(graph.client.users.to_get_request_information(config))
    except _EXPECTED as exc:
        if _describe(exc).status in (401, 403):
            raise
        return None
    count = doc.get("@odata.count")
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _users_request(
    client: GraphServiceClient, filter_: str, select: tuple[str, ...], top: int
) -> RequestInformation:
    query = client.users.UsersRequestBuilderGetQueryParameters(
        filter=filter_, select=list(select), top=top
    )
    return client.users.to_get_request_information(RequestConfiguration(query_parameters=query))


# ---- users: delta query -----------------------------------------------------------------------


async def _latest_delta_link(graph: _Graph) -> str | None:
    """A ``deltaLink`` for "changes from now on" (``$deltatoken=latest``: no data, one request);
    None when Graph will not give one (the next incremental run then reads everything)."""
    select = ",".join(GUEST_SELECT)
    info = graph.follow(f"{graph.base_url}/users/delta?$select={select}&$deltatoken=latest", None)
    try:
        doc = await graph.document(info)
    except _EXPECTED:
        return None
    link = doc.get("@odata.deltaLink")
    return str(link) if link and _origin(str(link)) == graph.origin else None


async def _incremental(graph: _Graph, data: GraphData, delta: DeltaState) -> None:
    """Follow the stored delta link to the next one; the net changes go to ``data.changes``."""
    chain = await graph.chain(graph.follow(delta.link, None), resumable=True)
    if not chain.delta_link:
        raise _Problem("the delta round ended without an @odata.deltaLink")
    changes = DeltaChanges(link=chain.delta_link)
    fold_changes(changes, chain.items)
    await _refetch(graph, changes, needs_refetch(changes, GUEST_SELECT, delta.known_ids))
    data.changes, data.delta_link = changes, changes.link
    data.statuses["users"] = SourceStatus(
        "users", SourceState.OK, rows=len(changes.upserts), detail=changes.to_detail()
    )
    data.statuses["sign_in_activity"] = SourceStatus(
        "sign_in_activity",
        SourceState.NOT_REQUESTED,
        error="not collected by an incremental run (delta query does not track signInActivity)",
    )


async def _refetch(graph: _Graph, changes: DeltaChanges, ids: list[str]) -> None:
    """Read whole objects for entries that carried only their changed properties."""
    limit = asyncio.Semaphore(_REFETCH_CONCURRENCY)

    async def one(uid: str) -> None:
        builder = graph.client.users.by_user_id(uid)
        query = builder.UserItemRequestBuilderGetQueryParameters(select=list(GUEST_SELECT))
        info = builder.to_get_request_information(RequestConfiguration(query_parameters=query))
        async with limit:
            try:
                user = await graph.document(info)
            except _EXPECTED as exc:
                if _describe(exc).status != 404:
                    raise
                fold_changes(changes, [{"id": uid, "@removed": {"reason": "deleted"}}])
                return
        user.pop("@odata.context", None)
        changes.upserts[uid] = user

    try:
        async with asyncio.TaskGroup() as group:
            for uid in ids:
                group.create_task(one(uid))
    except BaseExceptionGroup as errors:
        raise _first_leaf(errors) from None
    changes.refetched = len(ids)


# ---- the app: service principal, assignments, group members, provisioning ---------------------


async def _app(
    graph: _Graph, data: GraphData, app: str | None, since: datetime | None, page_size: int
) -> None:
    """The app's service principal, then its assignments, groups, job, schema and logs."""
    if app is None:
        _not_requested(data, APP_SOURCES)
        return
    found = await _run(data, "service_principal", lambda: _service_principal(graph, app))
    if not found:
        _not_requested(data, APP_SOURCES[1:], "skipped: the service principal was not collected")
        return
    sp_id = str(found[0].get("id"))
    async with asyncio.TaskGroup() as group:
        group.create_task(_assignments(graph, data, sp_id, page_size))
        group.create_task(_jobs(graph, data, sp_id))
        if since is None:
            _not_requested(data, ["provisioning_logs"])
        else:
            logs = _logs_request(graph.client, sp_id, since, page_size)
            group.create_task(_run(data, "provisioning_logs", lambda: graph.pages(logs)))


async def _service_principal(graph: _Graph, app: str) -> list[JSON]:
    """Exactly one service principal by appId (a GUID) or display name, else a clear failure."""
    key = "appId" if _GUID.fullmatch(app) else "displayName"
    literal = app.replace("'", "''")
    query = graph.client.service_principals.ServicePrincipalsRequestBuilderGetQueryParameters(
        filter=f"{key} eq '{literal}'"
    )
    config = RequestConfiguration(query_parameters=query)
    rows = await graph.pages(graph.client.service_principals.to_get_request_information(config))
    if not rows:
        raise _Problem(f"no service principal named {app!r}")
    if len(rows) > 1:
        raise _Problem(f"{len(rows)} service principals named {app!r}; give the appId instead")
    return rows


async def _assignments(graph: _Graph, data: GraphData, sp_id: str, page_size: int) -> None:
    builder = graph.client.service_principals.by_service_principal_id(sp_id).app_role_assigned_to
    query = builder.AppRoleAssignedToRequestBuilderGetQueryParameters(top=page_size)
    info = builder.to_get_request_information(RequestConfiguration(query_parameters=query))
    rows = await _run(data, "app_role_assignments", lambda: graph.pages(info))
    if rows is None:
        _not_requested(data, ["group_members"], "skipped: app_role_assignments failed")
        return
    groups = [str(r["principalId"]) for r in rows if r.get("principalType") == "Group"]
    groups = list(dict.fromkeys(g for g in groups if g and g != "None"))
    await _run(data, "group_members", lambda: _group_members(graph, groups, page_size))


async def _group_members(graph: _Graph, groups: list[str], page_size: int) -> list[JSON]:
    """Members of each assigned group, and of the groups nested below them (any depth).

    The provisioning service reads only direct members; nested groups are followed so the audit can
    name the guests that are assigned *only* through one (``nested-group-only``).
    """
    rows: list[JSON] = []
    seen: set[str] = set()
    level = list(dict.fromkeys(groups))
    for _ in range(_MAX_NESTING):
        level = [g for g in level if g not in seen]
        if not level:
            break
        seen.update(level)
        found = await _direct_members(graph, level, page_size)
        rows += found
        level = [str(m.get("id")) for m in found if _is_group(m)]
    return rows


_MAX_NESTING = 10


def _is_group(member: JSON) -> bool:
    return str(member.get("@odata.type", "")).lower().endswith(".group")


async def _direct_members(graph: _Graph, groups: list[str], page_size: int) -> list[JSON]:
    """Direct members of each group, each tagged with ``_groupId``."""
    limit = asyncio.Semaphore(_GROUP_CONCURRENCY)

    async def members(group_id: str) -> list[JSON]:
        builder = graph.client.groups.by_group_id(group_id).members
        query = builder.MembersRequestBuilderGetQueryParameters(top=page_size)
        info = builder.to_get_request_information(RequestConfiguration(query_parameters=query))
        async with limit:
            try:
                rows = await graph.pages(info)
            except _EXPECTED as exc:
                problem = _describe(exc)
                raise _Problem(f"group {group_id}: {problem}", problem.status) from exc
        for row in rows:
            row["_groupId"] = group_id
        return rows

    results = await asyncio.gather(*(members(g) for g in groups), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [row for rows in cast(list[list[JSON]], results) for row in rows]


async def _jobs(graph: _Graph, data: GraphData, sp_id: str) -> None:
    """The provisioning jobs, then the schema (attribute mappings) of the first one."""
    sync = graph.client.service_principals.by_service_principal_id(sp_id).synchronization
    info = sync.jobs.to_get_request_information()
    jobs = await _run(data, "sync_jobs", lambda: graph.pages(info))
    if jobs is None:
        _not_requested(data, ["sync_schema"], "skipped: sync_jobs failed")
        return
    if not jobs:
        _not_requested(data, ["sync_schema"], "no provisioning job is configured for this app")
        return
    job_id = str(jobs[0].get("id"))
    schema_info = sync.jobs.by_synchronization_job_id(job_id).schema.to_get_request_information()

    async def schema() -> list[JSON]:
        document = await graph.document(schema_info)
        document.pop("@odata.context", None)  # response metadata, not part of the object
        return [{**document, "_jobId": job_id}]

    await _run(data, "sync_schema", schema)


def _logs_request(
    client: GraphServiceClient, sp_id: str, since: datetime, page_size: int
) -> RequestInformation:
    # Graph documents eq/gt/lt (not ge) for provisioning logs; the filters are case-sensitive.
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    builder = client.audit_logs.provisioning
    query = builder.ProvisioningRequestBuilderGetQueryParameters(
        filter=f"servicePrincipal/id eq '{sp_id}' and activityDateTime gt {stamp}", top=page_size
    )
    return builder.to_get_request_information(RequestConfiguration(query_parameters=query))
