"""The Graph emulator's endpoints: each turns a parsed request into a Graph v1.0 shaped reply.

Routes are matched case-insensitively on the path below ``/v1.0`` and named by the source they serve
(the names of ``Faults.forbidden``). Paging is stateless: the position travels in an opaque
``$skiptoken``, so a retried request (after a 429 or 5xx) gets the same page again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from audit.demo.emulator_odata import (
    JSON,
    FilterSpec,
    ODataFault,
    Reply,
    compile_filter,
    decode_token,
    encode_token,
    json_reply,
    page_size,
    parse_select,
    select_generic,
)
from audit.demo.emulator_store import SIGN_IN, USER_PROPERTIES, Select, UserStore
from audit.demo.model import DemoTenant

USER_FILTER = FilterSpec(
    "User",
    eq=frozenset(
        [
            "id",
            "userType",
            "creationType",
            "externalUserState",
            "accountEnabled",
            "mail",
            "userPrincipalName",
            "displayName",
            "givenName",
            "surname",
            "mailNickname",
        ]
    ),
    starts=frozenset(
        ["userPrincipalName", "mail", "displayName", "givenName", "surname", "mailNickname"]
    ),
    ends=frozenset(("mail", "userPrincipalName")),
)
SP_FILTER = FilterSpec(
    "ServicePrincipal",
    eq=frozenset(["id", "appId", "displayName", "servicePrincipalType", "accountEnabled"]),
    starts=frozenset(("displayName",)),
)
ASSIGNMENT_FILTER = FilterSpec("AppRoleAssignment", eq=frozenset(("principalId", "principalType")))
NO_FILTER = FilterSpec("DirectoryObject")
LOG_FILTER = FilterSpec(
    "ProvisioningObjectSummary",
    eq=frozenset(
        [
            "id",
            "jobId",
            "cycleId",
            "changeId",
            "provisioningAction",
            "servicePrincipal/id",
            "servicePrincipal/displayName",
            "provisioningStatusInfo/status",
            "sourceIdentity/id",
            "targetIdentity/id",
        ]
    ),
    ranges=frozenset(("activityDateTime",)),
    case_sensitive=True,
)
_SP = r"servicePrincipals/(?P<sp>[^/]+)"
_JOB = _SP + r"/synchronization/jobs/(?P<job>[^/]+)"
_SAFE = ",'()$"
SIGN_IN_PAGE = 500
"""The most users a page holds when ``signInActivity`` is selected."""
_LIST_OPTIONS = frozenset(("$select", "$filter", "$top", "$count", "$skiptoken"))


@dataclass(frozen=True)
class Request:
    """One request below the API version: ``path`` like ``/users``, lower-case header names."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base: str

    @property
    def advanced(self) -> bool:
        """True for an advanced query (``ConsistencyLevel: eventual`` and ``$count=true``)."""
        eventual = self.headers.get("consistencylevel", "").lower() == "eventual"
        return eventual and self.query.get("$count", "").lower() == "true"

    def link(self, path: str, params: dict[str, str]) -> str:
        """An absolute link on this emulator (``@odata.nextLink``, ``@odata.deltaLink``)."""
        query = "&".join(f"{quote(k, safe='$')}={quote(v, safe=_SAFE)}" for k, v in params.items())
        return f"{self.base}{quote(path, safe='/$()')}?{query}"

    def context(self, fragment: str) -> str:
        """The ``@odata.context`` URL for a metadata fragment."""
        return f"{self.base}/$metadata#{fragment}"


Handler = Callable[[Request, "re.Match[str]"], Reply]


class Router:
    """Maps paths to the source they serve and the function that answers them."""

    def __init__(self, tenant: DemoTenant, store: UserStore) -> None:
        self.tenant = tenant
        self.store = store
        rows: list[tuple[str, str, Handler]] = [
            (r"organization", "organization", self.organization),
            (r"domains", "domains", self.domains),
            (r"domains/(?P<id>[^/]+)", "domains", self.domain),
            (r"users", "users", self.users),
            (r"users/(?:microsoft\.graph\.)?delta(?:\(\))?", "users", self.delta),
            (r"users/(?P<id>[^/]+)", "users", self.user),
            (r"servicePrincipals", "service_principal", self.service_principals),
            (r"servicePrincipals/(?P<sp>[^/]+)", "service_principal", self.service_principal),
            (rf"{_SP}/appRoleAssignedTo", "app_role_assignments", self.assigned),
            (rf"{_SP}/synchronization/jobs", "sync_jobs", self.jobs),
            (rf"{_JOB}", "sync_jobs", self.job),
            (rf"{_JOB}/schema", "sync_schema", self.schema),
            (r"groups/(?P<id>[^/]+)", "groups", self.group),
            (r"groups/(?P<id>[^/]+)/members", "group_members", self.members),
            (r"auditLogs/provisioning", "provisioning_logs", self.provisioning),
        ]  # fmt: skip
        self.routes = [(re.compile(f"/{p}/?", re.IGNORECASE), s, h) for p, s, h in rows]

    def resolve(self, path: str) -> tuple[str, Handler, re.Match[str]] | None:
        """The (source, handler, match) for a path, or None when Graph has no such resource."""
        for pattern, source, handler in self.routes:
            match = pattern.fullmatch(path)
            if match is not None:
                return source, handler, match
        return None

    # ---- tenant-level objects -------------------------------------------------------------

    def organization(self, req: Request, _: re.Match[str]) -> Reply:
        return self.listing(req, "organization", [self.tenant.organization], NO_FILTER)

    def domains(self, req: Request, _: re.Match[str]) -> Reply:
        return self.listing(req, "domains", self.tenant.domains, NO_FILTER)

    def domain(self, req: Request, m: re.Match[str]) -> Reply:
        found = [d for d in self.tenant.domains if str(d.get("id", "")).lower() == m["id"].lower()]
        return self.entity(req, "domains/$entity", found[0] if found else None, m["id"])

    # ---- users --------------------------------------------------------------------------

    def users(self, req: Request, _: re.Match[str]) -> Reply:
        _check_options(req, _LIST_OPTIONS)
        select = _user_select(req)
        text = req.query.get("$filter", "").strip()
        predicate = compile_filter(text, USER_FILTER, advanced=req.advanced) if text else None
        users = self.store.matching(text, predicate)
        # Graph's page cap when signInActivity is selected: 500 ("default and maximum page sizes
        # are 100 and 999 user objects respectively, except when you specify
        # $select=signInActivity ... the maximum page size is 500",
        # https://learn.microsoft.com/graph/api/user-list); it was 120 until 2024.
        cap = SIGN_IN_PAGE if select and SIGN_IN in select else None
        context = f"users({','.join(select)})" if select else "users"
        return self.page(req, context, users, lambda c: self.store.project(c, select), cap=cap)

    def user(self, req: Request, m: re.Match[str]) -> Reply:
        select = _user_select(req)
        found = self.store.get(m["id"])
        entity = self.store.project([found], select)[0] if found else None
        return self.entity(req, "users/$entity", entity, m["id"])

    def delta(self, req: Request, _: re.Match[str]) -> Reply:
        if req.query.get("$deltatoken", "").lower() == "latest":
            return self.delta_latest(req)
        if "$deltatoken" in req.query:
            state = decode_token(req.query["$deltatoken"])
            state = {**state, "o": 0, "n": self.store.version}
        elif "$skiptoken" in req.query:
            state = decode_token(req.query["$skiptoken"])
        else:
            state = self.delta_start(req)
        select: Select = tuple(state["s"]) if state.get("s") else None
        offset, top = int(state.get("o", 0)), int(state.get("t", 100))
        if "v" in state:
            changes = self.store.changes_since(int(state["v"]))
            chunk = changes[offset : offset + top]
            items = [
                self.store.project([u], select)[0] if u else self.store.removed(i) for i, u in chunk
            ]
            more = offset + top < len(changes)
        else:
            users = self.store.matching("", None)
            items = self.store.project(users[offset : offset + top], select)
            more = offset + top < len(users)
        return self.delta_page(req, state, items, more, select)

    def delta_latest(self, req: Request) -> Reply:
        """``$deltatoken=latest`` ("sync from now"): no users, a deltaLink at the current state."""
        _check_options(req, frozenset(("$select", "$top", "$deltatoken")))
        state = self.delta_start(req, ("$deltatoken",))
        return self.delta_page(req, state, [], False, tuple(state["s"]) or None)

    def delta_start(self, req: Request, also: tuple[str, ...] = ()) -> JSON:
        _check_options(req, frozenset(("$select", "$top", *also)))
        select = _user_select(req)
        return {"s": list(select or ()), "t": page_size(req.query), "o": 0, "n": self.store.version}

    def delta_page(
        self, req: Request, state: JSON, items: list[JSON], more: bool, select: Select
    ) -> Reply:
        base = {"s": state["s"], "t": state["t"]}
        if more:
            token = {**base, "o": state["o"] + state["t"], "n": state["n"]}
            if "v" in state:
                token["v"] = state["v"]
            link = (
                "@odata.nextLink",
                req.link("/users/delta", {"$skiptoken": encode_token(token)}),
            )
        else:
            delta = encode_token({**base, "v": state["n"]})
            link = ("@odata.deltaLink", req.link("/users/delta", {"$deltatoken": delta}))
        context = req.context(f"users({','.join(select)})" if select else "users")
        return json_reply({"@odata.context": context, link[0]: link[1], "value": items})

    # ---- the app: service principal, assignments, groups, provisioning ------------------------

    def service_principals(self, req: Request, _: re.Match[str]) -> Reply:
        sps = self.tenant.service_principals
        return self.listing(req, "servicePrincipals", sps, SP_FILTER)

    def service_principal(self, req: Request, m: re.Match[str]) -> Reply:
        sp = self.find_sp(m["sp"])
        entity = select_generic(sp, parse_select(req.query))
        return self.entity(req, "servicePrincipals/$entity", entity, m["sp"])

    def assigned(self, req: Request, m: re.Match[str]) -> Reply:
        self.find_sp(m["sp"])
        rows = self.tenant.app_role_assignments.get(m["sp"], [])
        context = f"servicePrincipals('{m['sp']}')/appRoleAssignedTo"
        return self.listing(req, context, rows, ASSIGNMENT_FILTER)

    def jobs(self, req: Request, m: re.Match[str]) -> Reply:
        self.find_sp(m["sp"])
        context = req.context(f"servicePrincipals('{m['sp']}')/synchronization/jobs")
        return json_reply(
            {"@odata.context": context, "value": self.tenant.sync_jobs.get(m["sp"], [])}
        )

    def job(self, req: Request, m: re.Match[str]) -> Reply:
        found = [j for j in self.tenant.sync_jobs.get(m["sp"], []) if j.get("id") == m["job"]]
        context = f"servicePrincipals('{m['sp']}')/synchronization/jobs/$entity"
        return self.entity(req, context, found[0] if found else None, m["job"])

    def schema(self, req: Request, m: re.Match[str]) -> Reply:
        job = self.find_job(m["sp"], m["job"])  # 404 unless the job exists under this app
        schema = self.tenant.sync_schemas.get(str(job["id"]))
        context = (
            f"servicePrincipals('{m['sp']}')/synchronization/jobs('{m['job']}')/schema/$entity"
        )
        return self.entity(req, context, schema, m["job"])

    def group(self, req: Request, m: re.Match[str]) -> Reply:
        found = self.tenant.groups.get(m["id"])
        entity = select_generic(found, parse_select(req.query)) if found is not None else None
        return self.entity(req, "groups/$entity", entity, m["id"])

    def members(self, req: Request, m: re.Match[str]) -> Reply:
        gid = m["id"]
        if gid not in self.tenant.groups and gid not in self.tenant.group_members:
            raise _not_found(gid)
        return self.listing(
            req, "directoryObjects", self.tenant.group_members.get(gid, []), NO_FILTER
        )

    def provisioning(self, req: Request, _: re.Match[str]) -> Reply:
        logs = self.tenant.provisioning_logs
        return self.listing(req, "auditLogs/provisioning", logs, LOG_FILTER)

    # ---- shared shapes --------------------------------------------------------------------

    def find_sp(self, sp_id: str) -> JSON:
        for sp in self.tenant.service_principals:
            if sp.get("id") == sp_id:
                return sp
        raise _not_found(sp_id)

    def find_job(self, sp_id: str, job_id: str) -> JSON:
        for job in self.tenant.sync_jobs.get(sp_id, []):
            if job.get("id") == job_id:
                return job
        raise _not_found(job_id)

    def entity(self, req: Request, fragment: str, obj: JSON | None, key: str) -> Reply:
        """A single object with its ``@odata.context``, or Graph's 404."""
        if obj is None:
            raise _not_found(key)
        return json_reply({"@odata.context": req.context(fragment), **obj})

    def listing(self, req: Request, context: str, rows: list[JSON], spec: FilterSpec) -> Reply:
        """A filtered, selected, paged collection of small objects."""
        _check_options(req, _LIST_OPTIONS)
        text = req.query.get("$filter", "").strip()
        if text:
            predicate = compile_filter(text, spec, advanced=req.advanced)
            rows = [r for r in rows if predicate(r)]
        select = parse_select(req.query)
        return self.page(req, context, rows, lambda c: [select_generic(r, select) for r in c])

    def page(
        self,
        req: Request,
        context: str,
        rows: Sequence[JSON],
        project: Callable[[Sequence[JSON]], list[JSON]],
        *,
        cap: int | None = None,
    ) -> Reply:
        """One page of ``rows`` at the ``$skiptoken`` position, with ``@odata.nextLink`` if more."""
        top = min(page_size(req.query), cap or 999)
        token = req.query.get("$skiptoken")
        offset = int(decode_token(token).get("o", 0)) if token else 0
        chunk = rows[offset : offset + top]
        next_link = None
        if offset + top < len(rows):
            params = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            params["$skiptoken"] = encode_token({"o": offset + top})
            next_link = req.link(req.path, params)
        doc: JSON = {"@odata.context": req.context(context)}
        if req.advanced:
            doc["@odata.count"] = len(rows)
        if next_link:
            doc["@odata.nextLink"] = next_link
        doc["value"] = project(chunk)
        return json_reply(doc)


def _user_select(req: Request) -> Select:
    select = parse_select(req.query)
    for name in select or ():
        if name not in USER_PROPERTIES and not name.startswith("extension_"):
            message = f"Could not find a property named '{name}' on type 'microsoft.graph.user'."
            raise ODataFault(400, "Request_BadRequest", message)
    return select


def _check_options(req: Request, allowed: frozenset[str]) -> None:
    for name in req.query:
        if name.startswith("$") and name not in allowed:
            message = f"Query option '{name}' is not supported by this request."
            raise ODataFault(400, "Request_UnsupportedQuery", message)


def _not_found(key: str) -> ODataFault:
    message = (
        f"Resource '{key}' does not exist or one of its queried reference-property objects are"
        " not present."
    )
    return ODataFault(404, "Request_ResourceNotFound", message)


def unknown_segment(path: str) -> ODataFault:
    """Graph's answer to a path it does not serve."""
    segment = path.strip("/").split("/")[-1] if path.strip("/") else path
    return ODataFault(
        404, "Request_ResourceNotFound", f"Resource not found for the segment '{segment}'."
    )
