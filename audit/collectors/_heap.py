"""Keep a large collection's pages away from the cyclic garbage collector.

Pausing the GC while a page parses (``graph_io._parse``) is not enough: the pages pile up, and every
full collection the growing heap triggers scans all of them again. At 100,000 guests with
sign-in activity (120-user pages, 860 requests) that was a third of the collection's CPU. So each
parsed page is frozen (:func:`gc.freeze`: never scanned again, still freed by reference counting)
for the length of the collection, and unfrozen at its end.

Freezing has one trap: an object that is frozen while alive and becomes cyclic garbage later is
not collected until the unfreeze. httpx makes every response such a cycle (the response holds
its stream, the stream holds the response), and a response is alive, with its whole body, while
other pages are parsed and frozen; 100,000 guests kept 146 MB of bodies that way. The response
hook :func:`release_on_close` breaks that cycle as soon as the body has been read, so a response
is freed by reference counting like everything else.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

import httpx


class Freezable(Protocol):
    """What :func:`pages_frozen` switches: the collector's per-page freeze flag."""

    freeze: bool


@contextlib.contextmanager
def pages_frozen(graph: Freezable) -> Iterator[None]:
    """Set ``graph.freeze`` for the block (its pages are frozen as they are parsed); unfreeze at
    the end. Left alone when the process froze objects of its own: unfreezing would release those
    too."""
    if gc.get_freeze_count():
        yield
        return
    graph.freeze = True
    try:
        yield
    finally:
        graph.freeze = False
        gc.unfreeze()


def freeze_young() -> None:
    """Collect what is not frozen yet (this page, and the garbage since the last freeze: cheap,
    frozen objects are not scanned), then freeze what is left."""
    gc.collect()
    gc.freeze()


async def release_on_close(response: httpx.Response) -> None:
    """httpx response hook: once the body is read and the stream closed, the response no longer
    refers to its stream, so it is not part of a reference cycle."""
    response.stream = _Releasing(response)


class _Releasing(httpx.AsyncByteStream):
    """Wraps a response's stream; on close, detaches itself from the response."""

    def __init__(self, response: httpx.Response) -> None:
        stream = response.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise TypeError("release_on_close needs an async client")
        self._stream: httpx.AsyncByteStream = stream
        self._response: httpx.Response | None = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()  # httpx's own stream: sets response.elapsed
        finally:
            response, self._response = self._response, None
            if response is not None:
                response.stream = _CLOSED


class _Closed(httpx.AsyncByteStream):
    """The stream a read and closed response keeps: empty."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        return
        yield  # pragma: no cover


_CLOSED = _Closed()
