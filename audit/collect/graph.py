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
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib
import re
import warnings
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import orjson
from azure.core.exceptions import ClientAuthenticationError
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

from audit.collect.auth import Credential, cloud_endpoints, is_loopback
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
    """

    records: dict[str, list[JSON]] = field(default_factory=dict)
    statuses: dict[str, SourceStatus] = field(default_factory=dict)
    throttled: int = 0
    requests: int = 0


def make_graph_client(
    *,
    base_url: str,
    credential: Credential | None,
    cloud: str = "global",
    max_retries: int = 5,
    retry_delay: float = 1.0,
) -> GraphServiceClient:
    """A GraphServiceClient on ``base_url``: the SDK's default middleware plus a request counter.

    The token goes only to the cloud's Graph host and the ``base_url`` host (explicit
    ``allowed_hosts``). Without a credential, no Authorization header is sent, which is allowed for
    a loopback URL only. ``retry_delay`` is the SDK's base delay added to its exponential backoff
    when a 503/504 carries no ``Retry-After``; a ``Retry-After`` of 180 s or more is not waited for.
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
    adapter = GraphRequestAdapter(provider, client=_http_client(max_retries, retry_delay))
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


def _http_client(max_retries: int, retry_delay: float) -> httpx.AsyncClient:
    """httpx with the SDK's default middleware (as GraphRequestAdapter builds it) + our counter."""
    options: dict[str, Any] = {
        RetryHandlerOption.get_key(): RetryHandlerOption(retry_delay, max_retries),
        UrlReplaceHandlerOption.get_key(): UrlReplaceHandlerOption(
            enabled=True, replacement_pairs={"/users/me-token-to-replace": "/me"}
        ),
    }
    telemetry = GraphTelemetryHandlerOption(api_version=APIVersion.v1, sdk_version=SDK_VERSION)
    middleware = KiotaClientFactory.get_default_middleware(options)
    middleware += [GraphTelemetryHandler(options=telemetry), _CountingHandler()]
    client = KiotaClientFactory.get_default_client()
    return cast(
        httpx.AsyncClient,
        GraphClientFactory.create_with_custom_middleware(middleware, client=client),
    )


class _Counter(RequestOption):
    """Per-collection counts, carried to :class:`_CountingHandler` as a request option."""

    KEY = "B2bPreflightCounter"

    def __init__(self) -> None:
        self.sent = 0
        self.retries = 0

    @staticmethod
    def get_key() -> str:
        return _Counter.KEY


class _CountingHandler(BaseMiddleware):
    """Innermost middleware: sees every attempt, so it counts retries (``Retry-Attempt`` header)."""

    async def send(
        self, request: httpx.Request, transport: httpx.AsyncBaseTransport
    ) -> httpx.Response:
        counter = request.extensions.get(_Counter.KEY)
        if counter is None:  # first attempt: the options are dropped after it, so keep our own
            options = request.extensions.get(REQUEST_OPTIONS_KEY) or {}
            counter = request.extensions[_Counter.KEY] = options.get(_Counter.KEY)
        if isinstance(counter, _Counter):
            counter.sent += 1
            counter.retries += "Retry-Attempt" in request.headers
        return await super().send(request, transport)


class _Problem(Exception):
    """A source-level failure with a clean message (no token, no traceback) and HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


_EXPECTED = (APIError, httpx.HTTPError, ClientAuthenticationError, _Problem)


class _Graph:
    """Raw GETs through the SDK adapter: bytes in, orjson out, ``@odata.nextLink`` followed."""

    def __init__(self, client: GraphServiceClient) -> None:
        self.client = client
        self.adapter: Any = client.request_adapter  # send_primitive_async is typed as -> None
        self.counter = _Counter()
        self.origin = _origin(str(self.adapter.base_url))
        self.requests = 0

    async def document(self, info: RequestInformation) -> JSON:
        info.add_request_options([self.counter])
        self.requests += 1
        raw = await self.adapter.send_primitive_async(info, "bytes", _ERROR_MAP)
        doc = _parse(raw) if raw else None
        if not isinstance(doc, dict):
            raise _Problem("Graph answered with something that is not a JSON object")
        return doc

    async def pages(self, info: RequestInformation) -> list[JSON]:
        """Every item of a collection, following ``@odata.nextLink`` to the end."""
        items: list[JSON] = []
        while True:
            doc = await self.document(info)
            value = doc.get("value")
            if not isinstance(value, list):
                raise _Problem("collection response without a 'value' list")
            items.extend(v for v in value if isinstance(v, dict))
            link = doc.get("@odata.nextLink")
            if not link:
                return items
            info = self.follow(str(link), info)

    def follow(self, link: str, previous: RequestInformation) -> RequestInformation:
        """A GET for a nextLink, refused if it leaves the Graph host we were given."""
        if _origin(link) != self.origin:
            raise _Problem(f"@odata.nextLink points away from {self.origin[1]}")
        info = RequestInformation(Method.GET)
        info.url = link
        info.headers.try_add("Accept", "application/json")
        for value in previous.headers.get("ConsistencyLevel"):
            info.headers.try_add("ConsistencyLevel", value)
        return info


def _parse(raw: bytes) -> Any:
    """orjson.loads with the cyclic GC paused: parsed JSON has no cycles, and the collections that
    the allocation of a 999-user page would trigger (scanning everything already collected) cost
    more than the parse itself, about 2.5x overall at 100,000 guests."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return orjson.loads(raw)
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
) -> GraphData:
    """Collect every Graph source of the audit; see the module docstring for the record shapes.

    ``app`` is the service principal's display name or appId; None skips the app sources (their
    status is ``not_requested``). Raises :class:`SourceError` when a required source (organization,
    domains, users) fails for a reason other than a missing permission.
    """
    if not 1 <= page_size <= 999:
        raise ConfigError(f"page_size must be between 1 and 999, not {page_size}")
    _quiet_sdk_imports()
    graph, data = _Graph(client), GraphData()
    since = (now or datetime.now(UTC)) - timedelta(days=log_days)
    await _run(
        data, "organization", lambda: graph.pages(client.organization.to_get_request_information())
    )
    try:
        async with asyncio.TaskGroup() as group:
            domains_info = client.domains.to_get_request_information()
            group.create_task(_run(data, "domains", lambda: graph.pages(domains_info)))
            group.create_task(_users(graph, data, include_sign_in, page_size))
            group.create_task(_app(graph, data, app, since if log_days > 0 else None, page_size))
    except BaseExceptionGroup as errors:
        raise _first_leaf(errors) from None
    data.statuses = {s: data.statuses[s] for s in SOURCES if s in data.statuses}
    data.throttled, data.requests = graph.counter.retries, graph.requests
    return data


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
    return _Problem(_clip(f"cannot reach Graph: {type(exc).__name__}: {exc}"))


def _clip(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _not_requested(data: GraphData, sources: Iterable[str], reason: str | None = None) -> None:
    for source in sources:
        data.statuses[source] = SourceStatus(source, SourceState.NOT_REQUESTED, error=reason)


# ---- users ------------------------------------------------------------------------------------


async def _users(graph: _Graph, data: GraphData, include_sign_in: bool, page_size: int) -> None:
    """Guests plus invited members; with sign-in activity when asked and permitted."""
    if include_sign_in:
        try:
            rows = await _guests(graph, (*GUEST_SELECT, SIGN_IN_SELECT), page_size)
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
    await _run(data, "users", lambda: _guests(graph, GUEST_SELECT, page_size))


async def _guests(graph: _Graph, select: tuple[str, ...], page_size: int) -> list[JSON]:
    """``userType eq 'Guest'`` and externally-originated members, merged and deduplicated by id."""
    queries = ("userType eq 'Guest'", "creationType eq 'Invitation' and userType eq 'Member'")
    guests, members = await asyncio.gather(
        *(graph.pages(_users_request(graph.client, q, select, page_size)) for q in queries)
    )
    merged: dict[str, JSON] = {}
    for user in guests + [m for m in members if m.get("userType") == "Member"]:
        merged.setdefault(str(user.get("id")), user)
    return list(merged.values())


def _users_request(
    client: GraphServiceClient, filter_: str, select: tuple[str, ...], top: int
) -> RequestInformation:
    query = client.users.UsersRequestBuilderGetQueryParameters(
        filter=filter_, select=list(select), top=top
    )
    return client.users.to_get_request_information(RequestConfiguration(query_parameters=query))


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
