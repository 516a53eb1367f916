"""Parallel partitioned paging of guests: the same data as one sequential chain, proved on the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import httpx
import pytest
from pandas.testing import assert_frame_equal

from audit.collectors.graph import GraphData, close_graph_client, collect_graph, make_graph_client
from audit.collectors.graph_throttle import (
    DIRECTORY,
    REPORTS,
    REPORTS_PER_10_S,
    _Counter,
    scope,
)
from audit.collectors.partition import (
    CATCH_ALL,
    PARTITIONS,
    PREFIXES,
    Slots,
    catch_all_filters,
    collect_partitioned,
    merge_by_id,
    partition_filters,
)
from audit.collectors.tables import users_table
from audit.demo.emulator import Faults, GraphEmulator
from audit.demo.model import DemoTenant
from audit.models import SourceState
from tests._graph_tenant import INITIAL, guest, make_tenant

JSON = dict[str, Any]
GUESTS = "userType eq 'Guest'"


def collect(emulator: GraphEmulator, **kw: Any) -> GraphData:
    async def run() -> GraphData:
        client = make_graph_client(base_url=emulator.base_url, credential=None, retry_delay=0.0)
        try:
            return await collect_graph(client, app=None, keep_raw=True, **kw)
        finally:
            await close_graph_client(client)

    return asyncio.run(run())


def tenant_with(aliases: list[str]) -> DemoTenant:
    """The hand-made tenant plus one guest per alias (the alias leads the UPN)."""
    tenant = make_tenant()
    for n, alias in enumerate(aliases):
        user = guest(1000 + n)
        upn = f"{alias}_contoso.com#EXT#@{INITIAL}"
        user.update(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"partition/{n}")),
            userPrincipalName=upn,
            mail=f"{alias}@contoso.com",
            mailNickname=upn.split("@")[0],
        )
        tenant.users.append(user)
    return tenant


ASCII_ALIASES = [f"{c}{i}user" for i, c in enumerate("abcxyz0189_-.'~#!^" * 2)] + ["Zed", "ANNA"]


def by_id(data: GraphData) -> dict[str, JSON]:
    """The kept objects by id, checked against the table built page by page."""
    users = data.records["users"]
    assert len(users) == len({u["id"] for u in users})
    assert_frame_equal(data.tables["users"], users_table(users))
    return {u["id"]: u for u in users}


def test_partitioned_reads_exactly_what_sequential_reads() -> None:
    with GraphEmulator(tenant_with(ASCII_ALIASES)) as em:
        sequential = collect(em, page_size=3)
        parallel = collect(em, page_size=3, partitions=4)
        requests = em.requests
    assert by_id(parallel) == by_id(sequential)
    assert len(by_id(parallel)) == 14 + len(ASCII_ALIASES)
    detail = parallel.statuses["users"].detail
    assert detail["paging"] == "partitioned"
    assert detail["expected"] == detail["found"] == len(by_id(parallel)) - 2  # 2 invited members
    assert detail["partitions"] == len(PARTITIONS) == 28
    assert detail["catch_all_requests"] == len(catch_all_filters(GUESTS)) == 9
    assert detail["fallback"] is None
    counted = [r for r in requests if "%24count=true" in r.query or "$count=true" in r.query]
    assert len(counted) == 1
    assert parallel.requests > sequential.requests


def test_leading_characters_outside_the_upn_alphabet_are_caught() -> None:
    with GraphEmulator(tenant_with([*ASCII_ALIASES, "émile", "łukasz", "+plus"])) as em:
        sequential = collect(em, page_size=3)
        parallel = collect(em, page_size=3, partitions=8)
    assert by_id(parallel) == by_id(sequential)
    detail = parallel.statuses["users"].detail
    assert detail["expected"] == detail["found"]
    assert detail["fallback"] is None


def test_what_no_partition_covers_falls_back_to_sequential() -> None:
    with GraphEmulator(tenant_with([*ASCII_ALIASES, "Ωmega", "中文"])) as em:
        sequential = collect(em, page_size=3)
        parallel = collect(em, page_size=3, partitions=8)
    assert by_id(parallel) == by_id(sequential)
    detail = parallel.statuses["users"].detail
    assert detail["fallback"] == f"sequential: partitions found {detail['expected'] - 2} of " + str(
        detail["expected"]
    )
    assert detail["found"] == detail["expected"]


def test_small_lists_are_read_sequentially() -> None:
    with GraphEmulator(make_tenant()) as em:
        data = collect(em, partitions=8)  # 12 guests fit in one 999-user page
    assert data.statuses["users"].detail["paging"] == "sequential"
    assert len(data.tables["users"]) == 14


def test_concurrency_is_bounded() -> None:
    with GraphEmulator(tenant_with(ASCII_ALIASES), latency=0.02) as em:
        collect(em, page_size=3, partitions=3)
        bounded = em.max_in_flight
    # organization runs first, then domains + the members chain + 3 partition requests at most
    assert 3 <= bounded <= 5


def test_sign_in_activity_and_partitions() -> None:
    with GraphEmulator(tenant_with(ASCII_ALIASES)) as em:
        sequential = collect(em, page_size=3, include_sign_in=True)
        parallel = collect(em, page_size=3, include_sign_in=True, partitions=4)
    assert by_id(parallel) == by_id(sequential)
    assert (
        parallel.statuses["sign_in_activity"].rows == sequential.statuses["sign_in_activity"].rows
    )


def test_forbidden_users_fail_with_the_permission_not_an_empty_list() -> None:
    with GraphEmulator(tenant_with(ASCII_ALIASES), faults=Faults(forbidden={"users"})) as em:
        data = collect(em, page_size=3, partitions=4)
    status = data.statuses["users"]
    assert status.state == SourceState.FAILED
    assert status.missing_permission == "User.Read.All"
    assert "users" not in data.records


def test_throttled_partitions_give_identical_data() -> None:
    tenant = tenant_with(ASCII_ALIASES)
    with GraphEmulator(tenant) as em:
        clean = collect(em, page_size=3)
    faults = Faults(throttle_rate=0.05, retry_after=1, seed=11)
    with GraphEmulator(tenant, faults=faults) as em:
        throttled = collect(em, page_size=3, partitions=8)
        statuses = [r.status for r in em.requests]
    assert by_id(throttled) == by_id(clean)
    assert statuses.count(429) == throttled.throttled > 0


def test_a_retry_after_pauses_every_request_of_the_collection() -> None:
    async def run() -> tuple[float, float]:
        counter = _Counter()
        request = httpx.Request("GET", "http://127.0.0.1/v1.0/users")
        counter.note(httpx.Response(429, headers={"Retry-After": "1"}, request=request))
        started = time.monotonic()
        await counter.wait_turn()  # any other request of the collection waits here
        waited = time.monotonic() - started
        counter.note(httpx.Response(200, request=request))
        counter.note(httpx.Response(429, headers={"Retry-After": "999"}, request=request))
        started = time.monotonic()
        await counter.wait_turn()  # too long to wait for: the retry handler gives up too
        return waited, time.monotonic() - started

    waited, not_waited = asyncio.run(run())
    assert 0.9 <= waited < 1.5
    assert not_waited < 0.1


def test_a_retry_after_of_the_reports_service_pauses_only_its_requests() -> None:
    """Graph throttles its reports (/auditLogs) apart from directory reads: a 429 from one
    does not stall the other."""
    logs = httpx.URL("http://127.0.0.1/v1.0/auditLogs/provisioning")
    assert scope(logs) == REPORTS
    assert scope(httpx.URL("http://127.0.0.1/v1.0/users")) == DIRECTORY

    async def run() -> tuple[float, float]:
        counter = _Counter()
        request = httpx.Request("GET", logs)
        counter.note(httpx.Response(429, headers={"Retry-After": "1"}, request=request), REPORTS)
        started = time.monotonic()
        await counter.wait_turn(DIRECTORY)
        directory = time.monotonic() - started
        await counter.wait_turn(REPORTS)
        return directory, time.monotonic() - started

    directory, reports = asyncio.run(run())
    assert directory < 0.1
    assert 0.9 <= reports < 1.5


def test_reports_requests_are_paced_to_their_documented_limit() -> None:
    """5 requests per 10 s per app and tenant: five at once, then one every two seconds."""

    async def run() -> list[float]:
        counter = _Counter()
        started = time.monotonic()
        sent = []
        for _ in range(REPORTS_PER_10_S + 2):
            await counter.wait_turn(REPORTS)
            sent.append(time.monotonic() - started)
        return sent

    sent = asyncio.run(run())
    assert REPORTS_PER_10_S == 5
    assert all(t < 0.1 for t in sent[:5])
    assert 1.9 <= sent[5] < 2.3
    assert 3.9 <= sent[6] < 4.3


# ---- the pure parts -------------------------------------------------------------------------------


def test_filters_escape_quotes_and_cover_the_upn_alphabet() -> None:
    filters = partition_filters(GUESTS)
    assert filters[0] == "userType eq 'Guest' and startswith(userPrincipalName,'a')"
    assert filters[-1].startswith(
        "userType eq 'Guest' and (startswith(userPrincipalName,'''')"
        " or startswith(userPrincipalName,'.')"
    )
    assert len(PREFIXES) == len(set(PREFIXES))
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789'.-_!#^~")
    assert set(PREFIXES) == allowed
    assert not set(CATCH_ALL) & allowed
    assert all(c.casefold() == c for c in CATCH_ALL)
    groups = catch_all_filters(GUESTS, ("é", "ł", "+"), group=2)
    assert groups == [
        "userType eq 'Guest' and (startswith(userPrincipalName,'é')"
        " or startswith(userPrincipalName,'ł'))",
        "userType eq 'Guest' and startswith(userPrincipalName,'+')",
    ]


def test_merge_keeps_the_first_object_of_each_id() -> None:
    merged = merge_by_id([[{"id": "1", "v": 1}, {"id": "2"}], [{"id": "1", "v": 2}, {"id": "3"}]])
    assert merged == [{"id": "1", "v": 1}, {"id": "2"}, {"id": "3"}]


def test_without_a_count_the_list_is_read_sequentially() -> None:
    asked: list[str] = []

    async def fetch(filter_: str) -> list[JSON]:
        asked.append(filter_)
        return [{"id": "1"}, {"id": "2"}]

    async def no_count() -> int | None:
        return None

    rows, report = asyncio.run(
        collect_partitioned(GUESTS, fetch=fetch, count=no_count, min_count=0)
    )
    assert asked == [GUESTS]
    assert len(rows) == 2
    assert (report.mode, report.fallback) == ("sequential", "no $count available")


def test_a_failing_partition_fails_the_read() -> None:
    async def fetch(filter_: str) -> list[JSON]:
        if filter_.endswith("'q')"):
            raise ValueError("page 3 of q failed")
        await asyncio.sleep(0)
        return []

    async def count() -> int | None:
        return 10_000

    with pytest.raises(ValueError, match="page 3 of q"):
        asyncio.run(collect_partitioned(GUESTS, fetch=fetch, count=count, min_count=0))


def test_slots_bound_requests_and_let_started_chains_go_first() -> None:
    order: list[str] = []

    async def request(slots: Slots, name: str, pages: int) -> None:
        async with slots.hold(pages=pages):
            order.append(name)
            await asyncio.sleep(0.01)

    async def run() -> int:
        slots = Slots(2)
        tasks = [asyncio.create_task(request(slots, f"new{i}", 0)) for i in range(4)]
        await asyncio.sleep(0)
        tasks += [asyncio.create_task(request(slots, "page 2", 1))]
        tasks += [asyncio.create_task(request(slots, "page 9", 8))]
        await asyncio.gather(*tasks)
        return slots.free

    assert asyncio.run(run()) == 2
    assert order == ["new0", "new1", "page 9", "page 2", "new2", "new3"]


def test_a_cancelled_waiter_does_not_leak_its_slot() -> None:
    async def run() -> int:
        slots = Slots(1)
        gate = asyncio.Event()

        async def hold() -> None:
            async with slots.hold():
                await gate.wait()

        first = asyncio.create_task(hold())
        await asyncio.sleep(0)
        waiter = asyncio.create_task(hold())
        await asyncio.sleep(0)
        waiter.cancel()
        gate.set()
        await first
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        return slots.free

    assert asyncio.run(run()) == 1


def test_a_small_count_cancels_the_partitions_and_reads_sequentially() -> None:
    async def fetch(filter_: str) -> list[JSON]:
        if filter_ != GUESTS:
            await asyncio.sleep(30)  # a partition still running when the count arrives
        return [{"id": "1"}]

    async def count() -> int | None:
        await asyncio.sleep(0.01)
        return 1

    started = time.monotonic()
    rows, report = asyncio.run(collect_partitioned(GUESTS, fetch=fetch, count=count, min_count=5))
    assert time.monotonic() - started < 5
    assert rows == [{"id": "1"}]
    assert (report.mode, report.expected, report.fallback) == ("sequential", 1, None)


def test_a_failing_count_stops_the_partitions() -> None:
    async def fetch(filter_: str) -> list[JSON]:
        await asyncio.sleep(30)
        return []

    async def count() -> int | None:
        raise PermissionError("403")

    started = time.monotonic()
    with pytest.raises(PermissionError):
        asyncio.run(collect_partitioned(GUESTS, fetch=fetch, count=count, min_count=0))
    assert time.monotonic() - started < 5


def test_partition_filters_refused_with_400_fall_back_to_sequential() -> None:
    """A service that does not take the ``startswith`` partition filters (HTTP 400) still gives
    the whole list: read sequentially, with the reason reported."""
    from urllib.parse import unquote

    from tests._fault_proxy import Fault, FaultProxy

    refuse = Fault(
        lambda s: "startswith" in unquote(s.query), "status", times=999, status=400,
        code="Request_UnsupportedQuery",
    )  # fmt: skip
    with GraphEmulator(tenant_with(ASCII_ALIASES)) as em:
        sequential = collect(em, page_size=3)
        with FaultProxy(em.base_url, [refuse]) as proxy:

            async def run() -> GraphData:
                client = make_graph_client(base_url=proxy.base_url, credential=None)
                try:
                    return await collect_graph(
                        client, app=None, page_size=3, partitions=8, keep_raw=True
                    )
                finally:
                    await close_graph_client(client)

            refused = asyncio.run(run())
    assert refuse.fired >= 1
    assert by_id(refused) == by_id(sequential)
    detail = refused.statuses["users"].detail
    assert detail["fallback"] == (
        "sequential: the partition filters were refused (HTTP 400 Request_UnsupportedQuery)"
    )
    assert refused.statuses["users"].state is SourceState.OK
