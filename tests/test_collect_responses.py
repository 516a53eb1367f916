"""The Graph client's HTTP side: responses that do not wait for the cyclic GC, a connection pool
closed with the client, the environment's proxy for the Graph host.

Checked against the emulator on loopback, through httpx itself.
"""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Iterator

import httpx
import pytest

from audit.collectors.graph import close_graph_client, collect_graph, make_graph_client
from audit.collectors.graph_client import _proxy_for, release_on_close
from audit.demo.emulator import GraphEmulator
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


def test_closing_the_client_closes_its_connections() -> None:
    with GraphEmulator(make_tenant()) as em:
        server = em._server
        assert server is not None

        async def run() -> None:
            client = make_graph_client(base_url=em.base_url, credential=None)
            try:
                await collect_graph(client, app=None)
                assert server._open  # kept alive in the pool
            finally:
                await close_graph_client(client)

        asyncio.run(run())
        deadline = time.monotonic() + 5
        while server._open and time.monotonic() < deadline:  # the server sees them end
            time.sleep(0.02)
        assert not server._open


def test_the_environment_proxy_is_used_for_the_graph_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    graph = "https://graph.microsoft.com/v1.0"
    assert _proxy_for(graph) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert _proxy_for(graph) == "http://proxy.example:3128"
    assert _proxy_for("http://127.0.0.1:8080/v1.0") is None  # the emulator: never proxied
    monkeypatch.setenv("NO_PROXY", "graph.microsoft.com")
    assert _proxy_for(graph) is None
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setenv("ALL_PROXY", "http://all.example:8080")
    assert _proxy_for(graph) == "http://all.example:8080"
