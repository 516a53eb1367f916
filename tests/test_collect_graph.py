"""The Graph collector through the real msgraph-sdk against the Graph emulator on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from kiota_abstractions.serialization import Parsable
from pandas.testing import assert_frame_equal

from audit.collectors.graph import (
    GUEST_SELECT,
    PERMISSIONS,
    SOURCES,
    GraphData,
    close_graph_client,
    collect_graph,
    make_graph_client,
)
from audit.collectors.tables import (
    USER_COLUMNS,
    group_members_table,
    provisioning_logs_table,
    users_table,
)
from audit.demo.emulator import Faults, GraphEmulator
from audit.demo.model import DemoTenant
from audit.errors import CollectionError, ConfigError, SourceError
from audit.models import SourceState
from tests._graph_tenant import (
    APP_ID,
    GROUP_ID,
    JOB_ID,
    NESTED_GROUP_ID,
    SP_ID,
    guest,
    make_tenant,
)

JSON = dict[str, Any]
T = TypeVar("T")
NOW = datetime(2024, 6, 1, tzinfo=UTC)
OPTIONAL = [s for s in SOURCES if s not in ("organization", "domains", "users")]
TOKEN = "eyJ0eXAiOiJKV1Qi.fake-token-for-tests"


class FakeCredential:
    """An async token credential handing out a fixed token (the data, not our code, is faked)."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)

    async def close(self) -> None:
        return None


FAKE: Any = FakeCredential()


def collect(
    emulator: GraphEmulator, *, credential: Any = None, retry_delay: float = 0.0, **kw: Any
) -> GraphData:
    """Run collect_graph against a started emulator with a fresh client."""

    async def run() -> GraphData:
        client = make_graph_client(
            base_url=emulator.base_url, credential=credential, retry_delay=retry_delay
        )
        try:
            return await collect_graph(client, now=NOW, **kw)
        finally:
            await close_graph_client(client)

    return asyncio.run(run())


@pytest.fixture
def tenant() -> DemoTenant:
    return make_tenant()


@pytest.fixture
def emulator(tenant: DemoTenant) -> Iterator[GraphEmulator]:
    with GraphEmulator(tenant) as em:
        yield em


def expected_user_ids(tenant: DemoTenant) -> set[str]:
    return {
        u["id"]
        for u in tenant.users
        if u["userType"] == "Guest" or u.get("creationType") == "Invitation"
    }


def test_full_collection_equals_the_tenant(tenant: DemoTenant, emulator: GraphEmulator) -> None:
    data = collect(emulator, keep_raw=True)
    assert list(data.statuses) == list(SOURCES)
    for name, status in data.statuses.items():
        # user_attributes: read only when the job schema names attributes beyond the usual ones
        later = name in ("sign_in_activity", "user_attributes")
        expected = SourceState.NOT_REQUESTED if later else SourceState.OK
        assert status.state == expected, (name, status)
    users = data.records["users"]
    assert {u["id"] for u in users} == expected_user_ids(tenant)
    assert len(users) == len({u["id"] for u in users}) == 14
    assert all(set(u) == set(GUEST_SELECT) for u in users)  # exactly what $select asked for
    by_id = {u["id"]: u for u in tenant.users}
    assert all(u == {k: by_id[u["id"]][k] for k in GUEST_SELECT} for u in users)
    assert_frame_equal(data.tables["users"], users_table(users))  # built page by page
    assert data.records["organization"] == [tenant.organization]
    assert data.records["domains"] == tenant.domains
    assert data.records["service_principal"] == tenant.service_principals
    assert data.records["app_role_assignments"] == tenant.app_role_assignments[SP_ID]
    assert data.records["sync_jobs"] == tenant.sync_jobs[SP_ID]
    assert data.statuses["users"].rows == 14
    assert data.requests >= 10
    assert data.throttled == 0


def test_group_members_are_tagged_with_their_group_and_nested_groups_followed(
    tenant: DemoTenant, emulator: GraphEmulator
) -> None:
    data = collect(emulator, keep_raw=True)
    members = data.records["group_members"]
    assert_frame_equal(data.tables["group_members"], group_members_table(members))
    assert_frame_equal(
        collect(emulator, page_size=2).tables["group_members"], group_members_table(members)
    )
    direct = [m for m in members if m["_groupId"] == GROUP_ID]
    nested = [m for m in direct if m["@odata.type"] == "#microsoft.graph.group"]
    assert [m["id"] for m in nested] == [NESTED_GROUP_ID]
    assert sum(m["@odata.type"] == "#microsoft.graph.user" for m in direct) == 4
    below = {m["id"] for m in members if m["_groupId"] == NESTED_GROUP_ID}
    assert below == {m["id"] for m in tenant.group_members.get(NESTED_GROUP_ID, [])}
    assert {m["_groupId"] for m in members} <= {GROUP_ID, NESTED_GROUP_ID}


def test_schema_carries_its_job_and_logs_respect_the_window(
    tenant: DemoTenant, emulator: GraphEmulator
) -> None:
    data = collect(emulator, log_days=30, keep_raw=True)
    (schema,) = data.records["sync_schema"]
    assert schema["_jobId"] == JOB_ID
    assert schema["synchronizationRules"] == tenant.sync_schemas[JOB_ID]["synchronizationRules"]
    logs = data.records["provisioning_logs"]
    assert_frame_equal(data.tables["provisioning_logs"], provisioning_logs_table(logs))
    paged = collect(emulator, log_days=30, page_size=1).tables["provisioning_logs"]
    assert_frame_equal(paged, provisioning_logs_table(logs))  # made page by page
    assert sorted(log["activityDateTime"] for log in logs) == [
        "2024-05-20T10:00:00Z",
        "2024-05-28T10:00:00Z",
    ]
    assert collect(emulator, log_days=0).statuses["provisioning_logs"].state == (
        SourceState.NOT_REQUESTED
    )


def test_small_pages_give_the_same_data(emulator: GraphEmulator) -> None:
    full = collect(emulator)
    paged = collect(emulator, page_size=2)
    assert paged.records == full.records
    assert_frame_equal(paged.tables["users"], full.tables["users"])
    assert paged.requests > full.requests


def test_users_become_a_table_and_no_object_is_kept(emulator: GraphEmulator) -> None:
    data = collect(emulator, page_size=3)
    assert "users" not in data.records
    assert "group_members" not in data.records
    assert "provisioning_logs" not in data.records
    assert tuple(data.tables["users"].columns) == USER_COLUMNS
    assert len(data.tables["users"]) == data.statuses["users"].rows == 14


def test_sign_in_activity_when_asked(emulator: GraphEmulator) -> None:
    data = collect(emulator, include_sign_in=True)
    assert data.statuses["sign_in_activity"].state == SourceState.OK
    assert data.statuses["sign_in_activity"].rows == 12  # members never signed in
    assert data.tables["users"]["lastSignInDateTime"].notna().sum() == 12


def test_forbidden_sign_in_activity_falls_back_to_users_without_it(tenant: DemoTenant) -> None:
    with GraphEmulator(tenant, faults=Faults(forbidden={"sign_in_activity"})) as em:
        data = collect(em, include_sign_in=True)
    status = data.statuses["sign_in_activity"]
    assert status.state == SourceState.FAILED
    assert status.missing_permission == "AuditLog.Read.All"
    assert "Authorization_RequestDenied" in (status.error or "")
    assert data.statuses["users"].state == SourceState.OK
    assert len(data.tables["users"]) == 14
    assert data.tables["users"]["lastSignInDateTime"].isna().all()


DEPENDANTS = {
    "service_principal": set(OPTIONAL) - {"sign_in_activity", "service_principal"},
    "app_role_assignments": {"groups", "group_members"},
    "sync_jobs": {"sync_schema"},
}
# Read from /users like the guests (the emulator forbids by route): not forbidden alone here.
_USERS_ROUTE = ("sign_in_activity", "member_users", "user_attributes")


@pytest.mark.parametrize("source", [s for s in OPTIONAL if s not in _USERS_ROUTE])
def test_forbidden_optional_source_fails_with_its_permission(
    tenant: DemoTenant, source: str
) -> None:
    with GraphEmulator(tenant, faults=Faults(forbidden={source})) as em:
        data = collect(em)
    status = data.statuses[source]
    assert status.state == SourceState.FAILED
    assert status.missing_permission == PERMISSIONS[source]
    assert status.error
    assert "HTTP 403" in status.error
    assert source not in data.records  # never reported as zero rows
    skipped = DEPENDANTS.get(source, set())
    for name in skipped:
        assert data.statuses[name].state == SourceState.NOT_REQUESTED
        assert data.statuses[name].error
    for name in set(SOURCES) - skipped - {source, "sign_in_activity", "user_attributes"}:
        assert data.statuses[name].state == SourceState.OK, name
    assert len(data.tables["users"]) == 14


@pytest.mark.parametrize("source", ["organization", "domains", "users"])
def test_forbidden_required_source_is_failed_not_raised(tenant: DemoTenant, source: str) -> None:
    with GraphEmulator(tenant, faults=Faults(forbidden={source})) as em:
        data = collect(em)
    assert data.statuses[source].state == SourceState.FAILED
    assert data.statuses[source].missing_permission == PERMISSIONS[source]
    assert source not in data.records


def test_server_error_on_a_required_source_raises_a_clean_collection_error(
    tenant: DemoTenant,
) -> None:
    faults = Faults(error_rate=1.0, error_statuses=(500,))
    with GraphEmulator(tenant, faults=faults) as em, pytest.raises(SourceError) as caught:
        collect(em, credential=FakeCredential())
    error = caught.value
    assert isinstance(error, CollectionError)
    assert error.exit_code == 3
    assert (error.source, error.status) == ("organization", 500)
    assert str(error) == (
        "organization: HTTP 500 generalException: The service returned 500 (injected fault)."
    )
    assert TOKEN not in repr(error)
    assert "Traceback" not in str(error)


def test_a_page_failing_mid_collection_fails_the_source(tenant: DemoTenant) -> None:
    with GraphEmulator(tenant, faults=Faults(expired_tokens={"provisioning_logs"})) as em:
        data = collect(em, page_size=1)
    status = data.statuses["provisioning_logs"]
    assert status.state == SourceState.FAILED
    assert status.error
    assert "Directory_ExpiredPageToken" in status.error
    assert status.missing_permission is None
    assert "provisioning_logs" not in data.records
    users_break = Faults(expired_tokens={"users"})
    with (
        GraphEmulator(tenant, faults=users_break) as em,
        pytest.raises(SourceError, match="users: HTTP 400 Directory_ExpiredPageToken"),
    ):
        collect(em, page_size=5)


def test_group_missing_behind_an_assignment_fails_group_members(tenant: DemoTenant) -> None:
    del tenant.groups[GROUP_ID], tenant.group_members[GROUP_ID]
    with GraphEmulator(tenant) as em:
        data = collect(em)
    status = data.statuses["group_members"]
    assert status.state == SourceState.FAILED
    assert status.error
    assert status.error.startswith(f"group {GROUP_ID}: HTTP 404")


def test_throttling_is_absorbed_and_the_data_is_identical(tenant: DemoTenant) -> None:
    with GraphEmulator(tenant) as em:
        clean = collect(em, page_size=3)
    faults = Faults(throttle_rate=0.1, retry_after=1, seed=3)
    with GraphEmulator(tenant, faults=faults) as em:
        throttled = collect(em, page_size=3)
        statuses = [r.status for r in em.requests]
    assert throttled.records == clean.records
    assert statuses.count(429) == throttled.throttled > 0


def test_503_and_504_are_retried(tenant: DemoTenant) -> None:
    with GraphEmulator(tenant) as em:
        clean = collect(em, page_size=3)
    faults = Faults(error_rate=0.15, error_statuses=(503, 504), seed=5)
    with GraphEmulator(tenant, faults=faults) as em:
        retried = collect(em, page_size=3, retry_delay=0.0)
    assert retried.records == clean.records
    assert retried.throttled > 0


def test_app_none_requests_no_app_source(emulator: GraphEmulator) -> None:
    data = collect(emulator, app=None)
    for source in OPTIONAL:
        if source != "sign_in_activity":
            assert data.statuses[source].state == SourceState.NOT_REQUESTED
            assert source not in data.records
    assert not any("servicePrincipals" in r.path for r in emulator.requests)


def test_unknown_app_fails_the_service_principal_and_skips_the_rest(
    emulator: GraphEmulator,
) -> None:
    data = collect(emulator, app="Nope's App")
    status = data.statuses["service_principal"]
    assert status.state == SourceState.FAILED
    assert status.error == 'no service principal named "Nope\'s App"'
    for source in DEPENDANTS["service_principal"]:
        assert data.statuses[source].state == SourceState.NOT_REQUESTED


def test_app_found_by_app_id(emulator: GraphEmulator) -> None:
    data = collect(emulator, app=APP_ID)
    assert data.records["service_principal"][0]["id"] == SP_ID


def test_ambiguous_app_name_fails(tenant: DemoTenant) -> None:
    tenant.service_principals.append({**tenant.service_principals[0], "id": "other-sp"})
    with GraphEmulator(tenant) as em:
        status = collect(em).statuses["service_principal"]
    assert status.state == SourceState.FAILED
    assert status.error
    assert "2 service principals" in status.error


def test_app_without_provisioning_job(tenant: DemoTenant) -> None:
    tenant.sync_jobs.clear()
    with GraphEmulator(tenant) as em:
        data = collect(em)
    assert data.statuses["sync_jobs"].state == SourceState.OK
    assert data.records["sync_jobs"] == []
    assert data.statuses["sync_schema"].state == SourceState.NOT_REQUESTED
    assert data.statuses["sync_schema"].error == "no provisioning job is configured for this app"


def test_collection_is_read_only(tenant: DemoTenant) -> None:
    faults = Faults(throttle_rate=0.05, seed=1)
    with GraphEmulator(tenant, faults=faults) as em:
        collect(em, include_sign_in=True, page_size=4)
        requests = em.requests
    assert requests
    for request in requests:
        batch = request.method == "POST" and request.path == "/v1.0/$batch"
        assert request.method == "GET" or batch, request


def test_token_is_sent_for_the_graph_scope(emulator: GraphEmulator) -> None:
    credential = FakeCredential()
    collect(emulator, credential=credential)
    assert all(r.authorized for r in emulator.requests)
    assert set(credential.scopes) == {("https://graph.microsoft.com/.default",)}


def test_403_messages_never_contain_the_token(tenant: DemoTenant) -> None:
    with GraphEmulator(tenant, faults=Faults(forbidden=set(SOURCES))) as em:
        data = collect(em, credential=FakeCredential(), include_sign_in=True)
    assert all(TOKEN not in repr(status) for status in data.statuses.values())


def test_client_refuses_unsafe_configurations() -> None:
    with pytest.raises(ConfigError, match="credential is required"):
        make_graph_client(base_url="https://graph.microsoft.com/v1.0", credential=None)
    with pytest.raises(ConfigError, match="https"):
        make_graph_client(base_url="http://graph.example/v1.0", credential=FAKE)
    with pytest.raises(ConfigError, match="cloud"):
        make_graph_client(base_url="http://127.0.0.1:1/v1.0", credential=None, cloud="mars")
    client = make_graph_client(base_url="http://127.0.0.1:1/v1.0", credential=None)
    with pytest.raises(ConfigError, match="page_size"):
        asyncio.run(collect_graph(client, page_size=1000))


class RefusingCredential(FakeCredential):
    """A credential whose token request is refused, as Entra refuses a wrong secret."""

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        raise ClientAuthenticationError(
            "AADSTS7000215: Invalid client secret provided.\nTrace ID: 1234"
        )


def test_sign_in_failure_is_a_clean_collection_error(emulator: GraphEmulator) -> None:
    with pytest.raises(SourceError) as caught:
        collect(emulator, credential=RefusingCredential())
    assert str(caught.value) == (
        "organization: authentication failed: AADSTS7000215: Invalid client secret provided."
    )
    assert not emulator.requests  # nothing was sent without a token


def test_unreachable_graph_raises_collection_error() -> None:
    with GraphEmulator(make_tenant()) as em:
        url = em.base_url
    client = make_graph_client(base_url=url, credential=None)
    with pytest.raises(SourceError, match="organization: cannot reach Graph: ConnectError"):
        asyncio.run(collect_graph(client))


# ---- the emulator's single objects parse into msgraph-sdk's typed models cleanly ---------------

OPEN_TYPES = {"DetailsInfo", "StringKeyObjectValuePair"}  # Graph open types: extra keys by design


def unknown_properties(obj: object, path: str = "") -> list[str]:
    """Every property the typed model did not recognise (additional_data), recursively."""
    if isinstance(obj, list):
        return [p for i, item in enumerate(obj) for p in unknown_properties(item, f"{path}[{i}]")]
    if not isinstance(obj, Parsable):
        return []
    extra = set(getattr(obj, "additional_data", None) or {}) - {"@odata.context"}
    found = [] if type(obj).__name__ in OPEN_TYPES else [f"{path}.{k}" for k in sorted(extra)]
    for name, value in vars(obj).items():
        if name not in ("additional_data", "backing_store"):
            found += unknown_properties(value, f"{path}.{name}")
    return found


def typed_objects(emulator: GraphEmulator, sp_id: str, job_id: str) -> dict[str, object]:
    async def run() -> dict[str, object]:
        client = make_graph_client(base_url=emulator.base_url, credential=None)
        sp = client.service_principals.by_service_principal_id(sp_id)
        job = sp.synchronization.jobs.by_synchronization_job_id(job_id)
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "organization": client.organization.get,
            "domains": client.domains.get,
            "service_principal": sp.get,
            "app_role_assignments": sp.app_role_assigned_to.get,
            "sync_jobs": sp.synchronization.jobs.get,
            "sync_job": job.get,
            "sync_schema": job.schema.get,
            "provisioning_logs": client.audit_logs.provisioning.get,
        }
        try:
            return {name: await call() for name, call in calls.items()}
        finally:
            await close_graph_client(client)

    return asyncio.run(run())


def test_sdk_parses_every_emulator_object_without_unknown_properties(
    emulator: GraphEmulator,
) -> None:
    parsed = typed_objects(emulator, SP_ID, JOB_ID)
    problems = {name: unknown_properties(obj, name) for name, obj in parsed.items()}
    assert problems == {name: [] for name in parsed}
    org: Any = parsed["organization"]
    assert org.value[0].verified_domains[0].name == "fabrikam.onmicrosoft.com"
    schema: Any = parsed["sync_schema"]
    mappings = schema.synchronization_rules[0].object_mappings[0].attribute_mappings
    assert mappings[1].source.expression == "[mail]"


def test_the_unknown_property_check_can_fail(tenant: DemoTenant) -> None:
    tenant.service_principals[0]["appDisplayNme"] = "typo"
    tenant.sync_schemas[JOB_ID]["directories"][0]["objects"][0]["attributes"][0]["nmae"] = "x"
    with GraphEmulator(tenant) as em:
        parsed = typed_objects(em, SP_ID, JOB_ID)
    assert unknown_properties(parsed["service_principal"], "sp") == ["sp.appDisplayNme"]
    assert unknown_properties(parsed["sync_schema"], "s") == [
        "s.directories[0].objects[0].attributes[0].nmae"
    ]


def test_demo_generator_objects_parse_cleanly_too() -> None:
    tenant_module = pytest.importorskip("audit.demo.tenant")
    tenant: DemoTenant = tenant_module.generate_tenant(80, 17, seed=1)
    sp_id = str(tenant.service_principals[0]["id"])
    job_id = str(tenant.sync_jobs[sp_id][0]["id"])
    with GraphEmulator(tenant) as em:
        parsed = typed_objects(em, sp_id, job_id)
    problems = {name: unknown_properties(obj, name) for name, obj in parsed.items()}
    assert problems == {name: [] for name in parsed}


@pytest.mark.slow
def test_throughput_100k_guests() -> None:
    tenant = make_tenant()
    base = guest(1)
    tenant.users += [dict(base, id=f"{n:08d}-0000-4000-8000-000000000000") for n in range(100_000)]
    with GraphEmulator(tenant) as em:
        started = time.perf_counter()
        data = collect(em, app=None)
        elapsed = time.perf_counter() - started
    assert len(data.tables["users"]) == 100_014
    assert len(data.tables["users"]) / elapsed > 20_000  # 75-125k/s measured; CI slack


def test_next_link_to_another_host_is_refused() -> None:
    from audit.collectors.graph_errors import Problem
    from audit.collectors.graph_io import _Graph  # the guard itself; no emulator can lie

    client = make_graph_client(base_url="http://127.0.0.1:1/v1.0", credential=None)
    graph = _Graph(client)
    first = client.users.to_get_request_information()
    assert graph.follow("http://127.0.0.1:1/v1.0/users?$skiptoken=a", first).url.endswith("=a")
    for link in ("https://evil.example/v1.0/users", "http://127.0.0.1:2/v1.0/users"):
        with pytest.raises(Problem, match="points away"):
            graph.follow(link, first)
