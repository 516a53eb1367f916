"""The DNS collector over dnspython's public resolver, for answers and failures off the happy path.

Odd answers (CNAME chains, letter case, duplicates, extra sections, error rcodes), truncation,
nameserver failover, stray and spoofed packets, and an event loop held up while answers arrive: each
must end in the right tri-state answer, never a silent wrong one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
import pandas as pd
import pytest

from audit.collectors.dns import DnsResult, resolve_domains, resolve_domains_sync
from audit.collectors.loop_watch import LoopWatch, watching
from audit.demo.dnsserver import DnsServer
from audit.demo.model import DnsZoneEntry as Entry

TIMEOUT = 0.4
IN = dns.rdataclass.IN


def configured(*servers: Any, **attrs: Any) -> dns.asyncresolver.Resolver:
    """dnspython's resolver for ``servers`` (anything with host and port), set up like ours."""
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(s.host, s.port) for s in servers]
    resolver.timeout = resolver.lifetime = TIMEOUT
    for name, value in attrs.items():
        setattr(resolver, name, value)
    return resolver


def resolved(domains: list[str], *servers: Any, **attrs: Any) -> DnsResult:
    """Resolve ``domains`` through a resolver configured for ``servers`` and ``attrs``."""
    return resolve_domains_sync(domains, resolver=configured(*servers, **attrs), timeout=TIMEOUT)


def row(result: DnsResult, domain: str) -> dict[str, Any]:
    [record] = result.table[result.table["domain"] == domain].to_dict("records")
    return {str(k): (None if isinstance(v, float) and pd.isna(v) else v) for k, v in record.items()}


def rrset(owner: str, rdtype: str, *values: str) -> dns.rrset.RRset:
    return dns.rrset.from_text(owner, 300, "IN", rdtype, *values)


def _records_at(name: str, rdtype: int) -> list[dns.rrset.RRset]:
    """What the CNAME targets hold."""
    if name == "target.example" and rdtype == dns.rdatatype.TXT:
        return [
            rrset("target.example.", "TXT", '"v=spf1 -all"', '"atlassian-domain-verification=t"')
        ]
    if name == "target.example" and rdtype == dns.rdatatype.MX:
        return [rrset("target.example.", "MX", "10 mx.target.example.")]
    return []


def _odd(name: str, query: dns.message.Message) -> dns.message.Message | None:
    """Hand-made answers for the odd names, None for the ordinary zone."""
    rdtype = query.question[0].rdtype
    response = dns.message.make_response(query)
    add = response.answer.append
    if name == "alias.example":
        add(rrset("alias.example.", "CNAME", "target.example."))
        response.answer += _records_at("target.example", rdtype)
    elif name == "chain.example":
        add(rrset("chain.example.", "CNAME", "hop.example."))
        add(rrset("hop.example.", "CNAME", "target.example."))
        response.answer += _records_at("target.example", rdtype)
    elif name == "dangling.example":
        add(rrset("dangling.example.", "CNAME", "nowhere.example."))
    elif name == "cnamenx.example":
        add(rrset("cnamenx.example.", "CNAME", "nowhere.example."))
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif name == "loop.example":
        for i in range(17):
            owner = "loop.example." if i == 0 else f"l{i}.loop.example."
            add(rrset(owner, "CNAME", f"l{i + 1}.loop.example."))
    elif name == "upper.example":
        response.question[0] = dns.rrset.RRset(dns.name.from_text("UPPER.EXAMPLE."), IN, rdtype)
        if rdtype == dns.rdatatype.TXT:
            add(rrset("Upper.Example.", "TXT", '"case"'))
        elif rdtype == dns.rdatatype.MX:
            add(rrset("uPPER.example.", "MX", "5 MX.Upper.Example."))
    elif name == "dupes.example":
        if rdtype == dns.rdatatype.TXT:
            add(rrset("dupes.example.", "TXT", '"a"', '"ab"', '"a" "b"'))
            add(rrset("dupes.example.", "TXT", '"a"'))
        elif rdtype == dns.rdatatype.MX:
            add(rrset("dupes.example.", "MX", "10 MX.Dupes.Example."))
            add(rrset("dupes.example.", "MX", "10 mx.dupes.example.", "20 mx2.dupes.example."))
    elif name == "sections.example":
        response.authority.append(rrset("example.", "NS", "ns.example."))
        response.additional.append(rrset("ns.example.", "A", "192.0.2.53"))
        if rdtype == dns.rdatatype.TXT:
            add(rrset("sections.example.", "TXT", '"with extras"'))
    elif name == "nodata-soa.example":
        soa = "ns.example. admin.example. 1 3600 600 86400 60"
        response.authority.append(rrset("example.", "SOA", soa))
    elif name == "wrongtype.example":
        add(rrset("wrongtype.example.", "A", "192.0.2.9"))
    elif name == "otherowner.example":
        add(rrset("elsewhere.example.", "TXT", '"not mine"'))
    elif name in _RCODES:
        response.set_rcode(_RCODES[name])
    else:
        return None
    return response


_RCODES = {
    "refused.example": dns.rcode.REFUSED,
    "formerr.example": dns.rcode.FORMERR,
    "notimp.example": dns.rcode.NOTIMP,
    "yx.example": dns.rcode.YXDOMAIN,
}
ODD = [
    "alias.example", "chain.example", "dangling.example", "cnamenx.example", "loop.example",
    "upper.example", "dupes.example", "sections.example", "nodata-soa.example",
    "wrongtype.example", "otherowner.example", *_RCODES,
]  # fmt: skip
BIG_TXT = [f"record-{i:02d}-" + "z" * 90 for i in range(12)]
ZONE = {
    "plain.example": Entry(txt=["hello"], mx=[(10, "mx.plain.example")]),
    "aonly.example": Entry(a=["192.0.2.1"], aaaa=["2001:db8::1"]),
    "big.example": Entry(txt=BIG_TXT, mx=[(10, "mx.big.example")]),
    "nx.example": Entry(nxdomain=True),
    "fail.example": Entry(servfail=True),
    "silent.example": Entry(unanswered=True),
}


class OddServer(DnsServer):
    """The loopback server, with hand-made answers for the names in :data:`ODD`."""

    def respond(self, query: dns.message.Message) -> dns.message.Message | None:
        name = query.question[0].name.to_text().rstrip(".").lower()
        odd = _odd(name, query)
        if odd is None:
            return super().respond(query)
        self.queries += 1
        return odd


@pytest.fixture(scope="module")
def odd() -> Iterator[OddServer]:
    srv = OddServer(ZONE)
    with srv:
        yield srv
    assert srv.errors == []


def test_odd_answers(odd: OddServer) -> None:
    result = resolved([*ODD, *ZONE], odd)
    target: dict[str, Any] = {"txt": ["atlassian-domain-verification=t", "v=spf1 -all"]}
    target |= {"mx": ["10 mx.target.example."], "mail_state": "deliverable"}
    for name in ("alias.example", "chain.example"):
        assert {k: row(result, name)[k] for k in target} == target
    assert row(result, "dangling.example")["mail_state"] == "no_mail_host"
    assert row(result, "cnamenx.example")["nxdomain"]
    assert row(result, "loop.example")["txt_error"] == "The CNAME chain is too long."
    assert row(result, "upper.example")["txt"] == ["case"]
    assert row(result, "upper.example")["mx"] == ["5 mx.upper.example."]
    assert row(result, "dupes.example")["txt"] == ["a", "ab", "ab"]
    assert row(result, "dupes.example")["mx"] == ["10 mx.dupes.example.", "20 mx2.dupes.example."]
    assert row(result, "sections.example")["txt"] == ["with extras"]
    assert row(result, "nodata-soa.example")["txt_state"] == "absent"
    assert row(result, "wrongtype.example")["txt_state"] == "absent"
    assert row(result, "otherowner.example")["txt_state"] == "absent"
    assert row(result, "refused.example")["txt_error"] == "REFUSED"
    assert row(result, "formerr.example")["txt_error"] == "FORMERR"
    assert row(result, "yx.example")["txt_state"] == "unknown"
    assert row(result, "big.example")["txt"] == sorted(BIG_TXT)
    assert row(result, "silent.example")["txt_error"] == "timeout"


def test_truncated_answer_is_retried_over_tcp() -> None:
    with DnsServer(ZONE) as srv:
        result = resolve_domains_sync(["big.example"], nameservers=[srv.address], timeout=TIMEOUT)
    assert row(result, "big.example")["txt"] == sorted(BIG_TXT)
    assert srv.tcp_queries == 1  # TXT only: the MX answer fits in UDP


class _Refusing(DnsServer):
    """A server that refuses everything (a resolver not serving us)."""

    def respond(self, query: dns.message.Message) -> dns.message.Message | None:
        response = super().respond(query)
        if response is not None:
            response.answer.clear()
            response.set_rcode(dns.rcode.REFUSED)
        return response


@pytest.fixture(scope="module")
def failing() -> Iterator[dict[str, DnsServer]]:
    servers = {
        "good": DnsServer(ZONE),
        "servfail": DnsServer(dict.fromkeys(ZONE, Entry(servfail=True))),
        "refused": _Refusing(ZONE),
        "silent": DnsServer(dict.fromkeys(ZONE, Entry(unanswered=True))),
    }
    for srv in servers.values():
        srv.start()
    yield servers
    for srv in servers.values():
        srv.stop()


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (["servfail", "good"], ("found", None)),
        (["refused", "good"], ("found", None)),
        (["good", "servfail"], ("found", None)),
        (["servfail", "refused"], ("unknown", "SERVFAIL; REFUSED")),
        (["silent", "good"], ("unknown", "timeout")),  # the timeout is the whole lifetime
    ],
)
def test_failover_between_nameservers_matches_dnspython(
    failing: dict[str, DnsServer], order: list[str], expected: tuple[str, str | None]
) -> None:
    result = resolved(["plain.example"], *(failing[name] for name in order))
    got = row(result, "plain.example")
    assert (got["mx_state"], got["mx_error"]) == expected


def test_rotate_and_retry_servfail(failing: dict[str, DnsServer]) -> None:
    result = resolved(["plain.example"], failing["servfail"], failing["good"], rotate=True)
    assert row(result, "plain.example")["mx_state"] == "found"
    retried = resolved(["plain.example"], failing["servfail"], retry_servfail=True)
    assert row(retried, "plain.example")["mx_error"] == "timeout"  # retried until the lifetime


def test_system_resolver_configuration_is_honoured(odd: OddServer, tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\nsearch corp.example\noptions edns0 timeout:1\n")
    resolver = dns.asyncresolver.Resolver(filename=str(conf))
    resolver.port, resolver.use_search_by_default = odd.port, True
    result = resolve_domains_sync(["plain.example", "sections.example"], resolver=resolver)
    assert row(result, "plain.example")["txt"] == ["hello"]
    assert row(result, "sections.example")["txt"] == ["with extras"]
    assert ("plain.example.corp.example", "TXT") not in odd.query_counts  # search=False


def test_a_cache_is_filled_and_used(odd: OddServer) -> None:
    resolver = configured(odd, cache=dns.resolver.Cache())
    first = resolve_domains_sync(["alias.example", "plain.example"], resolver=resolver)
    before = odd.queries
    second = resolve_domains_sync(["alias.example", "plain.example"], resolver=resolver)
    assert odd.queries == before  # every answer came from the cache
    pd.testing.assert_frame_equal(first.table, second.table)


def test_a_send_error_fails_the_query_at_once() -> None:
    broadcast = type("Server", (), {"host": "255.255.255.255", "port": 53})()
    started = time.monotonic()
    result = resolved(["plain.example"], broadcast)  # no SO_BROADCAST: sendto() is refused
    assert time.monotonic() - started < TIMEOUT
    assert row(result, "plain.example")["txt_error"] == "[Errno 13] Permission denied"


Reply = Callable[[dns.message.Message], list[tuple[bytes, bool]]]


class Responder:
    """A raw UDP responder on loopback: sends what ``reply`` makes, some via a second socket.

    ``reply(query)`` returns ``(wire, spoofed)`` pairs; spoofed ones leave from another port, as a
    packet from someone else would. ``seen`` records ``(source port, query id)`` per query.
    """

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.seen: list[tuple[int, int]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.other.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.host, self.port = self.sock.getsockname()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Responder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join()
        self.sock.close()
        self.other.close()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            self.seen.append((addr[1], query.id))
            for wire, spoofed in self.reply(query):
                (self.other if spoofed else self.sock).sendto(wire, addr)


def _answer(query: dns.message.Message, text: str, name: str | None = None) -> bytes:
    response = dns.message.make_response(query)
    question = query.question[0]
    owner = question.name if name is None else dns.name.from_text(name)
    if name is not None:
        response.question[0] = dns.rrset.RRset(owner, IN, question.rdtype)
    if question.rdtype == dns.rdatatype.TXT:
        response.answer.append(dns.rrset.from_text(owner, 60, "IN", "TXT", f'"{text}"'))
    elif question.rdtype == dns.rdatatype.MX:
        response.answer.append(dns.rrset.from_text(owner, 60, "IN", "MX", "10 mx.example."))
    return response.to_wire()


def _mischief(query: dns.message.Message) -> list[tuple[bytes, bool]]:
    """Stray, spoofed and broken packets around the one true answer."""
    good = _answer(query, "genuine")
    wrong_id = bytearray(_answer(query, "wrong id"))
    wrong_id[0:2] = ((query.id + 1) % 65536).to_bytes(2, "big")
    not_response = bytearray(_answer(query, "no QR"))
    not_response[2] &= 0x7F
    return [
        (b"\x00", False),
        (bytes(wrong_id), False),
        (_answer(query, "wrong question", name="other.example."), False),
        (good[:-3], False),  # cut short: does not parse
        (bytes(not_response), False),
        (_answer(query, "spoofed"), True),
        (good, False),
        (_answer(query, "late duplicate"), False),
    ]


def test_stray_and_spoofed_packets_are_ignored() -> None:
    with Responder(_mischief) as srv:
        result = resolved(["plain.example"], srv)
    assert row(result, "plain.example")["txt"] == ["genuine"]


def test_only_bogus_packets_time_out() -> None:
    with Responder(lambda query: _mischief(query)[:-2]) as srv:
        result = resolved(["plain.example"], srv)
    assert (
        row(result, "plain.example")["txt_state"],
        row(result, "plain.example")["txt_error"],
    ) == (
        "unknown",
        "timeout",
    )


def _through_a_held_loop(
    zone: dict[str, Entry], hold: float, timeout: float, latency: float = 0.02
) -> tuple[DnsResult, DnsServer, float]:
    """Resolve the zone's domains while the loop is held for ``hold`` seconds once every query is
    out (answers arrive meanwhile, from the server's own thread); the result, the server and the
    seconds it took."""

    async def run(address: str) -> DnsResult:
        async def held() -> None:
            await asyncio.sleep(0.05)  # every query is out by now
            time.sleep(hold)  # holding the loop is the point

        holder = asyncio.ensure_future(held())
        result = await resolve_domains(list(zone), nameservers=[address], timeout=timeout)
        await holder
        return result

    with DnsServer(zone, latency=latency) as srv:
        started = time.monotonic()
        result = asyncio.run(run(srv.address))
        seconds = time.monotonic() - started
    return result, srv, seconds


def _mx_zone(domains: int) -> dict[str, Entry]:
    return {f"d{n}.example": Entry(mx=[(10, f"mx.d{n}.example")]) for n in range(domains)}


@pytest.mark.parametrize(
    ("domains", "hold", "timeout"),
    [(120, 1.25, 1.0), (60, 1.3, 0.5), (60, 2.0, 0.3)],
    ids=["just-past-the-timeout", "past-timeout-and-grace", "many-timeouts-long"],
)
def test_answers_that_came_in_while_the_loop_was_held_are_kept(
    domains: int, hold: float, timeout: float
) -> None:
    """Every answer arrives while the loop is held past its query's timeout: none may turn
    unknown (read in the same loop pass as the timer, or asked again after the hold)."""
    result, srv, _ = _through_a_held_loop(_mx_zone(domains), hold, timeout)
    assert result.status.detail["unknown"] == 0, result.table["mx_error"].value_counts()
    assert 2 * domains <= srv.queries <= 2 * 2 * domains  # at most one more ask each


def test_a_silent_name_through_a_held_loop_is_asked_again_and_stays_unknown() -> None:
    zone = _mx_zone(10) | {"silent.example": Entry(unanswered=True)}
    result, srv, seconds = _through_a_held_loop(zone, hold=0.8, timeout=0.5)
    assert row(result, "silent.example")["mx_error"] == "timeout"
    assert 2 <= srv.query_counts[("silent.example", "MX")] <= 3  # the hold made the first moot
    assert seconds < 0.05 + 0.8 + 2 * 0.5 + 1.0
    assert result.status.detail["unknown"] == 1


def _sensitive() -> contextlib.AbstractAsyncContextManager[LoopWatch]:
    """A watch that sees every hold the collector's default one sees (and shorter ones): when it
    saw none, the machine did not hold the loop either (a busy CI box can, for 100 ms)."""
    return watching(period=0.01, late=0.03)


def test_a_timeout_while_the_loop_runs_is_asked_once() -> None:
    zone = _mx_zone(10) | {"silent.example": Entry(unanswered=True)}

    async def run(address: str) -> tuple[DnsResult, int]:
        async with _sensitive() as machine:
            result = await resolve_domains(list(zone), nameservers=[address], timeout=0.3)
        return result, machine.holds

    with DnsServer(zone, latency=0.02) as srv:
        result, holds = asyncio.run(run(srv.address))
    assert row(result, "silent.example")["txt_error"] == "timeout"
    asks = [srv.query_counts[("silent.example", rdtype)] for rdtype in ("TXT", "MX")]
    assert asks == [1, 1] if holds == 0 else max(asks) <= 3


def test_the_loop_watch_notices_a_hold_and_only_a_hold() -> None:
    async def run() -> tuple[bool | None, bool, bool, bool]:
        loop = asyncio.get_running_loop()
        async with watching() as watch, _sensitive() as machine:
            start = loop.time()
            await asyncio.sleep(0.3)  # the loop runs: no hold
            quiet = watch.held_since(start) if machine.holds == 0 else None
            time.sleep(0.3)  # held, the heartbeat has not run yet
            during = watch.held_since(start)
            await asyncio.sleep(0.1)  # the heartbeat ran and recorded the hold
            after = watch.held_since(start)
            later = watch.held_since(loop.time())
            assert watch.holds >= 1
            return quiet, during, after, later

    quiet, *rest = asyncio.run(run())
    assert quiet in (False, None)  # None: the machine itself held the loop meanwhile
    assert rest == [True, True, False]
