"""Notice when the asyncio event loop was held up, so a network timeout can be told from a stall.

While a synchronous step holds the loop (building a large table, the process not scheduled), the
answers of queries in flight arrive in their sockets and the queries' timers fall due; asyncio then
serves both in the same loop pass, and whether the answer or the timeout wins depends on asyncio's
and the client library's internals (on Python 3.12+, where ``asyncio.wait_for`` is built on
``asyncio.timeout``, the timeout usually does). Such a timeout says nothing about the server.

:class:`LoopWatch` is a heartbeat task that checks how late it wakes; the DNS collector asks a
query again when it timed out while the loop was held (:func:`audit.collectors.dns._query`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

__all__ = ["LoopWatch", "watching"]


class LoopWatch:
    """A heartbeat every ``period`` seconds; one that wakes more than ``late`` seconds after it
    was due means the loop was held. Start :meth:`run` as a task (or use :func:`watching`)."""

    def __init__(self, period: float = 0.05, late: float = 0.1) -> None:
        self.period = period
        self.late = late
        self._loop = asyncio.get_running_loop()
        self._beat = self._loop.time()
        self._held_until = -math.inf  # loop time of the first heartbeat after the last hold
        self.holds = 0  # how many holds were seen

    async def run(self) -> None:
        """Beat until cancelled."""
        while True:
            await asyncio.sleep(self.period)
            now = self._loop.time()
            if now - self._beat > self.period + self.late:
                self._held_until = now
                self.holds += 1
            self._beat = now

    def held_since(self, start: float) -> bool:
        """True when the loop was held at some point after ``start`` (loop time), counting a hold
        still going on: the heartbeat is overdue now but has not run yet."""
        overdue = self._loop.time() - self._beat > self.period + self.late
        return overdue or self._held_until > start


@contextlib.asynccontextmanager
async def watching(period: float = 0.05, late: float = 0.1) -> AsyncIterator[LoopWatch]:
    """A running :class:`LoopWatch` (inside a running loop), stopped on exit."""
    watch = LoopWatch(period, late)
    task = asyncio.ensure_future(watch.run())
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
