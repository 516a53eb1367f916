"""Resolve guest domains while the guests are still being read.

A live collection pages through the guests for seconds to minutes (Graph answers a page in 0.5-2 s);
DNS of their domains mostly waits on the network too. So the collector hands each page of users to
a :class:`DomainFeed` (``collect_graph(on_users=feed.page)``), which picks out the candidate domains
cheaply and resolves new ones in batches, one batch at a time, while the paging goes on.

The pick is deliberately rough (mail, otherMails and de-mangled UPN of guests and invited users);
:meth:`DomainFeed.finish` gets the exact list (:func:`audit.collectors.build.guest_domains` of the
final users table), resolves whatever the feed did not see, and keeps only those domains: the result
is the one a resolution after the collection would give, only earlier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from audit.collectors.dns import DnsResult, merge_results, normalise_domain

JSON = dict[str, Any]
Resolve = Callable[[list[str]], Awaitable[DnsResult]]


class DomainFeed:
    """Domains of user pages resolved in the background, in batches, as they are seen."""

    def __init__(self, resolve: Resolve) -> None:
        self._resolve = resolve
        self._seen: set[str] = set()
        self._pending: list[str] = []
        self._results: list[DnsResult] = []
        self._wake = asyncio.Event()
        self._quiet = asyncio.Event()  # set while no batch is pending or in flight
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start resolving in the background (inside a running loop)."""
        self._task = asyncio.ensure_future(self._run())

    def page(self, items: list[JSON]) -> None:
        """One page of users from Graph: queue the domains not seen yet."""
        self.add(_candidates(items))

    def add(self, domains: Iterable[str]) -> None:
        """Queue these domains unless seen before."""
        fresh = [d for d in dict.fromkeys(domains) if d not in self._seen]
        if fresh:
            self._seen.update(fresh)
            self._pending += fresh
            self._quiet.clear()
            self._wake.set()

    async def idle(self) -> None:
        """Wait until no batch is pending or in flight (or the feed has stopped).

        Call it before a long synchronous step (building the users table): a loop held up for
        longer than the DNS timeout while queries are in flight turns their answers unknown."""
        if self._task is None or self._task.done():
            return
        waiter = asyncio.ensure_future(self._quiet.wait())
        try:
            await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    async def finish(self, domains: list[str]) -> DnsResult:
        """Resolve what is missing of ``domains``, wait for every batch; the result for exactly
        ``domains`` (what :func:`audit.collectors.dns.resolve_domains` of them would give)."""
        self.add(domains)
        self._closed = True
        self._wake.set()
        if self._task is None:
            self.start()
        assert self._task is not None
        await self._task
        return merge_results(self._results, domains)

    def cancel(self) -> None:
        """Stop resolving (the collection failed); an error of a batch nobody waited for is
        dropped with it (the collection's own error is the one reported)."""
        task = self._task
        if task is None:
            return
        if task.done():
            if not task.cancelled():
                task.exception()  # retrieved: asyncio would log it as never retrieved
            return
        task.cancel()

    async def _run(self) -> None:
        """Resolve what is pending, batch after batch; sleep when nothing is; end once closed."""
        while True:
            if not self._pending:
                if self._closed:
                    return
                self._quiet.set()
                await self._wake.wait()
                self._wake.clear()
                continue
            batch, self._pending = self._pending, []
            self._results.append(await self._resolve(batch))


def _candidates(items: list[JSON]) -> set[str]:
    """Rough guest domains of a page: after the last ``@`` of mail and otherMails, and the domain
    a guest UPN (``alias_domain#EXT#@tenant``) carries; normalised like DNS names."""
    raw: set[str] = set()
    for user in items:
        if user.get("userType") != "Guest" and user.get("creationType") != "Invitation":
            continue
        mail, others, upn = user.get("mail"), user.get("otherMails"), user.get("userPrincipalName")
        for value in (mail, *(others if isinstance(others, list) else ())):
            if isinstance(value, str) and "@" in value:
                raw.add(value.rpartition("@")[2])
        if isinstance(upn, str) and "#EXT#" in upn.upper():
            prefix = upn[: upn.upper().index("#EXT#")]
            raw.add(prefix.rpartition("_")[2])
    return {d for d in map(normalise_domain, raw) if d}
