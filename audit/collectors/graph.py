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

The parts: :mod:`audit.collectors.graph_client` builds the client (the SDK's middleware plus our
counter and shared throttling pause), :mod:`audit.collectors.graph_io` reads raw pages and keeps each
source's status, :mod:`audit.collectors.graph_app` reads the app's sources; this module reads the
guests and runs the whole collection.

At tenant scale (see bench/README.md): ``partitions=N`` reads the guest list in parallel chains
(:mod:`audit.collectors.partition`), at most N requests in flight, all pausing together when Graph
answers 429/503 with ``Retry-After`` (one throttling budget); ``checkpoint=`` logs every page so an
interrupted collection resumes (:mod:`audit.collectors.checkpoint`); ``track_changes`` stores a
``/users/delta`` link and ``delta=`` reads only the changes since one (:mod:`audit.collectors.delta`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.request_information import RequestInformation
from msgraph.graph_service_client import GraphServiceClient

from audit.collectors.checkpoint import Checkpoint
from audit.collectors.delta import DeltaChanges, DeltaState, fold_changes, needs_refetch
from audit.collectors.graph_app import app_sources
from audit.collectors.graph_client import (
    MAX_RETRY_WAIT,
    _quiet_sdk_imports,
    close_graph_client,
    make_graph_client,
)
from audit.collectors.graph_errors import EXPECTED, Problem, describe, first_leaf
from audit.collectors.graph_io import (
    APP_SOURCES,
    JSON,
    PERMISSIONS,
    REQUIRED,
    SOURCES,
    GraphData,
    _failed,
    _Graph,
    _not_requested,
    _origin,
    _run,
    new_list,
)
from audit.collectors.partition import Slots, collect_partitioned
from audit.collectors.users_columns import UserColumns
from audit.errors import ConfigError
from audit.models import SourceState, SourceStatus

__all__ = [
    "APP_SOURCES",
    "GUEST_SELECT",
    "MAX_RETRY_WAIT",
    "PERMISSIONS",
    "REQUIRED",
    "SIGN_IN_SELECT",
    "SOURCES",
    "GraphData",
    "close_graph_client",
    "collect_graph",
    "make_graph_client",
]

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

_REFETCH_CONCURRENCY = 8
_GUESTS = "userType eq 'Guest'"
_INVITED_MEMBERS = "creationType eq 'Invitation' and userType eq 'Member'"
USER_FILTERS = (_GUESTS, _INVITED_MEMBERS, "userType eq 'Member'")
"""The ``$filter`` texts the collector reads users with (guests, invited members, members); each
guest partition adds a ``startswith`` clause to the first (:mod:`audit.collectors.partition`)."""


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
    keep_raw: bool = False,
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

    The users of a full read and the group members become their tables page by page
    (``GraphData.tables``); their objects are kept (``GraphData.records``) only with
    ``keep_raw``, for an export folder.
    """
    if not 1 <= page_size <= 999:
        raise ConfigError(f"page_size must be between 1 and 999, not {page_size}")
    if partitions < 0:
        raise ConfigError(f"partitions must be 0 (sequential) or more, not {partitions}")
    _quiet_sdk_imports()
    graph, data = _Graph(client, checkpoint, keep_raw=keep_raw), GraphData()
    since = (now or datetime.now(UTC)) - timedelta(days=log_days)
    await _run(
        data, "organization", lambda: graph.pages(client.organization.to_get_request_information())
    )
    plan = _UsersPlan(include_sign_in, page_size, partitions, track_changes or delta is not None)
    plan.delta, plan.note = _usable_delta(delta, data)
    plan.on_page = on_users
    try:
        await _sources(graph, data, plan, app, since if log_days > 0 else None, page_size)
    except BaseExceptionGroup as errors:
        raise first_leaf(errors) from None
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
        group.create_task(app_sources(graph, data, app, since, page_size))


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
        except EXPECTED as exc:
            if describe(exc).status in (401, 403):
                data.statuses["users"] = _failed("users", exc)
                _not_requested(data, ["sign_in_activity"])
                return
            plan.note = f"full read: the delta link was refused ({describe(exc)})"
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
            found = await _guests(graph, (*GUEST_SELECT, SIGN_IN_SELECT), plan)
        except EXPECTED as exc:
            if describe(exc).status not in (401, 403):
                data.statuses["users"] = _failed("users", exc)
                return
            data.statuses["sign_in_activity"] = _failed("sign_in_activity", exc)
        else:
            signed = _store_users(data, found)
            data.statuses["sign_in_activity"] = SourceStatus(
                "sign_in_activity", SourceState.OK, rows=signed
            )
            return
    else:
        _not_requested(data, ["sign_in_activity"])
    try:
        found = await _guests(graph, GUEST_SELECT, plan)
    except EXPECTED as exc:
        data.statuses["users"] = _failed("users", exc)
        return
    _store_users(data, found)


def _store_users(data: GraphData, found: UserColumns) -> int:
    """The users table (and the raw objects, when kept) into ``data``; how many users carry
    ``signInActivity``."""
    if found.keep_raw:
        data.records["users"] = found.raw()
    table, signed = found.table()
    data.tables["users"] = table
    data.statuses["users"] = SourceStatus("users", SourceState.OK, rows=len(table))
    return signed


def _filter_refused(exc: BaseException) -> str | None:
    """``HTTP 400 <code>`` when Graph refused a request as malformed (a filter it does not take)."""
    if isinstance(exc, APIError) and exc.response_status_code == 400:
        code = getattr(getattr(exc, "error", None), "code", None)
        return f"HTTP 400 {code}" if code else "HTTP 400"
    return None


async def _guests(graph: _Graph, select: tuple[str, ...], plan: _UsersPlan) -> UserColumns:
    """``userType eq 'Guest'`` and externally-originated members, as columns built page by page;
    merged (first object of each id wins) when the table is made."""
    limit = Slots(plan.partitions) if plan.partitions else None

    def sink() -> UserColumns:
        return UserColumns(keep_raw=graph.keep_raw)

    async def chain(filter_: str) -> UserColumns:
        info = _users_request(graph.client, filter_, select, plan.page_size)
        chained = await graph.chain(info, sink, resumable=True, limit=limit, on_items=plan.on_page)
        return chained.items

    async def guests() -> UserColumns:
        if not plan.partitions:
            return await chain(_GUESTS)
        rows, report = await collect_partitioned(
            _GUESTS,
            fetch=chain,
            count=lambda: _count(graph, _GUESTS),
            min_count=2 * plan.page_size,
            refused=_filter_refused,
            merge=UserColumns.concat,
        )
        plan.detail = report.to_detail()
        return rows

    try:
        async with asyncio.TaskGroup() as group:  # a failure stops the other read too
            reads = group.create_task(guests()), group.create_task(chain(_INVITED_MEMBERS))
    except BaseExceptionGroup as errors:
        raise first_leaf(errors) from None
    found, members = (task.result() for task in reads)
    return UserColumns.concat([found, members.members_only()])


async def _count(graph: _Graph, filter_: str) -> int | None:
    """``$count`` of a users query (advanced query), or None when Graph will not count it."""
    query = graph.client.users.UsersRequestBuilderGetQueryParameters(
        filter=filter_, count=True, top=1, select=["id"]
    )
    config: RequestConfiguration[Any] = RequestConfiguration(query_parameters=query)
    config.headers.add("ConsistencyLevel", "eventual")
    try:
        doc = await graph.document(graph.client.users.to_get_request_information(config))
    except EXPECTED as exc:
        if describe(exc).status in (401, 403):
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
    except EXPECTED:
        return None
    link = doc.get("@odata.deltaLink")
    return str(link) if link and _origin(str(link)) == graph.origin else None


async def _incremental(graph: _Graph, data: GraphData, delta: DeltaState) -> None:
    """Follow the stored delta link to the next one; the net changes go to ``data.changes``."""
    chain = await graph.chain(graph.follow(delta.link, None), new_list, resumable=True)
    if not chain.delta_link:
        raise Problem("the delta round ended without an @odata.deltaLink")
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
            except EXPECTED as exc:
                if describe(exc).status != 404:
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
        raise first_leaf(errors) from None
    changes.refetched = len(ids)
