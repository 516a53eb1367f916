"""The app's sources: its service principal, assignments, group members and the assigned groups,
provisioning job, attribute mappings (the job's schema), the users who are not guests, the extra
attributes the schema names, and provisioning logs.

Dependencies: when the service principal is not found (or is ambiguous), its dependants are
``not_requested`` with the reason; with no provisioning job, ``sync_schema`` is ``not_requested``.
``member_users`` (every user with ``userType`` Member, a few properties: they are provisioned too
and can collide with guests) and ``user_attributes`` (the guests' properties a mapping or scoping
filter names beyond the usual ``$select``; only when the schema names any) follow the schema.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from datetime import UTC, datetime
from typing import cast

import pandas as pd
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.request_information import RequestInformation
from msgraph.graph_service_client import GraphServiceClient

from audit.collectors.attributes import select_of
from audit.collectors.graph_errors import EXPECTED, Problem, describe
from audit.collectors.graph_io import (
    APP_SOURCES,
    JSON,
    GraphData,
    TableSink,
    _Graph,
    _not_requested,
    _run,
    _run_table,
)
from audit.collectors.tables import group_members_table, provisioning_logs_table
from audit.mapping.sources import schema_attributes

__all__ = ["app_sources"]

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_GROUP_CONCURRENCY = 4


async def app_sources(
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
        group.create_task(_jobs_and_users(graph, data, sp_id, page_size))
        if since is None:
            _not_requested(data, ["provisioning_logs"])
        else:
            logs = _logs_request(graph.client, sp_id, since, page_size)
            read = _run_table(
                data, "provisioning_logs", lambda: graph.table(logs, provisioning_logs_table)
            )
            group.create_task(read)


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
        close = await _closest_names(graph, app)
        hint = f"; closest: {', '.join(repr(n) for n in close)}" if close else ""
        detail = {"app_not_found": app, "closest": close}
        raise Problem(f"no service principal named {app!r}{hint}", detail=detail)
    if len(rows) > 1:
        raise Problem(
            f"{len(rows)} service principals named {app!r}; give the appId instead",
            detail={"app_ambiguous": app},
        )
    return rows


async def _closest_names(graph: _Graph, app: str, limit: int = 3) -> list[str]:
    """The display names of the tenant's service principals that come closest to ``app``.

    Read only when the name matched nothing (a typo, a renamed app): one listing of names, then
    :func:`difflib.get_close_matches`, ignoring case. A failed listing suggests nothing.
    """
    query = graph.client.service_principals.ServicePrincipalsRequestBuilderGetQueryParameters(
        select=["displayName"], top=999
    )
    info = graph.client.service_principals.to_get_request_information(
        RequestConfiguration(query_parameters=query)
    )
    try:
        rows = await graph.pages(info)
    except EXPECTED:
        return []
    names = {
        str(r["displayName"]).casefold(): str(r["displayName"])
        for r in rows
        if r.get("displayName")
    }
    close = difflib.get_close_matches(app.casefold(), list(names), n=limit, cutoff=0.6)
    return [names[name] for name in close]


async def _assignments(graph: _Graph, data: GraphData, sp_id: str, page_size: int) -> None:
    builder = graph.client.service_principals.by_service_principal_id(sp_id).app_role_assigned_to
    query = builder.AppRoleAssignedToRequestBuilderGetQueryParameters(top=page_size)
    info = builder.to_get_request_information(RequestConfiguration(query_parameters=query))
    rows = await _run(data, "app_role_assignments", lambda: graph.pages(info))
    if rows is None:
        _not_requested(data, ["groups", "group_members"], "skipped: app_role_assignments failed")
        return
    groups = [str(r["principalId"]) for r in rows if r.get("principalType") == "Group"]
    groups = list(dict.fromkeys(g for g in groups if g and g != "None"))
    await _run(data, "groups", lambda: _groups(graph, groups))
    await _run_table(data, "group_members", lambda: _group_members(graph, groups, page_size))


_GROUP_SELECT = ["id", "displayName", "securityEnabled", "mailEnabled", "groupTypes"]


async def _groups(graph: _Graph, groups: list[str]) -> list[JSON]:
    """The assigned groups themselves: only security-enabled ones grant scope (how provisioning
    works: "Ensure that groups assigned to your application have the property SecurityEnabled
    set to True")."""
    limit = asyncio.Semaphore(_GROUP_CONCURRENCY)

    async def one(group_id: str) -> JSON:
        builder = graph.client.groups.by_group_id(group_id)
        query = builder.GroupItemRequestBuilderGetQueryParameters(select=_GROUP_SELECT)
        info = builder.to_get_request_information(RequestConfiguration(query_parameters=query))
        async with limit:
            document = await graph.document(info)
        document.pop("@odata.context", None)
        return document

    return list(await asyncio.gather(*(one(g) for g in groups)))


async def _group_members(
    graph: _Graph, groups: list[str], page_size: int
) -> tuple[pd.DataFrame, list[JSON] | None]:
    """Members of each assigned group, and of the groups nested below them (any depth): the
    group members table, built page by page, and the objects when kept.

    The provisioning service reads only direct members; nested groups are followed so the audit can
    name the guests that are assigned *only* through one (``nested-group-only``).
    """
    found: list[_Members] = []
    seen: set[str] = set()
    level = list(dict.fromkeys(groups))
    for _ in range(_MAX_NESTING):
        level = [g for g in level if g not in seen]
        if not level:
            break
        seen.update(level)
        members = await _direct_members(graph, level, page_size)
        found += members
        level = [group for part in members for group in part.nested]
    parts = [table for part in found for table in part.parts]
    table = pd.concat(parts, ignore_index=True) if parts else group_members_table([])
    raw = [row for part in found for row in part.raw] if graph.keep_raw else None
    return table, raw


_MAX_NESTING = 10


def _is_group(member: JSON) -> bool:
    return str(member.get("@odata.type", "")).lower().endswith(".group")


class _Members(TableSink):
    """One group's direct members, each page tagged with ``_groupId`` and made a table as it
    arrives; the ids of member groups (to follow) and, when kept, the objects."""

    def __init__(self, group_id: str, keep_raw: bool) -> None:
        super().__init__(group_members_table, keep_raw=keep_raw)
        self.group_id = group_id
        self.nested: list[str] = []

    def extend(self, items: list[JSON], /) -> None:
        for row in items:
            row["_groupId"] = self.group_id
        super().extend(items)
        self.nested += [str(m.get("id")) for m in items if _is_group(m)]


async def _direct_members(graph: _Graph, groups: list[str], page_size: int) -> list[_Members]:
    """Direct members of each group, in the order of ``groups``."""
    limit = asyncio.Semaphore(_GROUP_CONCURRENCY)

    async def members(group_id: str) -> _Members:
        builder = graph.client.groups.by_group_id(group_id).members
        query = builder.MembersRequestBuilderGetQueryParameters(top=page_size)
        info = builder.to_get_request_information(RequestConfiguration(query_parameters=query))
        async with limit:
            try:
                chain = await graph.chain(info, lambda: _Members(group_id, graph.keep_raw))
            except EXPECTED as exc:
                problem = describe(exc)
                raise Problem(f"group {group_id}: {problem}", problem.status) from exc
        return chain.items

    results = await asyncio.gather(*(members(g) for g in groups), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[_Members], results)


async def _jobs_and_users(graph: _Graph, data: GraphData, sp_id: str, page_size: int) -> None:
    """The job and its schema, then what the schema makes necessary: members and extra attributes."""
    await _jobs(graph, data, sp_id)
    schemas = data.records.get("sync_schema") or []
    wanted = schema_attributes(schemas[0] if schemas else None)
    select = [*_MEMBER_SELECT, *(p for p in select_of(wanted) if p not in _MEMBER_SELECT)]
    members = _users_request(graph.client, "userType eq 'Member'", select, page_size)
    async with asyncio.TaskGroup() as group:
        group.create_task(_run(data, "member_users", lambda: graph.pages(members)))
        if wanted:
            extra = ["id", *select_of(wanted)]
            guests = _users_request(graph.client, "userType eq 'Guest'", extra, page_size)
            group.create_task(_run(data, "user_attributes", lambda: graph.pages(guests)))
        else:
            _not_requested(data, ["user_attributes"], "the job schema names no extra attribute")


# Users who are not guests are provisioned too: what their key, e-mail and scope need.
_MEMBER_SELECT = [
    "id",
    "userType",
    "creationType",
    "accountEnabled",
    "userPrincipalName",
    "mail",
    "displayName",
    "givenName",
    "surname",
    "mailNickname",
    "otherMails",
    "proxyAddresses",
]


def _users_request(
    client: GraphServiceClient, filter_: str, select: list[str], page_size: int
) -> RequestInformation:
    query = client.users.UsersRequestBuilderGetQueryParameters(
        filter=filter_, select=select, top=page_size
    )
    return client.users.to_get_request_information(RequestConfiguration(query_parameters=query))


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
