"""Cheap DNS I/O for the collector: dnspython's resolution logic over a few shared UDP sockets.

``dns.asyncresolver.Resolver.resolve`` opens a fresh UDP endpoint per query and builds a whole
``Message`` per answer, which costs more CPU than the DNS work itself when 10,000 queries run.
:class:`StubResolver` runs the very same resolution loop (dnspython's ``_Resolution``: nameserver
failover, SERVFAIL/REFUSED handling, backoff, lifetime, retry over TCP on truncation, CNAME chaining
in ``Answer``) and changes only how a UDP query to a plain Do53 nameserver travels: through
:class:`UdpMux`, which multiplexes queries by id over a few long-lived sockets.

Queries are built by dnspython (``make_query``; serialised by ``to_wire`` or its byte-identical
shortcut :func:`~audit.collectors._dns_wire.query_wire`). An answer must pass the checks of
``dns.asyncquery.udp``: come from the queried address, parse, and be a response to the query (id,
opcode, question); anything else is ignored as a stray or spoofed packet. A plain answer is read by
:func:`~audit.collectors._dns_wire.plain_answer` with dnspython's wire parser, every other one by
``dns.message.from_wire`` and judged by dnspython's resolver.

Private module: :mod:`audit.collectors.dns` is its only user.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import dns.asyncbackend
import dns.asyncresolver
import dns.entropy
import dns.exception
import dns.inet
import dns.message
import dns.name
import dns.nameserver
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from audit.collectors._dns_wire import Empty, plain_answer, query_wire

__all__ = ["EmptyAnswer", "Records", "StubResolver", "UdpMux", "cut_off_after"]

Records = tuple[dns.rdata.Rdata, ...]  # the distinct records of a plain answer (see _dns_wire)


@dataclass(frozen=True, slots=True)
class EmptyAnswer:
    """A plain answer without records: NOERROR (no data) or NXDOMAIN, and the packet itself."""

    kind: Empty
    wire: bytes

    def message(self) -> dns.message.QueryMessage:
        """The answer as a Message, for the exception dnspython's resolver would raise with it."""
        message = dns.message.from_wire(self.wire)
        assert isinstance(message, dns.message.QueryMessage)  # opcode QUERY, checked as plain
        return message


Outcome = dns.message.Message | Records | EmptyAnswer  # what a UDP query through the mux yields

# A socket carries at most this many queries, then new queries go to a fresh socket (and a fresh
# random source port); the old one closes once its last answer is in. It also bounds the ids in use
# per socket far below the 65,536 possible.
QUERIES_PER_SOCKET = 256
_MAX_DATAGRAM = 65_535


@dataclass(frozen=True)
class _Destination:
    """A nameserver address as the socket layer sees it, parsed once."""

    family: int
    address: Any  # what sendto() takes and recvfrom() returns: (host, port[, flow, scope])
    packed: bytes

    @classmethod
    def of(cls, host: str, port: int) -> _Destination:
        """Parse ``host`` (an IP address, as dnspython accepts it) and ``port``."""
        family = dns.inet.af_for_address(host)
        address = dns.inet.low_level_address_tuple((host, port), family)
        return cls(family, address, dns.inet.inet_pton(family, address[0]))

    def matches(self, source: Any) -> bool:
        """True when a datagram from ``source`` comes from this address (as dnspython checks it)."""
        if source[1:] != self.address[1:]:
            return False
        if source[0] == self.address[0]:
            return True
        try:
            return bool(dns.inet.inet_pton(self.family, source[0]) == self.packed)
        except (dns.exception.SyntaxError, ValueError, OSError):
            return False


@dataclass(slots=True)
class _Pending:
    """One query waiting for its answer on a channel."""

    request: dns.message.Message
    destination: _Destination
    future: asyncio.Future[Outcome]
    query: bytes | None  # the query as sent, when a plain answer may skip building a Message


class _Channel(asyncio.DatagramProtocol):
    """One UDP socket and the queries in flight on it, keyed by query id."""

    def __init__(self, family: int) -> None:
        self.family = family
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, _Pending] = {}
        self.used: set[int] = set()  # ids sent: a late answer never meets a later query
        self.sent = 0
        self.sock: socket.socket | None = None  # the socket itself, for drain()
        self.send_error: OSError | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to send with."""
        self.transport = cast(asyncio.DatagramTransport, transport)

    def drain(self) -> None:
        """Take every answer already waiting in the socket, now.

        asyncio reads one datagram per loop pass and a socket, and runs the timers that fell due
        in that same pass: after the loop was held up (a long synchronous step), all but one of
        the answers waiting here would time out unread. A timer drains the socket first.
        """
        if self.sock is None or not _is_open(self):
            return
        for _ in range(self.sent):  # bounded: at most one answer per query sent
            try:
                data, addr = self.sock.recvfrom(_MAX_DATAGRAM)
            except OSError:  # BlockingIOError: nothing left; anything else: asyncio reports it
                return
            self.datagram_received(data, addr)

    def new_id(self) -> int:
        """A random query id this socket has not sent yet."""
        while True:
            qid = dns.entropy.random_16()
            if qid not in self.used:
                return qid

    def send(self, wire: bytes, destination: _Destination) -> None:
        """Send one query; raise the OSError that sending it met (asyncio reports it aside)."""
        assert self.transport is not None
        self.send_error = None
        self.sent += 1
        self.transport.sendto(wire, destination.address)
        error, self.send_error = self.send_error, None
        if error is not None:
            raise error

    def datagram_received(self, data: bytes, addr: Any) -> None:
        """Hand an answer to its query; ignore whatever is not one (like ``asyncquery.udp``)."""
        if len(data) < 2:
            return
        qid = int.from_bytes(data[:2], "big")
        pending = self.pending.get(qid)
        if pending is None or pending.future.done() or not pending.destination.matches(addr):
            return
        outcome = self._outcome(pending, data)
        if outcome is None:
            return
        del self.pending[qid]
        if isinstance(outcome, Exception):
            pending.future.set_exception(outcome)
        else:
            pending.future.set_result(outcome)

    @staticmethod
    def _outcome(pending: _Pending, data: bytes) -> Outcome | Exception | None:
        """What an answer means for its query: plain records, an empty answer, a Message, None."""
        plain = (
            None if pending.query is None else plain_answer(pending.request, pending.query, data)
        )
        if isinstance(plain, Empty):
            return EmptyAnswer(plain, data)
        return plain if plain is not None else _parse(pending.request, data)

    def error_received(self, exc: Exception) -> None:
        """Remember a send error for :meth:`send`; others cannot be told apart per query.

        An unconnected UDP socket gets no ICMP errors on Linux, so a query whose send failed later
        (from asyncio's send buffer) simply times out, as it would with a fresh socket per query.
        """
        if isinstance(exc, OSError):
            self.send_error = exc

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail what is still in flight (only a broken socket closes with queries pending)."""
        error = exc if isinstance(exc, OSError) else OSError(f"UDP socket closed: {exc}")
        for pending in self.pending.values():
            if not pending.future.done():
                pending.future.set_exception(error)
        self.pending.clear()
        if not self.closed.done():
            self.closed.set_result(None)


def _parse(request: dns.message.Message, wire: bytes) -> dns.message.Message | Exception | None:
    """Parse an answer as ``dns.asyncquery.receive_udp(ignore_errors=True)`` does; None = ignore."""
    try:
        response = dns.message.from_wire(
            wire,
            keyring=request.keyring,
            request_mac=request.mac,
            raise_on_truncation=True,
        )
    except dns.message.Truncated as truncated:
        partial = truncated.message()  # type: ignore[no-untyped-call]
        return truncated if request.is_response(partial) else None
    except Exception:  # malformed or unverifiable: a stray packet, as dnspython treats it
        return None
    return response if request.is_response(response) else None


class UdpMux:
    """Sends DNS queries over a few shared UDP sockets and matches answers to queries by id.

    A socket takes ``queries_per_socket`` queries, each with an id it has not used before, then
    the next one opens. Sockets are opened lazily, inside the running loop; :meth:`aclose` closes
    them all.
    """

    def __init__(self, *, queries_per_socket: int = QUERIES_PER_SOCKET) -> None:
        if not 0 < queries_per_socket <= 4096:
            raise ValueError(f"queries_per_socket must be 1-4096, got {queries_per_socket}")
        self._limit = queries_per_socket
        self._current: dict[int, _Channel] = {}
        self._channels: set[_Channel] = set()
        self._destinations: dict[tuple[str, int], _Destination] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def query(
        self,
        request: dns.message.Message,
        host: str,
        port: int,
        timeout: float,
        *,
        plain: bool = False,
    ) -> Outcome:
        """Send ``request`` and return its answer; ``dns.exception.Timeout`` after ``timeout`` s.

        With ``plain``, a plain answer comes back as its :data:`Records` or as an
        :class:`EmptyAnswer` instead of a Message.
        Raises what ``dns.asyncquery.udp(raise_on_truncation=True)`` would: ``Truncated`` for a
        truncated answer, ``OSError`` when the query cannot be sent.
        """
        destination = self._destination(host, port)
        channel = self._current.get(destination.family)
        if channel is None or channel.sent >= self._limit:
            channel = await self._fresh_channel(destination.family)
        loop = asyncio.get_running_loop()
        if request.id in channel.used:
            request.id = channel.new_id()
        qid = request.id
        channel.used.add(qid)
        wire = query_wire(request)
        future: asyncio.Future[Outcome] = loop.create_future()
        channel.pending[qid] = _Pending(request, destination, future, wire if plain else None)
        timer = loop.call_later(timeout, _expire, channel, future, timeout)
        try:
            channel.send(wire, destination)
            return await future
        finally:
            timer.cancel()
            if (pending := channel.pending.get(qid)) is not None and pending.future is future:
                del channel.pending[qid]
            self._release(channel)

    @property
    def open_sockets(self) -> int:
        """How many sockets are open (not closing)."""
        return sum(_is_open(channel) for channel in self._channels)

    async def aclose(self) -> None:
        """Close every socket and wait until asyncio has let go of them."""
        self._current.clear()
        channels = list(self._channels)
        for channel in channels:
            _close(channel)
        await asyncio.gather(*(channel.closed for channel in channels))

    def _destination(self, host: str, port: int) -> _Destination:
        """The parsed address of a nameserver, cached per ``(host, port)``."""
        key = (host, port)
        destination = self._destinations.get(key)
        if destination is None:
            destination = self._destinations[key] = _Destination.of(host, port)
        return destination

    async def _fresh_channel(self, family: int) -> _Channel:
        """A socket for new queries of ``family`` when the current one is used up (or none is)."""
        async with self._locks.setdefault(family, asyncio.Lock()):  # one opens, the others wait
            channel = self._current.get(family)
            if channel is None or channel.sent >= self._limit:
                if channel is not None:
                    del self._current[family]
                    self._release(channel)
                channel = self._current[family] = await _open(family)
                self._channels.add(channel)
                channel.closed.add_done_callback(functools.partial(self._forget, channel))
            return channel

    def _forget(self, channel: _Channel, _: object) -> None:
        """Drop a closed channel."""
        self._channels.discard(channel)

    def _release(self, channel: _Channel) -> None:
        """Close a socket that takes no new queries once nothing is in flight on it."""
        if not channel.pending and self._current.get(channel.family) is not channel:
            _close(channel)


async def _open(family: int) -> _Channel:
    """A UDP socket bound to a random port of the any-address, as a :class:`_Channel`."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        loop = asyncio.get_running_loop()
        _, channel = await loop.create_datagram_endpoint(lambda: _Channel(family), sock=sock)
    except BaseException:
        sock.close()
        raise
    channel.sock = sock
    return channel


def _is_open(channel: _Channel) -> bool:
    """True until the channel's socket starts closing."""
    return channel.transport is not None and not channel.transport.is_closing()


def _close(channel: _Channel) -> None:
    """Close a channel's socket (its ``closed`` future resolves once asyncio has closed it)."""
    if channel.transport is not None and not channel.transport.is_closing():
        channel.transport.close()


def _expire(channel: _Channel, future: asyncio.Future[Outcome], timeout: float) -> None:
    """Time a query out the way dnspython's asyncio backend reports it, unless its answer is
    already waiting in the socket (:meth:`_Channel.drain`)."""
    if not future.done():
        channel.drain()
    if not future.done():
        future.set_exception(dns.exception.Timeout(timeout=timeout))  # type: ignore[no-untyped-call]


@asynccontextmanager
async def cut_off_after(seconds: float) -> AsyncIterator[None]:
    """Like ``asyncio.timeout(seconds)``, except that work whose answer is already in is not cut.

    After the loop was held up past the limit, the timers that fell due run in one loop pass:
    a query's own timer (due earlier) reads its answer from the socket, but the task awaiting it
    only resumes in the next pass, and ``asyncio.timeout`` would cancel it first, turning an
    answered query into a timeout. Here the cut waits for that next pass, and happens only if the
    work has not finished by then. Raises ``TimeoutError`` like ``asyncio.timeout``.
    """
    loop = asyncio.get_running_loop()
    open_ = [True]

    def cut(limit: asyncio.Timeout) -> None:
        if open_[0]:
            limit.reschedule(loop.time())

    async with asyncio.timeout(None) as limit:
        handle = loop.call_later(seconds, loop.call_soon, cut, limit)
        try:
            yield
        finally:
            open_[0] = False
            handle.cancel()


@dataclass
class StubResolver:
    """``Resolver.resolve(qname, rdtype, lifetime=..., search=False)`` with UDP through a mux.

    Same configuration (nameservers, ports, timeout, EDNS, flags, rotate, retry_servfail, cache,
    TSIG), same outcome and exceptions as ``dns.asyncresolver.Resolver.resolve``, whose loop this
    is: only a UDP query to a plain ``Do53Nameserver`` takes another path. Use :meth:`of`.
    """

    resolver: dns.asyncresolver.Resolver
    mux: UdpMux = field(default_factory=UdpMux)

    @classmethod
    def of(cls, resolver: dns.asyncresolver.Resolver) -> StubResolver | None:
        """A stub resolver running ``resolver``'s configuration, or None when it cannot.

        A subclass may resolve differently, so only dnspython's own class qualifies; so does only a
        dnspython that still has the resolution helper this loop shares with its resolver.
        """
        if type(resolver) is not dns.asyncresolver.Resolver:
            return None
        shared = hasattr(dns.resolver, "_Resolution") and hasattr(resolver, "_compute_timeout")
        return cls(resolver) if shared else None

    async def resolve(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, lifetime: float
    ) -> Records | dns.rrset.RRset:
        """The answer records for ``qname``/``rdtype`` (class IN, no search list).

        Raises what ``dns.asyncresolver.Resolver.resolve`` raises (NXDOMAIN, NoAnswer,
        NoNameservers, LifetimeTimeout, ...); a plain answer skips building its ``Answer``.
        """
        resolver = self.resolver
        resolution = dns.resolver._Resolution(
            resolver, qname, rdtype, dns.rdataclass.IN, False, True, False
        )
        start = time.time()  # the clock dnspython's resolver measures the lifetime with
        while True:
            request, answer = resolution.next_request()
            if answer is not None:  # from the resolver's cache
                return _records(answer)
            assert request is not None
            done = False
            while not done:
                nameserver, tcp, backoff = resolution.next_nameserver()
                if backoff:
                    await asyncio.sleep(backoff)
                request.set_random_id()  # type: ignore[no-untyped-call]
                timeout = resolver._compute_timeout(start, lifetime, resolution.errors)
                try:
                    response = await self._query(request, nameserver, tcp, timeout)
                except Exception as ex:
                    _, done = resolution.query_result(None, ex)
                    continue
                if isinstance(response, EmptyAnswer):
                    done = _empty(resolution, response)
                    continue
                if not isinstance(response, dns.message.Message):
                    return response  # NOERROR with records: query_result would return them
                answer, done = resolution.query_result(response, None)
                if answer is not None:
                    return _records(answer)

    async def _query(
        self,
        request: dns.message.QueryMessage,
        nameserver: dns.nameserver.Nameserver,
        tcp: bool,
        timeout: float,
    ) -> Outcome:
        """One attempt: plain Do53 over UDP through the mux, anything else as dnspython does it.

        A cached resolver must see every response (query_result fills the cache): no shortcut.
        """
        if not tcp and type(nameserver) is dns.nameserver.Do53Nameserver:
            plain = not self.resolver.cache
            return await self.mux.query(
                request, nameserver.address, nameserver.port, timeout, plain=plain
            )
        response: dns.message.Message = await nameserver.async_query(
            request,
            timeout=timeout,
            source=None,
            source_port=0,
            max_size=tcp,
            backend=dns.asyncbackend.get_default_backend(),
        )
        return response

    async def aclose(self) -> None:
        """Close the sockets."""
        await self.mux.aclose()


def _records(answer: dns.resolver.Answer) -> dns.rrset.RRset:
    """The RRset of an answer, which has one: the resolver raised NoAnswer otherwise."""
    assert answer.rrset is not None
    return answer.rrset


def _empty(resolution: dns.resolver._Resolution, empty: EmptyAnswer) -> bool:
    """What ``query_result`` does with an answer without records (it cannot fail validation).

    NOERROR: raise NoAnswer. NXDOMAIN: note the response and end this name (True), so that
    ``next_request`` raises NXDOMAIN with every name tried, as dnspython's loop does.
    """
    message = empty.message()
    if empty.kind is Empty.NODATA:
        raise dns.resolver.NoAnswer(response=message)  # type: ignore[no-untyped-call]
    resolution.nxdomain_responses[resolution.qname] = message
    return True
