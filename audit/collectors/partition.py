"""Parallel partitioned paging of the guest list: many short ``nextLink`` chains instead of one long one.

Graph pages a list sequentially: each page's ``@odata.nextLink`` is known only when the page arrives,
so 100,000 guests are 101 round trips in a row. Split by the first character of
``userPrincipalName`` (``startswith`` is a default, case-insensitive filter on users), each
partition has its own chain and the chains run side by side. :class:`Slots` bounds the requests in
flight and serves the chain with the most pages read first, so the longest chains, which set the
total time, are not starved by short ones.

Completeness is checked, never assumed: the guest count comes from ``$count`` (an advanced query:
``ConsistencyLevel: eventual``), asked alongside the partitions. One partition per letter, one for
the digits and one for the rest of what Entra allows to lead a UPN (``' . - _ ! # ^ ~``), plus a
catch-all of ``or``-groups for other printable ASCII and Latin letters with diacritics (UPNs Entra
would not create, but tenants hold) run as one wave. If the merged, de-duplicated result is short
of the count, the whole query is read again sequentially. When the count is unavailable, or the
list fits in two pages, the partitions are cancelled and the list is read sequentially.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Sequence,
    Sized,
)
from dataclasses import dataclass
from typing import Any, TypeVar, cast

__all__ = [
    "CATCH_ALL",
    "GROUP_SIZE",
    "PARTITIONS",
    "PREFIXES",
    "PartitionReport",
    "Slots",
    "catch_all_filters",
    "collect_partitioned",
    "merge_by_id",
    "partition_filters",
]

JSON = dict[str, Any]
R = TypeVar("R", bound=Sized)

PARTITIONS: tuple[tuple[str, ...], ...] = (
    *((c,) for c in "abcdefghijklmnopqrstuvwxyz"),
    tuple("0123456789"),
    tuple("'.-_!#^~"),  # the rest of what Entra allows in a UPN
)
"""Leading characters of each partition (a partition asks for any of its characters)."""
PREFIXES: tuple[str, ...] = tuple(c for group in PARTITIONS for c in group)
_ASCII_REST = [c for c in map(chr, range(0x20, 0x7F)) if not c.isalnum() and c not in PREFIXES]
_LATIN = [c for c in map(chr, range(0xDF, 0x180)) if c.isalpha() and c.casefold() == c]
CATCH_ALL: tuple[str, ...] = (*_ASCII_REST, *_LATIN)
"""Leading characters of the catch-all requests."""
GROUP_SIZE = 14
"""``startswith`` clauses per catch-all request (with ``userType eq``: 15 expressions, the limit
Graph documents for ``in`` lists)."""


@dataclass
class PartitionReport:
    """How the guest list was read, for the users source's status detail."""

    mode: str = "sequential"
    expected: int | None = None
    found: int = 0
    partitions: int = 0
    catch_all: int = 0
    fallback: str | None = None

    def to_detail(self) -> JSON:
        """The report as JSON-ready status detail."""
        return {
            "paging": self.mode,
            "expected": self.expected,
            "found": self.found,
            "partitions": self.partitions,
            "catch_all_requests": self.catch_all,
            "fallback": self.fallback,
        }


class Slots:
    """At most ``size`` requests in flight. A waiting request of the chain with the most pages
    read so far gets the next free slot (ties and new chains in arrival order): the longest
    chains, which set the total time, are never starved by short ones."""

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @contextlib.asynccontextmanager
    async def hold(self, *, pages: int = 0) -> AsyncIterator[None]:
        """Hold a slot for one request of a chain that has read ``pages`` pages so far."""
        await self._acquire(pages)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, pages: int) -> None:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-pages, next(self._arrivals), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # the slot was handed over just as we were cancelled
            raise

    def _release(self) -> None:
        while self._waiting:
            future = heapq.heappop(self._waiting)[2]
            if not future.done():
                future.set_result(None)  # hand the slot over
                return
        self.free += 1


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _startswith(prefix: str) -> str:
    return f"startswith(userPrincipalName,{_literal(prefix)})"


def partition_filters(base: str, partitions: Sequence[Sequence[str]] = PARTITIONS) -> list[str]:
    """One ``$filter`` per partition: ``base and startswith(userPrincipalName,'a')``, or
    ``base and (startswith(...) or ...)`` for a partition of several characters."""
    return [f"{base} and {_any_prefix(group)}" for group in partitions]


def catch_all_filters(
    base: str, prefixes: Sequence[str] = CATCH_ALL, group: int = GROUP_SIZE
) -> list[str]:
    """The catch-all requests: ``base and (startswith(...) or ...)``, ``group`` prefixes each."""
    chunks = [prefixes[i : i + group] for i in range(0, len(prefixes), group)]
    return partition_filters(base, chunks)


def _any_prefix(prefixes: Sequence[str]) -> str:
    clauses = [_startswith(p) for p in prefixes]
    return clauses[0] if len(clauses) == 1 else f"({' or '.join(clauses)})"


def merge_by_id(parts: Iterable[list[JSON]]) -> list[JSON]:
    """Concatenate the parts, keeping the first object of each id (a user renamed mid-read shows
    up in two partitions)."""
    merged: dict[str, JSON] = {}
    for part in parts:
        for item in part:
            merged.setdefault(str(item.get("id")), item)
    return list(merged.values())


async def collect_partitioned(
    base: str,
    *,
    fetch: Callable[[str], Coroutine[Any, Any, R]],
    count: Callable[[], Awaitable[int | None]],
    min_count: int,
    refused: Callable[[BaseException], str | None] = lambda _: None,
    merge: Callable[[list[R]], R] | None = None,
) -> tuple[R, PartitionReport]:
    """Every object matching ``base``, read in partitions when that is safe and worth it.

    ``fetch(filter)`` reads one whole chain (the caller bounds concurrency per request), a list of
    objects by default; ``merge`` joins the chains in order, first object of each id winning
    (default :func:`merge_by_id`), and ``len()`` of the result counts its distinct objects;
    ``count()`` is the ``$count`` of ``base`` or None. The partitions start together with the
    count (waiting for it would cost a round trip); when the count is missing or at most
    ``min_count`` they are cancelled and the list is read sequentially. ``refused(error)`` names
    a partition failure that means "this service does not take the partition filters" (a 400):
    then the list is read sequentially too, and the reason is reported; other failures raise.
    """
    join = merge or cast(Callable[[list[R]], R], merge_by_id)
    report = PartitionReport()
    wave, extra = partition_filters(base), catch_all_filters(base)
    chains = asyncio.ensure_future(_all(fetch(f) for f in (*wave, *extra)))
    rows: R | None = None
    try:
        report.expected = await count()
        if report.expected is not None and report.expected > min_count:
            rows = join(await chains)
            report.mode, report.partitions, report.catch_all = "partitioned", len(wave), len(extra)
        else:
            report.fallback = None if report.expected is not None else "no $count available"
    except Exception as exc:
        reason = refused(exc)
        if reason is None:
            raise
        report.fallback = f"sequential: the partition filters were refused ({reason})"
    finally:
        await _settle(chains)
    if rows is not None and len(rows) < (report.expected or 0):
        report.fallback = f"sequential: partitions found {len(rows)} of {report.expected}"
    if rows is None or report.fallback:
        rows = None  # a partial read is let go before the whole list is read again
        rows = await fetch(base)
    report.found = len(rows)
    return rows, report


async def _settle(chains: asyncio.Future[Any]) -> None:
    """Cancel ``chains`` if still running and consume its outcome (no unretrieved exception)."""
    if not chains.done():
        chains.cancel()
        await asyncio.wait([chains])  # the outcome is not raised here; our own cancellation is
    if not chains.cancelled():
        chains.exception()


async def _all(coros: Iterable[Coroutine[Any, Any, R]]) -> list[R]:
    """Run every chain; on the first failure cancel the rest and raise that failure itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coros]
    except BaseExceptionGroup as errors:
        first: BaseException = errors
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]
