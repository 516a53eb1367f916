"""``b2b-preflight doctor``: sign in, call each Graph endpoint once, name what is missing.

With Atlassian options it also reads the first page of each Atlassian source (the organization's
domains, managed and unmanaged accounts, the SCIM directory's users) and names the missing key
scope of a failing one.

Each probe asks for at most a page of one object, so the check is quick on any tenant size. A failed
probe reports the application permission that grants the source and the rules it disables.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph.graph_service_client import GraphServiceClient

from audit.collectors.atlassian import PERMISSIONS as TARGET_PERMISSIONS
from audit.collectors.atlassian import probe_atlassian
from audit.collectors.graph import PERMISSIONS
from audit.collectors.pipeline import CollectOptions, graph_client
from audit.collectors.signin import SignInProblem, sign_in

JSON = dict[str, Any]
_APP_SOURCES = ("app_role_assignments", "group_members", "sync_jobs", "sync_schema")


@dataclass
class Probe:
    """One source's endpoint called once: ok, failed (with why), or not tested (``ok`` None)."""

    source: str
    ok: bool | None
    detail: str = ""
    items: list[JSON] = field(default_factory=list, repr=False)

    @property
    def permission(self) -> str:
        """The least-privilege application permission (or key scope) that grants this source."""
        return PERMISSIONS.get(self.source) or TARGET_PERMISSIONS[self.source]

    def first_id(self) -> str | None:
        """The id of the first object returned, if any."""
        first = self.items[0] if self.items else None
        return str(first["id"]) if isinstance(first, dict) and "id" in first else None


def check_sign_in(options: CollectOptions) -> SignInProblem | None:
    """Get a token as ``options`` say: None when that works, else what is wrong and the fix."""
    return asyncio.run(sign_in(options))


def probe_sources(options: CollectOptions) -> list[Probe]:
    """Sign in as ``options`` says and probe every source once (``b2b-preflight doctor``);
    with ``--atlassian-org``/``--atlassian-directory``, the first page of each Atlassian source."""
    target = options.atlassian()
    if target.requested:
        target.check()
    return asyncio.run(_probe_all(options))


async def _probe_all(options: CollectOptions) -> list[Probe]:
    async with graph_client(options) as client:
        probes = await run_probes(client, app=options.app)
    target = options.atlassian()
    if target.requested:
        probes += [Probe(s, ok, detail) for s, ok, detail in await probe_atlassian(target)]
    return probes


async def run_probes(client: GraphServiceClient, *, app: str | None) -> list[Probe]:
    """Probe every source in collection order; app sources need the app to be found first."""
    base = str(client.request_adapter.base_url).rstrip("/")
    probes = [
        await _probe(client, base, "organization", "/organization?$select=id"),
        await _probe(client, base, "domains", "/domains?$select=id"),
        await _probe(client, base, "users", "/users?$filter=userType eq 'Guest'&$top=1&$select=id"),
        await _probe(client, base, "sign_in_activity", "/users?$top=1&$select=id,signInActivity"),
    ]
    if app is None:
        names = ("service_principal", *_APP_SOURCES, "provisioning_logs")
        return probes + [Probe(n, None, "no --app given") for n in names]
    return probes + await _app_probes(client, base, app)


async def _app_probes(client: GraphServiceClient, base: str, app: str) -> list[Probe]:
    literal = app.replace("'", "''")
    path = f"/servicePrincipals?$filter=displayName eq '{literal}'&$select=id,displayName"
    sp = await _probe(client, base, "service_principal", path)
    sp_id = sp.first_id()
    if sp_id is None:
        if sp.ok:
            sp.ok, sp.detail = False, f"no service principal named {app!r}"
        skipped = [Probe(n, None, "needs the app's service principal") for n in _APP_SOURCES]
        return [sp, *skipped, await _logs(client, base)]
    root = f"/servicePrincipals/{quote(sp_id)}"
    assigned = await _probe(client, base, "app_role_assignments", f"{root}/appRoleAssignedTo")
    jobs = await _probe(client, base, "sync_jobs", f"{root}/synchronization/jobs")
    job_id = jobs.first_id()
    schema = (
        await _probe(
            client, base, "sync_schema", f"{root}/synchronization/jobs/{quote(job_id)}/schema"
        )
        if job_id
        else Probe("sync_schema", None, "no provisioning job is configured")
    )
    groups = await _group_probe(client, base, assigned)
    return [sp, assigned, groups, jobs, schema, await _logs(client, base)]


async def _logs(client: GraphServiceClient, base: str) -> Probe:
    return await _probe(client, base, "provisioning_logs", "/auditLogs/provisioning?$top=1")


async def _group_probe(client: GraphServiceClient, base: str, assigned: Probe) -> Probe:
    groups = [a for a in assigned.items if a.get("principalType") == "Group"]
    if not groups:
        return Probe("group_members", None, "no group is assigned to the app")
    path = f"/groups/{quote(str(groups[0].get('principalId')))}/members?$top=1"
    return await _probe(client, base, "group_members", path)


async def _probe(client: GraphServiceClient, base: str, source: str, path: str) -> Probe:
    info = RequestInformation()
    info.http_method = Method.GET
    info.url = base + path.replace(" ", "%20").replace("'", "%27")
    adapter: Any = client.request_adapter
    try:
        raw = await adapter.send_primitive_async(info, "bytes", None)
        doc = orjson.loads(raw) if raw else {}
    except Exception as exc:
        return Probe(source, False, _reason(exc))
    value = doc.get("value") if isinstance(doc, dict) else None
    items = [i for i in value if isinstance(i, dict)] if isinstance(value, list) else [doc]
    return Probe(source, True, f"{len(items)} object(s) readable", items)


def _reason(exc: BaseException) -> str:
    status = getattr(exc, "response_status_code", None)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or ""
    message = getattr(error, "message", None) or ""
    if status:
        return f"HTTP {status} {code} {message}".strip()
    return f"{type(exc).__name__}: {str(exc)[:200]}"
