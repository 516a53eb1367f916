"""The emulator's ``graph`` pacing: documented request costs and budgets, 429 + Retry-After, a
seeded latency model; and the real collector against it gets the same data, throttled or not."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx
import pytest
from pandas.testing import assert_frame_equal

from audit.collectors.graph import close_graph_client, collect_graph, make_graph_client
from audit.demo.emulator import GraphEmulator
from audit.demo.emulator_pacing import (
    DIRECTORY,
    REPORTS,
    Budget,
    Pacing,
    chain_of,
    directory_budget,
    graph_pacing,
    request_cost,
)
from tests._graph_tenant import make_tenant


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/users", {}, (DIRECTORY, 2)),
        ("/users", {"$select": "id"}, (DIRECTORY, 1)),
        ("/users", {"$select": "id", "$top": "1"}, (DIRECTORY, 1)),  # never below 1
        ("/users", {"$expand": "manager"}, (DIRECTORY, 3)),
        ("/users/abc", {}, (DIRECTORY, 1)),  # not in the table: 1
        ("/groups/g1/members", {"$top": "999"}, (DIRECTORY, 3)),
        ("/groups/g1/transitiveMembers", {"$select": "id"}, (DIRECTORY, 4)),
        ("/servicePrincipals/s1/appRoleAssignedTo", {}, (DIRECTORY, 1)),
        ("/auditLogs/provisioning", {"$top": "999"}, (REPORTS, 1)),
    ],
)
def test_request_costs_follow_the_documented_table(
    path: str, query: dict[str, str], expected: tuple[str, int]
) -> None:
    assert request_cost(path, query) == expected


def test_directory_budget_by_tenant_size() -> None:
    assert directory_budget(49).capacity == 3_500
    assert directory_budget(50).capacity == directory_budget(500).capacity == 5_000
    assert directory_budget(501).capacity == 8_000
    assert directory_budget(501).window == 10.0


def test_a_budget_refuses_what_exceeds_it_and_charges_it_all_the_same() -> None:
    budget = Budget(5, 10.0)
    now = budget.stamp
    assert [budget.take(1, now) for _ in range(5)] == [None] * 5
    wait = budget.take(1, now)
    assert wait is not None
    assert wait == pytest.approx(4.0)  # the refused request accrued: two tokens short
    assert budget.throttled == 1
    assert budget.passed == 5
    assert budget.take(1, now + 4.0) is None


def test_latency_is_seeded_with_a_300_ms_median_and_a_capped_tail() -> None:
    pacing, again = Pacing(seed=3), Pacing(seed=3)
    draws = [pacing.latency() for _ in range(4000)]
    assert draws == [again.latency() for _ in range(4000)]
    assert statistics.median(draws) == pytest.approx(0.3, rel=0.06)
    assert 1.0 < max(draws) <= 10.0
    assert sum(d > 2.0 for d in draws) > 0  # a long tail


def _collect(url: str, **kw: Any) -> Any:
    async def run() -> Any:
        client = make_graph_client(base_url=url, credential=None, retry_delay=0.0)
        try:
            return await collect_graph(client, **kw)
        finally:
            await close_graph_client(client)

    return asyncio.run(run())


def test_over_budget_requests_get_429_with_retry_after() -> None:
    pacing = Pacing(median=0.0, budgets={REPORTS: Budget(2, 10.0)})
    with GraphEmulator(make_tenant(), pacing=pacing) as em:
        url = f"{em.base_url}/auditLogs/provisioning"
        replies = [httpx.get(url) for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 429]
    assert int(replies[2].headers["Retry-After"]) >= 1
    assert replies[2].json()["error"]["code"] == "TooManyRequests"
    assert pacing.summary()["budgets"][REPORTS]["throttled"] == 1


def test_the_collector_under_throttling_reads_the_same_data() -> None:
    tenant = make_tenant()
    with GraphEmulator(tenant) as em:
        clean = _collect(em.base_url, page_size=2)
    tight = Pacing(median=0.002, budgets={DIRECTORY: Budget(8, 1.0)}, seed=1)
    with GraphEmulator(tenant, pacing=tight) as em:
        started = time.monotonic()
        paced = _collect(em.base_url, page_size=2)
        seconds = time.monotonic() - started
    summary = tight.summary()
    assert summary["budgets"][DIRECTORY]["throttled"] > 0
    assert paced.throttled >= summary["budgets"][DIRECTORY]["throttled"]
    assert paced.records == clean.records
    for name, table in clean.tables.items():
        assert_frame_equal(paced.tables[name], table)
    assert seconds >= tight.floor_seconds() * 0.8


def test_a_chain_of_pages_is_a_floor_no_concurrency_beats() -> None:
    pacing = Pacing(median=0.01, seed=2)
    with GraphEmulator(make_tenant(), pacing=pacing) as em:
        _collect(em.base_url, page_size=2, app=None)
    summary = pacing.summary()
    assert summary["chains"] >= 2  # the guests, the invited members, ...
    assert summary["chain_floor_s"] > 0
    assert summary["floor_s"] == max(summary["budget_floor_s"], summary["chain_floor_s"])
    assert chain_of("/v1.0/users?$top=2&$skiptoken=abc") == chain_of("/v1.0/users?$top=2")


def test_graph_profile_for_a_large_tenant() -> None:
    pacing = graph_pacing(100_000)
    assert pacing.budgets[DIRECTORY].capacity == 8_000
    assert pacing.budgets[REPORTS].capacity == 5
    assert pacing.median == 0.3
