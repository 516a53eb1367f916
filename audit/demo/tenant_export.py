"""``write_export``: a demo tenant as a Graph JSON export folder plus a Get-MailUser CSV.

The folder is what DESIGN.md's offline input describes: each ``.json`` file is the body Graph
returns for that request (collection responses ``{"value": [...]}``, users paged when there are more
than ``page_size``), and ``mailusers.csv`` is written the way ``Export-Csv -NoTypeInformation
-Encoding UTF8`` writes it in Windows PowerShell: UTF-8 with a BOM, every field double-quoted, CRLF
line ends. No ``dns.json``: the demo serves DNS live. The tenant's Atlassian organization, when it
has one, goes into ``atlassian/`` as its APIs answer (:mod:`audit.demo.atlassian_org`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson

from audit.demo.atlassian_org import AtlassianOrg, export_pages
from audit.demo.model import DemoTenant
from audit.demo.tenant_users import MAILUSER_COLUMNS

__all__ = ["write_export"]

_GRAPH = "https://graph.microsoft.com/v1.0/"
_MAX_PAGE = 999


def write_export(tenant: DemoTenant, folder: Path, *, page_size: int = _MAX_PAGE) -> None:
    """Write ``tenant`` into ``folder`` (created if needed) as a Graph JSON export folder."""
    if not 1 <= page_size <= _MAX_PAGE:
        raise ValueError(f"page_size must be between 1 and {_MAX_PAGE}, got {page_size}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _json(folder / "organization.json", _collection("organization", [tenant.organization]))
    _json(folder / "domains.json", _collection("domains", tenant.domains))
    _write_users(folder, tenant.users, page_size)
    _write_app(folder, tenant)
    _json(
        folder / "provisioningLogs.json",
        _collection("auditLogs/provisioning", tenant.provisioning_logs),
    )
    _write_mailusers(folder / "mailusers.csv", tenant.mailusers)
    if tenant.atlassian is not None:
        _write_atlassian(folder / "atlassian", tenant.atlassian)


def _write_atlassian(folder: Path, org: AtlassianOrg) -> None:
    """The organization's listings as the Atlassian APIs answer them (numbered when paged)."""
    folder.mkdir(exist_ok=True)
    stems = {"atlassian_domains": "domains", "atlassian_users": "users",
             "atlassian_directory_users": "directoryUsers", "atlassian_scim_users": "scimUsers"}  # fmt: skip
    for source, pages in export_pages(org).items():
        stem = stems[source]
        if len(pages) == 1:
            _json(folder / f"{stem}.json", pages[0])
            continue
        for number, page in enumerate(pages, 1):
            _json(folder / f"{stem}.{number:04d}.json", page)


def _collection(context: str, items: list[Any], next_link: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.context": f"{_GRAPH}$metadata#{context}", "value": items}
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    return body


def _json(path: Path, body: Any) -> None:
    path.write_bytes(orjson.dumps(body))


def _write_users(folder: Path, users: list[dict[str, Any]], page_size: int) -> None:
    """``users.json``, or ``users.0001.json``... when one page is not enough."""
    if len(users) <= page_size:
        _json(folder / "users.json", _collection("users", users))
        return
    pages = range(0, len(users), page_size)
    for number, start in enumerate(pages, 1):
        last = start + page_size >= len(users)
        link = None if last else f"{_GRAPH}users?$top={page_size}&$skiptoken=demo{number:04d}"
        body = _collection("users", users[start : start + page_size], link)
        _json(folder / f"users.{number:04d}.json", body)


_GROUP_SELECT = ("id", "displayName", "securityEnabled", "mailEnabled", "groupTypes")


def _write_app(folder: Path, tenant: DemoTenant) -> None:
    """The app's service principal, its assignments, group members and job schema (when present)."""
    if not tenant.service_principals:
        return
    sp = tenant.service_principals[0]
    _json(folder / "servicePrincipal.json", _collection("servicePrincipals", [sp]))
    assigned = tenant.app_role_assignments.get(sp["id"], [])
    _json(
        folder / "appRoleAssignedTo.json",
        _collection(f"servicePrincipals('{sp['id']}')/appRoleAssignedTo", assigned),
    )
    assigned_groups = [a["principalId"] for a in assigned if a.get("principalType") == "Group"]
    groups = [
        {k: tenant.groups[g].get(k) for k in _GROUP_SELECT}
        for g in assigned_groups
        if g in tenant.groups
    ]
    _json(folder / "groups.json", _collection(f"groups({','.join(_GROUP_SELECT)})", groups))
    jobs = tenant.sync_jobs.get(sp["id"], [])
    if jobs:
        context = f"servicePrincipals('{sp['id']}')/synchronization/jobs"
        _json(folder / "synchronizationJobs.json", _collection(context, jobs))
    members = folder / "groupMembers"
    members.mkdir(exist_ok=True)
    for group_id, items in tenant.group_members.items():
        _json(members / f"{group_id}.json", _collection("directoryObjects", items))
    jobs = tenant.sync_jobs.get(sp["id"], [])
    schema = tenant.sync_schemas.get(jobs[0]["id"]) if jobs else None
    if schema is not None:
        _json(folder / "synchronizationSchema.json", schema)


def _write_mailusers(path: Path, rows: list[dict[str, str]]) -> None:
    """PowerShell's Export-Csv: BOM, all fields quoted, CRLF, header of the selected properties."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(MAILUSER_COLUMNS)
        writer.writerows([row.get(c, "") for c in MAILUSER_COLUMNS] for row in rows)
