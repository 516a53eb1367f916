"""Pages frozen away from the cyclic GC during a collection, and responses that do not wait for it.

Both matter at scale only (full collections rescanning every page; response bodies kept until
the unfreeze), so the tests check the mechanisms themselves, against the emulator on loopback.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from audit.collectors._heap import freeze_young, pages_frozen, release_on_close
from audit.collectors.graph import close_graph_client, collect_graph, make_graph_client
from audit.demo.emulator import Faults, GraphEmulator
from audit.errors import SourceError
from tests._graph_tenant import make_tenant


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The cyclic GC off, so only reference counting can free an object."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def fetch(url: str, hooks: list[object]) -> weakref.ref[httpx.Response]:
    """GET ``url`` with these response hooks; a weak reference to the response, now dropped."""

    async def run() -> weakref.ref[httpx.Response]:
        async with httpx.AsyncClient(event_hooks={"response": hooks}) as client:
            response = await client.get(url)
            assert response.status_code == 200
            assert response.json()["value"]
            ref = weakref.ref(response)
            del response
            return ref

    return asyncio.run(run())


def test_a_released_response_is_freed_by_reference_counting(no_gc: None) -> None:
    with GraphEmulator(make_tenant()) as em:
        url = f"{em.base_url}/users?$top=2"
        plain = fetch(url, [])
        released = fetch(url, [release_on_close])
    assert plain() is not None  # httpx's response/stream cycle: only the cyclic GC frees it
    assert released() is None


def test_a_released_response_still_reads_and_closes() -> None:
    with GraphEmulator(make_tenant()) as em:

        async def run() -> None:
            async with httpx.AsyncClient(event_hooks={"response": [release_on_close]}) as client:
                async with client.stream("GET", f"{em.base_url}/users?$top=1") as response:
                    body = await response.aread()
                assert response.is_closed
                assert response.elapsed.total_seconds() >= 0
                assert response.json() == httpx.Response(200, content=body).json()
                assert [chunk async for chunk in response.stream] == []

        asyncio.run(run())


@dataclass
class Flag:
    freeze: bool = False


def test_pages_frozen_sets_the_flag_and_unfreezes() -> None:
    flag = Flag()
    assert gc.get_freeze_count() == 0
    with pages_frozen(flag):
        assert flag.freeze
        freeze_young()
        assert gc.get_freeze_count() > 0
    assert not flag.freeze
    assert gc.get_freeze_count() == 0


def test_pages_frozen_leaves_a_process_that_froze_its_own_objects_alone() -> None:
    flag = Flag()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with pages_frozen(flag):
            assert not flag.freeze  # pages are not frozen, and nothing is unfrozen after
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_collection_unfreezes_even_when_it_fails() -> None:
    async def run(url: str) -> None:
        client = make_graph_client(base_url=url, credential=None, retry_delay=0.0)
        try:
            await collect_graph(client, app=None)
        finally:
            await close_graph_client(client)

    with GraphEmulator(make_tenant()) as em:
        asyncio.run(run(em.base_url))
        assert gc.get_freeze_count() == 0
    failing = GraphEmulator(make_tenant(), faults=Faults(outage_after=2))  # users fail
    with failing as em, pytest.raises(SourceError, match="users"):
        asyncio.run(run(em.base_url))
    assert gc.get_freeze_count() == 0
