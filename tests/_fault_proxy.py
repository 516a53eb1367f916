"""``FaultProxy``: an HTTP proxy on loopback, in front of the Graph emulator, that injects faults.

The emulator's own :class:`~audit.demo.emulator.Faults` answer with HTTP statuses; this proxy adds
what a network and a misbehaving gateway do to a collection: connection resets, bodies cut short
(with and without a truthful ``Content-Length``), answers slower than the client's timeout, runs of
429s with any ``Retry-After``, a ``nextLink`` that 404s, a 401 for an expired token. Faults are
:class:`Fault` rules matched against each request in arrival order, so a test says exactly which
request fails and how often; every fault that fired is counted (:attr:`Fault.fired`).

Graph may return fewer items per page than ``$top`` asks for, and so does the proxy: ``page_cap``
lowers ``$top`` on first pages so that small tenants are collected over several pages and a fault
can hit a page in the middle of a chain. Links in the emulator's answers are rewritten to point at
the proxy, so the collector's "nextLink must stay on the Graph host" check holds.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import orjson

__all__ = ["Fault", "FaultProxy", "Seen", "error_body"]


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it: ``number`` counts every request from 1."""

    number: int
    method: str
    path: str
    query: str
    headers: dict[str, str]

    @property
    def next_page(self) -> bool:
        """True for a follow-up page (a ``nextLink`` with a ``$skiptoken``)."""
        return "$skiptoken" in self.query

    def source(self, segment: str) -> bool:
        """True when the path (without ``/v1.0``) contains ``segment``, case-insensitive."""
        return segment.lower() in self.path.lower()


@dataclass
class Fault:
    """A fault for requests matching ``match``: the first ``skip`` pass, the next ``times`` fail.

    ``kind`` is one of ``status`` (answer ``status`` with ``headers`` and a Graph error body),
    ``reset`` (close the connection with a TCP RST before answering), ``truncate`` (forward, then
    send half the body under the full ``Content-Length`` and reset), ``garbage`` (a 200 whose body is
    the first half of the real one, with a matching ``Content-Length``) or ``slow`` (sleep ``delay``
    seconds, then forward). ``on_fire`` runs before the fault is served.
    """

    match: Callable[[Seen], bool]
    kind: str
    times: int = 1
    skip: int = 0
    status: int = 500
    code: str = "generalException"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    on_fire: Callable[[Seen], None] | None = None
    seen: int = 0
    fired: int = 0

    def take(self, request: Seen) -> bool:
        """True when this fault applies to ``request`` (and count it)."""
        if not self.match(request):
            return False
        self.seen += 1
        if self.seen <= self.skip or self.fired >= self.times:
            return False
        self.fired += 1
        return True


def error_body(code: str, message: str) -> bytes:
    """Graph's error envelope."""
    return orjson.dumps({"error": {"code": code, "message": message, "innerError": {}}})


class FaultProxy:
    """Forwards ``http://127.0.0.1:PORT/v1.0/...`` to ``upstream`` (the emulator's base URL)."""

    def __init__(self, upstream: str, faults: list[Fault] | None = None, *, page_cap: int = 0):
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = int(parts.port or 80)
        self.upstream_origin = f"{parts.scheme}://{parts.netloc}".encode()
        self.faults = list(faults or [])
        self.page_cap = page_cap
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self.port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}".encode()
        self.base_url = f"http://127.0.0.1:{self.port}/v1.0"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def fired(self) -> int:
        """Faults served so far, over every rule."""
        return sum(f.fired for f in self.faults)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def decide(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[Seen, Fault | None]:
        """Record the request and pick the first fault that applies to it."""
        parts = urlsplit(target)
        with self._lock:
            seen = Seen(len(self.requests) + 1, method, unquote(parts.path), unquote(parts.query),
                        headers)  # fmt: skip
            self.requests.append(seen)
            fault = next((f for f in self.faults if f.take(seen)), None)
        if fault is not None and fault.on_fire is not None:
            fault.on_fire(seen)
        return seen, fault

    def forward(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Ask the emulator; returns status, headers and the body with links rewritten."""
        target = self._capped(target)
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        try:
            sent = {k: v for k, v in headers.items() if k not in ("host", "connection")}
            conn.request(method, target, headers=sent)
            response = conn.getresponse()
            body = response.read()
            out = {
                k: v
                for k, v in response.getheaders()
                if k.lower() in ("content-type", "retry-after")
            }
            return response.status, out, body.replace(self.upstream_origin, self.origin)
        finally:
            conn.close()

    def _capped(self, target: str) -> str:
        if not self.page_cap or "skiptoken" in target.lower():
            return target
        parts = urlsplit(target)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if not any(k == "$top" for k, _ in query):
            return target
        capped = [(k, str(min(int(v), self.page_cap)) if k == "$top" else v) for k, v in query]
        return f"{parts.path}?{urlencode(capped, safe='$,()')}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[_Handler], proxy: FaultProxy):
        super().__init__(address, handler)
        self.proxy = proxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) breaks the pipe: expected here, not worth a traceback."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        proxy = cast(_Server, self.server).proxy
        headers = {k.lower(): v for k, v in self.headers.items()}
        seen, fault = proxy.decide(self.command, self.path, headers)
        if fault is None:
            self._send(*proxy.forward(self.command, self.path, headers))
        elif fault.kind == "status":
            reply = {"Content-Type": "application/json", **fault.headers}
            self._send(
                fault.status,
                reply,
                error_body(fault.code, f"injected {fault.status} #{seen.number}"),
            )
        elif fault.kind == "reset":
            self._reset()
        elif fault.kind == "slow":
            time.sleep(fault.delay)
            with contextlib.suppress(OSError):
                self._send(*proxy.forward(self.command, self.path, headers))
        else:
            status, reply, body = proxy.forward(self.command, self.path, headers)
            half = body[: len(body) // 2]
            if fault.kind == "garbage":
                self._send(status, reply, half)
                return
            self._send(status, reply, half, length=len(body))
            self._reset()

    def _send(
        self, status: int, headers: dict[str, str], body: bytes, *, length: int | None = None
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _reset(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send a TCP RST."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log."""
