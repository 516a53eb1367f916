"""Guest domains resolved while the pages come in: the same result as resolving afterwards."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pandas as pd
import pytest

from audit.collectors import dns
from audit.collectors.build import guest_domains
from audit.collectors.dns_feed import DomainFeed, _candidates
from audit.collectors.graph import close_graph_client, collect_graph, make_graph_client
from audit.collectors.tables import users_table
from audit.demo.dnsserver import DnsServer
from audit.demo.emulator import GraphEmulator
from audit.demo.tenant import generate_tenant
from audit.errors import ConfigError

JSON = dict[str, Any]


def guest(mail: Any, upn: str = "x_y.example#EXT#@t.onmicrosoft.com", **kw: Any) -> JSON:
    return {"userType": "Guest", "mail": mail, "userPrincipalName": upn, **kw}


def test_candidates_are_rough_guest_domains() -> None:
    page = [
        guest("Jo@Contoso.COM", otherMails=["a@b.example.", "no-at", 7]),
        guest(None, upn="jo_bücher.example#ext#@t.onmicrosoft.com"),
        {"userType": "Member", "mail": "me@internal.example"},  # a member: not a guest domain
        {"userType": "Member", "creationType": "Invitation", "mail": "i@invited.example"},
        guest("bad@exa mple.com"),  # not a DNS name
    ]
    assert _candidates(page) == {
        "contoso.com",
        "b.example",
        "y.example",
        "xn--bcher-kva.example",
        "invited.example",
    }


def resolver(address: str) -> Any:
    def resolve(batch: list[str]) -> Any:
        return dns.resolve_domains(batch, nameservers=[address], timeout=1.0)

    return resolve


def test_finish_gives_what_resolving_the_final_list_gives() -> None:
    """Pages with extra domains and without some: the result covers exactly the final list."""
    tenant = generate_tenant(60, 12, seed=3)
    users = users_table(tenant.users)
    final = guest_domains(users)
    pages = [tenant.users[i : i + 7] for i in range(0, len(tenant.users), 7)]

    async def run(address: str) -> tuple[dns.DnsResult, dns.DnsResult, int]:
        feed = DomainFeed(resolver(address))
        feed.start()
        feed.page([guest("x@not-in-the-final-list.example")])
        for page in pages[: len(pages) // 2]:  # half the pages: the rest is resolved at the end
            feed.page(page)
            await asyncio.sleep(0)
        merged = await feed.finish(final)
        direct = await dns.resolve_domains(final, nameservers=[address], timeout=1.0)
        return merged, direct, len(feed._results)

    with DnsServer(tenant.dns) as server:
        merged, direct, batches = asyncio.run(run(server.address))
    assert batches > 1
    pd.testing.assert_frame_equal(merged.table, direct.table)
    assert merged.answers == direct.answers
    assert merged.status.state == direct.status.state
    assert merged.status.rows == direct.status.rows == len(final)
    assert merged.status.detail["queries"] >= direct.status.detail["queries"]
    assert "not-in-the-final-list.example" not in set(merged.table["domain"])


def test_domains_are_resolved_while_the_guests_are_still_read() -> None:
    """With slow Graph pages, DNS answers arrive before the collection ends."""
    tenant = generate_tenant(40, 8, seed=4)
    resolved_during: list[int] = []

    async def run(url: str, address: str) -> dns.DnsResult:
        feed = DomainFeed(resolver(address))
        feed.start()
        client = make_graph_client(base_url=url, credential=None)
        try:
            data = await collect_graph(client, app=None, page_size=5, on_users=feed.page)
        finally:
            await close_graph_client(client)
        resolved_during.append(sum(len(r.table) for r in feed._results))
        return await feed.finish(guest_domains(data.tables["users"]))

    with GraphEmulator(tenant) as em, DnsServer(tenant.dns) as server:
        em.latency = 0.05
        result = asyncio.run(run(em.base_url, server.address))
    assert resolved_during[0] > 0
    assert result.status.rows == len(guest_domains(users_table(tenant.users)))


def failing(batch: list[str]) -> Any:
    """A resolution that cannot start: no nameserver to ask."""
    return dns.resolve_domains(batch, nameservers=[])


def test_an_error_of_a_batch_is_raised_by_finish() -> None:
    async def run() -> None:
        feed = DomainFeed(failing)
        feed.start()
        feed.page([guest("a@a.example")])
        await feed.finish(["a.example"])

    with pytest.raises(ConfigError, match="nameservers is empty"):
        asyncio.run(run())


def test_cancel_after_a_failed_batch_retrieves_its_error() -> None:
    async def run() -> None:
        feed = DomainFeed(failing)
        feed.start()
        feed.page([guest("a@a.example")])
        await asyncio.sleep(0.01)
        feed.cancel()  # the collection failed: nothing may log "exception never retrieved"

    errors: list[Any] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: errors.append(ctx))
        await run()

    asyncio.run(main())
    gc.collect()
    assert errors == []


def test_idle_waits_for_the_batches_in_flight() -> None:
    tenant = generate_tenant(30, 6, seed=5)

    async def run(address: str) -> int:
        feed = DomainFeed(resolver(address))
        feed.start()
        await feed.idle()  # nothing queued: returns at once
        feed.page(tenant.users)
        await feed.idle()
        resolved = sum(len(r.table) for r in feed._results)
        await feed.finish(guest_domains(users_table(tenant.users)))
        return resolved

    with DnsServer(tenant.dns, latency=0.05) as server:
        resolved = asyncio.run(run(server.address))
    assert resolved == len(_candidates(tenant.users)) > 0
