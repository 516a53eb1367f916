"""``DnsServer``: a real DNS server on loopback (UDP and TCP, one port) answering from a demo zone.

The demo tenant and the tests resolve guest domains through the real collector and dnspython's
real resolver, so the server speaks the wire protocol instead of being faked in Python. It runs its
own asyncio loop in a background thread, which makes it usable from sync code, from pytest and
from a notebook whose loop is already running. Per-query latency is an ``asyncio.sleep``, so
concurrent clients overlap as they would against a real resolver.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections import Counter
from collections.abc import Mapping
from types import TracebackType
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from audit.demo.model import DnsZoneEntry

__all__ = ["DnsServer"]

_TTL = 300
_UDP_LIMIT = 512  # RFC 1035 size for clients that do not announce an EDNS buffer size
_BIND_ATTEMPTS = 20
_IN = dns.rdataclass.IN
_RRType = dns.rdatatype.RdataType


class DnsServer:
    """Authoritative-style DNS server for a zone of :class:`DnsZoneEntry`, on UDP and TCP.

    ``start()`` binds both transports to the same port (``port=0`` picks a free one) and returns
    ``(host, port)``; ``stop()`` closes everything and may be called any number of times.
    ``queries`` counts queries received (dropped ones included) and ``query_counts`` counts them per
    ``(name, type)``, which is what tests use to prove the collector asks once per domain and type.
    ``max_in_flight`` is the most queries waiting out their latency at once (client concurrency).
    ``errors`` collects exceptions raised while answering (answered as SERVFAIL); tests assert it
    stays empty. An entry's flags are read on every query (a test may flip ``unanswered`` mid-run);
    its records are turned into RRsets once, on first use.
    """

    def __init__(
        self,
        zone: Mapping[str, DnsZoneEntry],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
    ) -> None:
        self.zone = {_key(name): entry for name, entry in zone.items()}
        self.host = host
        self.port = port
        self.latency = latency
        self.queries = 0
        self.tcp_queries = 0
        self.query_counts: Counter[tuple[str, str]] = Counter()
        self.errors: list[Exception] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._rrsets: dict[tuple[str, int], dns.rrset.RRset | None] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        """``host:port`` (``[host]:port`` for IPv6), as ``--nameserver`` accepts it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``stop()``."""
        return self._thread is not None

    def start(self) -> tuple[str, int]:
        """Bind UDP and TCP, start serving in a background thread and return ``(host, port)``."""
        with self._lock:
            if self._thread is not None:
                return self.host, self.port
            udp, tcp = _bind_pair(self.host, self.port)
            self.port = udp.getsockname()[1]
            ready = threading.Event()
            errors: list[BaseException] = []
            self._thread = threading.Thread(
                target=self._run, args=(udp, tcp, ready, errors), name="demo-dns", daemon=True
            )
            self._thread.start()
            ready.wait()
            if errors:
                self._thread.join()
                self._thread = None
                raise errors[0]
            return self.host, self.port

    def stop(self) -> None:
        """Stop serving and close the sockets; safe to call twice or before ``start()``."""
        with self._lock:
            thread, loop, stopping = self._thread, self._loop, self._stopping
            if thread is None:
                return
            if loop is not None and stopping is not None:
                with contextlib.suppress(RuntimeError):  # loop already closed
                    loop.call_soon_threadsafe(stopping.set)
            thread.join()
            self._thread = self._loop = self._stopping = None

    def __enter__(self) -> DnsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(
        self,
        udp: socket.socket,
        tcp: socket.socket,
        ready: threading.Event,
        errors: list[BaseException],
    ) -> None:
        """Thread body: own event loop, serve until ``stop()`` sets the stopping event."""
        try:
            asyncio.run(self._serve(udp, tcp, ready))
        except BaseException as exc:  # surfaced to start() when it happens during setup
            errors.append(exc)
            udp.close()
            tcp.close()
        finally:
            ready.set()

    async def _serve(self, udp: socket.socket, tcp: socket.socket, ready: threading.Event) -> None:
        """Run both transports until asked to stop, then cancel pending delayed answers."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stopping = asyncio.Event()
        pending: set[asyncio.Task[None]] = set()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self, pending), sock=udp
        )
        server = await asyncio.start_server(lambda r, w: self._tcp_client(r, w, pending), sock=tcp)
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            transport.close()
            server.close()
            for task in list(pending):
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await server.wait_closed()

    async def _tcp_client(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pending: set[asyncio.Task[None]],
    ) -> None:
        """Serve length-prefixed queries on one TCP connection until the client closes it."""
        task = asyncio.current_task()
        if task is not None:
            pending.add(task)
        try:
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                wire = await reader.readexactly(size)
                self.tcp_queries += 1
                reply = await self.answer(wire, tcp=True)
                if reply is not None:
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if task is not None:
                pending.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def answer(self, wire: bytes, *, tcp: bool) -> bytes | None:
        """Answer one query in wire format after the configured latency; None means "drop it"."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # not DNS: a real server would ignore it too
        try:
            response = self.respond(query)
        except Exception as exc:  # a bug here must show up in tests, not as a client timeout
            self.errors.append(exc)
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency > 0:
                await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        if response is None:
            return None
        if tcp:
            return response.to_wire()
        limit = query.payload if query.edns >= 0 else _UDP_LIMIT
        return response.to_wire(max_size=limit, prefer_truncation=True)

    def respond(self, query: dns.message.Message) -> dns.message.Message | None:
        """Build the response message for ``query`` (None when the zone says to drop it)."""
        self.queries += 1
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name = _key(question.name.to_text())
        self.query_counts[(name, dns.rdatatype.to_text(question.rdtype))] += 1
        entry = self.zone.get(name)
        if entry is not None and entry.unanswered:
            return None
        if entry is None or entry.nxdomain:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif entry.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif question.rdclass == _IN:
            rrset = self._rrset(name, question.rdtype, entry)
            if rrset is not None:
                response.answer.append(rrset)
        return response

    def _rrset(self, name: str, rdtype: int, entry: DnsZoneEntry) -> dns.rrset.RRset | None:
        """The answer RRset for one name and type, built once; None when there are no records."""
        key = (name, rdtype)
        if key not in self._rrsets:
            rdatas = _rdatas(entry, rdtype)
            owner = dns.name.from_text(name)
            self._rrsets[key] = dns.rrset.from_rdata_list(owner, _TTL, rdatas) if rdatas else None
        return self._rrsets[key]


class _UdpProtocol(asyncio.DatagramProtocol):
    """Hands each datagram to the server in its own task so latency never serialises queries."""

    def __init__(self, server: DnsServer, pending: set[asyncio.Task[None]]) -> None:
        self.server = server
        self.pending = pending
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        task = asyncio.get_running_loop().create_task(self._reply(data, addr))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _reply(self, data: bytes, addr: tuple[str | object, int]) -> None:
        reply = await self.server.answer(data, tcp=False)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors from clients that went away are normal for a UDP server."""


def _key(name: str) -> str:
    """Zone lookup key: lower-case, without the trailing dot."""
    return name.rstrip(".").lower()


def _rdatas(entry: DnsZoneEntry, rdtype: int) -> list[dns.rdata.Rdata]:
    """Rdata of one type from a zone entry (TXT values over 255 bytes split into strings)."""
    if rdtype == _RRType.TXT:
        return [dns.rdtypes.ANY.TXT.TXT(_IN, _RRType.TXT, _split_txt(value)) for value in entry.txt]
    kind = _RRType(rdtype)
    texts = {
        _RRType.MX: [f"{pref} {host}" for pref, host in entry.mx],
        _RRType.A: entry.a,
        _RRType.AAAA: entry.aaaa,
    }.get(kind, [])
    return [
        dns.rdata.from_text(_IN, kind, text, origin=dns.name.root, relativize=False)
        for text in texts
    ]


def _split_txt(value: str) -> list[bytes]:
    """One TXT value as character-strings of at most 255 bytes (RFC 1035 §3.3.14)."""
    data = value.encode()
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets bound to one ``(host, port)``; retries when a picked port clashes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    attempts = _BIND_ATTEMPTS if port == 0 else 1
    for attempt in range(attempts):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            udp.bind((host, port))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((host, udp.getsockname()[1]))
            tcp.listen(128)
        except OSError:
            udp.close()
            tcp.close()
            if attempt == attempts - 1:
                raise
            continue
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise AssertionError("unreachable")  # pragma: no cover
