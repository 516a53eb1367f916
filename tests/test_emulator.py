"""The Graph emulator over real HTTP on loopback, driven with plain httpx (no SDK)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from audit.demo.emulator import Faults, GraphEmulator
from audit.demo.emulator_store import USER_DEFAULT
from tests._graph_tenant import (
    APP_ID,
    APP_NAME,
    GROUP_ID,
    JOB_ID,
    NESTED_GROUP_ID,
    SP_ID,
    guest,
    make_tenant,
)

JSON = dict[str, Any]
GUESTS = 12


@pytest.fixture
def emulator() -> Iterator[GraphEmulator]:
    with GraphEmulator(make_tenant(guests=GUESTS)) as em:
        yield em


@pytest.fixture
def http(emulator: GraphEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url + "/") as client:
        yield client


def get_all(http: httpx.Client, url: str, **kw: Any) -> tuple[list[JSON], int]:
    """Every item of a collection and the number of pages it took."""
    items: list[JSON] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = http.get(next_url, **kw)
        assert response.status_code == 200, response.text
        doc = response.json()
        items += doc["value"]
        pages += 1
        next_url = doc.get("@odata.nextLink")
        kw.pop("params", None)  # the nextLink carries the query
    return items, pages


def error_of(response: httpx.Response) -> JSON:
    body = response.json()
    assert set(body["error"]["innerError"]) == {"date", "request-id", "client-request-id"}
    return dict(body["error"])


# ---- users: paging, $select, $top, $filter, $count ------------------------------------------


def test_paging_returns_every_guest_once_and_keeps_the_query(http: httpx.Client) -> None:
    params = {"$filter": "userType eq 'Guest'", "$select": "id,mail", "$top": "5"}
    first = http.get("users", params=params).json()
    assert "$filter=userType%20eq%20'Guest'" in first["@odata.nextLink"]
    assert "$skiptoken=" in first["@odata.nextLink"]
    users, pages = get_all(http, "users", params=params)
    assert pages == 3
    assert len({u["id"] for u in users}) == len(users) == GUESTS
    assert all(set(u) == {"id", "mail"} for u in users)


def test_default_page_size_is_100_and_context_names_the_selection(
    emulator: GraphEmulator, http: httpx.Client
) -> None:
    for n in range(150):
        emulator.add_user(guest(10_000 + n))
    doc = http.get("users", params={"$select": "displayName"}).json()
    assert len(doc["value"]) == 100
    assert doc["@odata.context"] == f"{emulator.base_url}/$metadata#users(displayName)"


def test_select_gives_listed_properties_plus_id_and_nulls_for_unset(http: httpx.Client) -> None:
    params = {"$select": "displayName,jobTitle,onPremisesUserPrincipalName", "$top": "1"}
    user = http.get("users", params=params).json()["value"][0]
    assert list(user) == ["displayName", "jobTitle", "onPremisesUserPrincipalName", "id"]
    assert user["onPremisesUserPrincipalName"] is None


def test_without_select_graph_default_properties(http: httpx.Client) -> None:
    user = http.get("users", params={"$top": "1"}).json()["value"][0]
    assert tuple(user) == USER_DEFAULT
    assert "userType" not in user
    assert "signInActivity" not in user


def test_unknown_property_in_select_is_refused(http: httpx.Client) -> None:
    response = http.get("users", params={"$select": "id,mial"})
    assert response.status_code == 400
    assert "'mial'" in error_of(response)["message"]


def test_sign_in_activity_only_when_selected_and_pages_capped_at_500(
    emulator: GraphEmulator, http: httpx.Client
) -> None:
    for n in range(600):
        emulator.add_user(guest(20_000 + n))
    doc = http.get("users", params={"$select": "id,signInActivity", "$top": "999"}).json()
    assert len(doc["value"]) == 500
    with_activity = [u for u in doc["value"] if "signInActivity" in u]
    assert with_activity
    assert with_activity[0]["signInActivity"]["lastSignInDateTime"]
    members = http.get(
        "users", params={"$filter": "userType eq 'Member'", "$select": "id,signInActivity"}
    )
    assert all("signInActivity" not in u for u in members.json()["value"])  # never signed in


@pytest.mark.parametrize("top", ["0", "1000", "abc", "-1"])
def test_top_outside_1_to_999_is_refused_like_graph(http: httpx.Client, top: str) -> None:
    response = http.get("users", params={"$top": top})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "Request_UnsupportedQuery"
    assert error["message"] == (
        f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("userType eq 'Guest'", GUESTS),
        ("userType eq 'guest'", GUESTS),  # directory string comparisons ignore case
        ("creationType eq 'Invitation' and userType eq 'Member'", 2),
        ("(userType eq 'Guest' or creationType eq 'Invitation') and accountEnabled eq true", 14),
        ("externalUserState eq 'PendingAcceptance'", 0),
        ("startswith(userPrincipalName,'guest00000')", 10),
        ("creationType eq null", 3),
    ],
)
def test_filter_subset(http: httpx.Client, expression: str, expected: int) -> None:
    users, _ = get_all(http, "users", params={"$filter": expression, "$select": "id"})
    assert len(users) == expected


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ("department eq 'Sales'", "Request_UnsupportedQuery"),
        ("startswith(userType,'G')", "Request_UnsupportedQuery"),
        ("userType ne 'Guest'", "Request_UnsupportedQuery"),
        ("not(userType eq 'Guest')", "Request_UnsupportedQuery"),
        ("endswith(mail,'@contoso.com')", "Request_UnsupportedQuery"),
        ("userType eq", "BadRequest"),
        ("userType eq 'Guest' and", "BadRequest"),
        ("userType ~ 'x'", "BadRequest"),
    ],
)
def test_unsupported_filters_are_refused(http: httpx.Client, expression: str, code: str) -> None:
    response = http.get("users", params={"$filter": expression})
    assert response.status_code == 400
    assert error_of(response)["code"] == code


def test_advanced_query_needs_consistency_level_and_count(http: httpx.Client) -> None:
    params = {"$filter": "userType ne 'Guest'", "$count": "true"}
    assert http.get("users", params=params).status_code == 400
    doc = http.get("users", params=params, headers={"ConsistencyLevel": "eventual"}).json()
    assert doc["@odata.count"] == len(doc["value"]) == 5
    ends = {"$filter": "endswith(mail,'@contoso.com')", "$count": "true"}
    doc = http.get("users", params=ends, headers={"ConsistencyLevel": "eventual"}).json()
    assert doc["@odata.count"] == GUESTS


def test_count_without_consistency_level_is_ignored_as_graph_documents(http: httpx.Client) -> None:
    doc = http.get("users", params={"$count": "true"}).json()
    assert "@odata.count" not in doc
    assert doc["value"]


def test_tampered_skiptoken_is_refused(http: httpx.Client) -> None:
    response = http.get("users", params={"$skiptoken": "not-a-token"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "Directory_ExpiredPageToken"


# ---- delta query ----------------------------------------------------------------------------


def test_delta_round_then_only_changes(emulator: GraphEmulator, http: httpx.Client) -> None:
    first = http.get("users/delta", params={"$select": "displayName", "$top": "4"}).json()
    assert "$skiptoken=" in first["@odata.nextLink"]
    assert "$select" not in first["@odata.nextLink"]
    users: list[JSON] = first["value"]
    doc = first
    while "@odata.nextLink" in doc:
        doc = http.get(doc["@odata.nextLink"]).json()
        users += doc["value"]
    delta_link = doc["@odata.deltaLink"]
    assert "$deltatoken=" in delta_link
    assert len(users) == GUESTS + 5
    assert set(users[0]) == {"displayName", "id"}
    assert http.get(delta_link).json()["value"] == []

    emulator.update_user(users[0]["id"], {"displayName": "Renamed"})
    emulator.delete_user(users[1]["id"])
    emulator.add_user(guest(999))
    changes = http.get(delta_link).json()
    assert changes["value"] == [
        {"displayName": "Renamed", "id": users[0]["id"]},
        {"id": users[1]["id"], "@removed": {"reason": "changed"}},
        {"displayName": guest(999)["displayName"], "id": guest(999)["id"]},
    ]
    assert http.get(changes["@odata.deltaLink"]).json()["value"] == []


def test_delta_accepts_the_sdk_function_name(http: httpx.Client) -> None:
    assert http.get("users/microsoft.graph.delta()").status_code == 200


# ---- the app -------------------------------------------------------------------------------


def test_service_principal_by_name_app_id_and_id(http: httpx.Client) -> None:
    flt = f"displayName eq '{APP_NAME}' or appId eq '{APP_ID}'"
    found = http.get("servicePrincipals", params={"$filter": flt}).json()["value"]
    assert [sp["id"] for sp in found] == [SP_ID]
    assert http.get("servicePrincipals", params={"$filter": "displayName eq 'x'"}).json() == {
        "@odata.context": str(http.base_url) + "$metadata#servicePrincipals",
        "value": [],
    }
    one = http.get(f"servicePrincipals/{SP_ID}").json()
    assert one["@odata.context"].endswith("$metadata#servicePrincipals/$entity")
    assert one["appId"] == APP_ID


def test_unknown_object_is_graph_404(http: httpx.Client) -> None:
    response = http.get("servicePrincipals/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert error_of(response)["code"] == "Request_ResourceNotFound"
    missing_job = http.get(f"servicePrincipals/{SP_ID}/synchronization/jobs/nope/schema")
    assert missing_job.status_code == 404


def test_assignments_and_group_members_are_paged_and_typed(http: httpx.Client) -> None:
    assigned, pages = get_all(
        http, f"servicePrincipals/{SP_ID}/appRoleAssignedTo", params={"$top": "1"}
    )
    assert pages == 2
    assert {a["principalType"] for a in assigned} == {"User", "Group"}
    members, pages = get_all(http, f"groups/{GROUP_ID}/members", params={"$top": "2"})
    assert pages == 3
    types = [m["@odata.type"] for m in members]
    assert types.count("#microsoft.graph.user") == 4
    assert types.count("#microsoft.graph.group") == 1
    assert members[-1]["id"] == NESTED_GROUP_ID


def test_sync_jobs_and_schema(http: httpx.Client) -> None:
    jobs = http.get(f"servicePrincipals/{SP_ID}/synchronization/jobs").json()["value"]
    assert [j["id"] for j in jobs] == [JOB_ID]
    schema = http.get(f"servicePrincipals/{SP_ID}/synchronization/jobs/{JOB_ID}/schema").json()
    rule = schema["synchronizationRules"][0]
    targets = [m["targetAttributeName"] for m in rule["objectMappings"][0]["attributeMappings"]]
    assert 'emails[type eq "work"].value' in targets


def test_provisioning_logs_filter_by_app_and_time(http: httpx.Client) -> None:
    flt = f"servicePrincipal/id eq '{SP_ID}' and activityDateTime gt 2024-05-01T00:00:00Z"
    logs, pages = get_all(http, "auditLogs/provisioning", params={"$filter": flt, "$top": "1"})
    assert pages == 2
    assert {log["activityDateTime"] for log in logs} == {
        "2024-05-20T10:00:00Z",
        "2024-05-28T10:00:00Z",
    }
    ge = f"activityDateTime ge 2024-05-28T10:00:00Z and servicePrincipal/id eq '{SP_ID.upper()}'"
    assert http.get("auditLogs/provisioning", params={"$filter": ge}).json()["value"] == []


# ---- $batch, verbs, unknown paths ----------------------------------------------------------


def test_batch_answers_each_get_like_the_single_endpoint(
    emulator: GraphEmulator, http: httpx.Client
) -> None:
    requests = [
        {"id": "1", "method": "GET", "url": "/organization"},
        {"id": "2", "method": "GET", "url": "users?$top=1000"},
        {"id": "3", "method": "GET", "url": f"/groups/{GROUP_ID}/members?$select=id"},
    ]
    response = http.post("$batch", json={"requests": requests})
    assert response.status_code == 200
    answers = {r["id"]: r for r in response.json()["responses"]}
    assert answers["1"]["status"] == 200
    assert answers["1"]["body"]["value"][0]["displayName"] == "Fabrikam"
    assert answers["2"]["status"] == 400
    assert answers["2"]["body"]["error"]["code"] == "Request_UnsupportedQuery"
    assert len(answers["3"]["body"]["value"]) == 5
    inner = [r for r in emulator.requests if r.in_batch]
    assert [r.method for r in inner] == ["GET"] * 3


@pytest.mark.parametrize(
    "requests",
    [
        [{"id": "1", "method": "PATCH", "url": "/organization"}],
        [{"id": "1", "method": "GET", "url": "/organization"}, {"id": "2", "method": "DELETE", "url": "/users/x"}],
        [{"id": str(n), "method": "GET", "url": "/domains"} for n in range(21)],
        [],
    ],
)  # fmt: skip
def test_batch_refuses_writes_oversize_and_empty(http: httpx.Client, requests: list[JSON]) -> None:
    response = http.post("$batch", json={"requests": requests})
    assert response.status_code == 400
    assert error_of(response)["code"] == "BadRequest"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_verbs_are_405(http: httpx.Client, method: str) -> None:
    assert http.request(method, "users", json={}).status_code == 405


@pytest.mark.parametrize("path", ["nope", "users/x/y/z", "../beta/users"])
def test_unknown_path_is_404_with_graph_body(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "Request_ResourceNotFound"


# ---- faults --------------------------------------------------------------------------------

SOURCE_PATHS = {
    "organization": "organization",
    "domains": "domains",
    "users": "users",
    "service_principal": f"servicePrincipals/{SP_ID}",
    "app_role_assignments": f"servicePrincipals/{SP_ID}/appRoleAssignedTo",
    "group_members": f"groups/{GROUP_ID}/members",
    "sync_jobs": f"servicePrincipals/{SP_ID}/synchronization/jobs",
    "sync_schema": f"servicePrincipals/{SP_ID}/synchronization/jobs/{JOB_ID}/schema",
    "provisioning_logs": "auditLogs/provisioning",
}


@pytest.mark.parametrize("source", sorted(SOURCE_PATHS))
def test_forbidden_source_answers_403_and_others_stay_fine(source: str) -> None:
    with (
        GraphEmulator(make_tenant(), faults=Faults(forbidden={source})) as em,
        httpx.Client(base_url=em.base_url + "/") as http,
    ):
        for name, path in SOURCE_PATHS.items():
            response = http.get(path)
            assert response.status_code == (403 if name == source else 200), name
        error = error_of(http.get(SOURCE_PATHS[source]))
    assert error["code"] == "Authorization_RequestDenied"
    assert error["message"] == "Insufficient privileges to complete the operation."


def test_forbidden_sign_in_activity_only_refuses_selecting_it() -> None:
    with (
        GraphEmulator(make_tenant(), faults=Faults(forbidden={"sign_in_activity"})) as em,
        httpx.Client(base_url=em.base_url + "/") as http,
    ):
        assert http.get("users", params={"$select": "id,signInActivity"}).status_code == 403
        assert http.get("users", params={"$select": "id,mail"}).status_code == 200


def fetch_with_retries(http: httpx.Client, url: str, statuses: list[int]) -> list[JSON]:
    """Page through, retrying (without sleeping) whatever 429/5xx the emulator injects."""
    items: list[JSON] = []
    next_url: str | None = url
    while next_url:
        response = http.get(next_url)
        statuses.append(response.status_code)
        if response.status_code != 200:
            continue
        doc = response.json()
        items += doc["value"]
        next_url = doc.get("@odata.nextLink")
    return items


def test_throttling_and_errors_never_consume_a_page() -> None:
    faults = Faults(throttle_rate=0.3, error_rate=0.2, retry_after=2, seed=7)
    with (
        GraphEmulator(make_tenant(), faults=faults) as em,
        httpx.Client(base_url=em.base_url + "/") as http,
    ):
        statuses: list[int] = []
        users = fetch_with_retries(http, "users?$top=2&$select=id", statuses)
        throttled = http.get("users")
        while throttled.status_code != 429:
            throttled = http.get("users")
    assert len({u["id"] for u in users}) == len(users) == 17
    assert 429 in statuses
    assert set(statuses) & {500, 502, 503, 504}
    assert throttled.headers["Retry-After"] == "2"
    assert error_of(throttled)["code"] == "TooManyRequests"


def test_fault_sequence_is_reproducible_with_a_seed() -> None:
    def run() -> list[int]:
        faults = Faults(throttle_rate=0.2, error_rate=0.2, seed=42)
        with (
            GraphEmulator(make_tenant(), faults=faults) as em,
            httpx.Client(base_url=em.base_url + "/") as http,
        ):
            return [http.get("organization").status_code for _ in range(40)]

    first = run()
    assert first == run()
    assert len(set(first)) > 1


def test_throttle_budget_limits_request_rate() -> None:
    with (
        GraphEmulator(make_tenant(), faults=Faults(throttle_budget=5)) as em,
        httpx.Client(base_url=em.base_url + "/") as http,
    ):
        statuses = [http.get("domains").status_code for _ in range(12)]
    assert statuses[:5] == [200] * 5
    assert 429 in statuses


def test_expired_tokens_fail_follow_up_pages_only() -> None:
    with (
        GraphEmulator(make_tenant(), faults=Faults(expired_tokens={"users"})) as em,
        httpx.Client(base_url=em.base_url + "/") as http,
    ):
        first = http.get("users", params={"$top": "5"}).json()
        response = http.get(first["@odata.nextLink"])
    assert response.status_code == 400
    assert error_of(response)["code"] == "Directory_ExpiredPageToken"


# ---- server behaviour ----------------------------------------------------------------------


def test_requests_are_served_concurrently_with_latency() -> None:
    with GraphEmulator(make_tenant(), latency=0.4) as em:
        statuses: list[int] = []

        def call() -> None:
            statuses.append(httpx.get(em.base_url + "/organization").status_code)

        threads = [threading.Thread(target=call) for _ in range(4)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    assert statuses == [200] * 4
    assert 0.4 <= elapsed < 1.2


def test_records_requests_and_whether_a_token_was_sent(emulator: GraphEmulator) -> None:
    httpx.get(emulator.base_url + "/domains", headers={"Authorization": "Bearer abc"})
    httpx.get(emulator.base_url + "/domains?$top=1")
    bad = httpx.get(emulator.base_url + "/domains", headers={"Authorization": "Basic xyz"})
    assert bad.status_code == 401
    first, second, _ = emulator.requests
    assert (first.method, first.path, first.status, first.authorized) == (
        "GET", "/v1.0/domains", 200, True,
    )  # fmt: skip
    assert (second.query, second.authorized) == ("$top=1", False)


def test_require_auth_refuses_requests_without_a_token() -> None:
    with GraphEmulator(make_tenant(), require_auth=True) as em:
        response = httpx.get(em.base_url + "/organization")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_start_stop_lifecycle() -> None:
    em = GraphEmulator(make_tenant())
    with pytest.raises(RuntimeError):
        _ = em.base_url
    url = em.start()
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/v1.0")
    assert em.start() == url
    with httpx.Client() as client:  # a kept-alive connection must not block stop()
        assert client.get(url + "/organization").status_code == 200
        em.stop()
        em.stop()
        with pytest.raises(httpx.TransportError):
            client.get(url + "/organization")
