"""The collector's shared-socket DNS path answers exactly as dnspython's own resolver does.

Every odd answer here (CNAME chains, letter case, duplicates, extra sections, error rcodes,
truncation, stray and spoofed packets, failover) is resolved twice: through the fast path
(``StubResolver`` over ``UdpMux``) and through dnspython's ``Resolver.resolve`` (a subclass keeps
``resolve_domains`` on it), and the two tables and recordings must be equal.
"""

from __future__ import annotations

import asyncio
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
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.collectors._dns_transport import StubResolver, UdpMux
from audit.collectors._dns_wire import Empty, plain_answer, query_wire
from audit.collectors.dns import DnsResult, resolve_domains_sync
from audit.demo.dnsserver import DnsServer
from audit.demo.model import DnsZoneEntry as Entry

TIMEOUT = 0.4
IN = dns.rdataclass.IN


class Reference(dns.asyncresolver.Resolver):
    """dnspython's resolver as it is: ``resolve_domains`` keeps a subclass on its original path."""


def configured(cls: type[dns.asyncresolver.Resolver], *servers: Any, **attrs: Any) -> Any:
    """A resolver of ``cls`` for ``servers`` (anything with host and port), set up like ours."""
    resolver = cls(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(s.host, s.port) for s in servers]
    resolver.timeout = resolver.lifetime = TIMEOUT
    for name, value in attrs.items():
        setattr(resolver, name, value)
    return resolver


def both(domains: list[str], *servers: Any, **attrs: Any) -> DnsResult:
    """Resolve through both paths, check they agree, return the fast path's result."""
    fast_resolver = configured(dns.asyncresolver.Resolver, *servers, **attrs)
    assert StubResolver.of(fast_resolver) is not None
    fast = resolve_domains_sync(domains, resolver=fast_resolver, timeout=TIMEOUT)
    reference = resolve_domains_sync(
        domains, resolver=configured(Reference, *servers, **attrs), timeout=TIMEOUT
    )
    pd.testing.assert_frame_equal(fast.table, reference.table)
    assert fast.answers == reference.answers
    return fast


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


def test_odd_answers_match_dnspython(odd: OddServer) -> None:
    result = both([*ODD, *ZONE], odd)
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
    result = both(["plain.example"], *(failing[name] for name in order))
    got = row(result, "plain.example")
    assert (got["mx_state"], got["mx_error"]) == expected


def test_rotate_and_retry_servfail_match_dnspython(failing: dict[str, DnsServer]) -> None:
    result = both(["plain.example"], failing["servfail"], failing["good"], rotate=True)
    assert row(result, "plain.example")["mx_state"] == "found"
    retried = both(["plain.example"], failing["servfail"], retry_servfail=True)
    assert row(retried, "plain.example")["mx_error"] == "timeout"  # retried until the lifetime


def test_system_resolver_configuration_is_honoured(odd: OddServer, tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\nsearch corp.example\noptions edns0 timeout:1\n")
    results = []
    for cls in (dns.asyncresolver.Resolver, Reference):
        resolver = cls(filename=str(conf))
        resolver.port, resolver.use_search_by_default = odd.port, True
        results.append(
            resolve_domains_sync(["plain.example", "sections.example"], resolver=resolver)
        )
    pd.testing.assert_frame_equal(results[0].table, results[1].table)
    assert row(results[0], "plain.example")["txt"] == ["hello"]
    assert ("plain.example.corp.example", "TXT") not in odd.query_counts  # search=False


def test_a_cache_is_filled_and_used(odd: OddServer) -> None:
    resolver = configured(dns.asyncresolver.Resolver, odd, cache=dns.resolver.Cache())
    first = resolve_domains_sync(["alias.example", "plain.example"], resolver=resolver)
    before = odd.queries
    second = resolve_domains_sync(["alias.example", "plain.example"], resolver=resolver)
    assert odd.queries == before  # every answer came from the cache
    pd.testing.assert_frame_equal(first.table, second.table)


def test_a_send_error_fails_the_query_at_once_like_dnspython() -> None:
    broadcast = type("Server", (), {"host": "255.255.255.255", "port": 53})()
    started = time.monotonic()
    result = both(["plain.example"], broadcast)  # no SO_BROADCAST: sendto() is refused
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
        result = both(["plain.example"], srv)
    assert row(result, "plain.example")["txt"] == ["genuine"]


def test_only_bogus_packets_time_out() -> None:
    with Responder(lambda query: _mischief(query)[:-2]) as srv:
        result = both(["plain.example"], srv)
    assert (
        row(result, "plain.example")["txt_state"],
        row(result, "plain.example")["txt_error"],
    ) == (
        "unknown",
        "timeout",
    )


def test_queries_share_sockets_with_fresh_ids() -> None:
    domains = [f"d{i:02d}.example" for i in range(40)]
    with Responder(lambda query: [(_answer(query, "x"), False)]) as srv:
        result = resolve_domains_sync(domains, nameservers=[srv.address], timeout=TIMEOUT)
    assert (result.table["txt_state"] == "found").all()
    ports = {port for port, _ in srv.seen}
    assert len(srv.seen) == 80
    assert len(ports) == 1  # dnspython's resolver opens a socket per query
    assert len(set(srv.seen)) == 80  # no id twice on a socket


def test_sockets_rotate_and_close() -> None:
    async def run(srv: Responder) -> tuple[int, int]:
        mux = UdpMux(queries_per_socket=5)
        queries = [dns.message.make_query(f"r{i}.example", "TXT") for i in range(23)]
        answers = await asyncio.gather(*(mux.query(q, srv.host, srv.port, 1.0) for q in queries))
        assert all(isinstance(answer, dns.message.Message) for answer in answers)
        at_most = mux.open_sockets
        await mux.aclose()
        return at_most, mux.open_sockets

    with Responder(lambda query: [(_answer(query, "x"), False)]) as srv:
        open_before_close, open_after = asyncio.run(run(srv))
    ports = [port for port, _ in srv.seen]
    assert len(set(ports)) == 5  # ceil(23 / 5)
    assert max(ports.count(port) for port in set(ports)) == 5
    assert open_before_close <= 1  # used-up sockets closed as soon as their answers were in
    assert open_after == 0


def test_stub_resolver_only_for_dnspythons_own_class() -> None:
    assert StubResolver.of(dns.asyncresolver.Resolver(configure=False)) is not None
    assert StubResolver.of(Reference(configure=False)) is None


# The wire shortcuts against dnspython's own serialisation and parsing.

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
NAMES = st.lists(LABEL, min_size=1, max_size=4).map(lambda labels: ".".join(labels) + ".")
RDTYPES = st.sampled_from(["TXT", "MX", "A", "AAAA"])


@settings(max_examples=200, deadline=None)
@given(NAMES, RDTYPES, st.integers(0, 65535), st.integers(0, 65535), st.booleans())
def test_query_wire_is_to_wire(name: str, rdtype: str, qid: int, flags: int, edns: bool) -> None:
    query = dns.message.make_query(name, rdtype, use_edns=0 if edns else None)
    query.id, query.flags = qid, dns.flags.Flag(flags)
    assert query_wire(query) == query.to_wire()


VALUES = {
    "TXT": ['"a"', '"b"', '"a" "b"', '"ab"'],
    "MX": ["10 mx.example.", "10 MX.Example.", "20 mx2.example.", "0 ."],
    "A": ["192.0.2.1", "192.0.2.2"],
    "AAAA": ["2001:db8::1", "2001:db8::2"],
}
OWNERS = ["qname", "QNAME", "other", "cname"]
SPOILERS = ["additional", "nxdomain", "servfail", "short", "junk", "flip", *OWNERS[2:], "type"]
FLAGS = {"tc": (2, 0x02), "opcode": (2, 0x20), "qr": (2, 0x80), "rcode": (3, 0x05), "aa": (2, 0x04)}


@st.composite
def responses(draw: st.DrawFn) -> tuple[dns.message.Message, bytes, bool]:
    """A query and a response: plain, or spoilt in one way; the flag says "should be plain"."""
    name, rdtype = draw(NAMES), draw(RDTYPES)
    query = dns.message.make_query(name, rdtype)
    response = dns.message.make_response(query)
    owners = draw(st.lists(st.sampled_from(OWNERS[:2]), min_size=0, max_size=4))
    for owner in owners:
        owner_name = name if owner == "qname" else name.upper()
        response.answer.append(rrset(owner_name, rdtype, draw(st.sampled_from(VALUES[rdtype]))))
    spoiler = draw(st.sampled_from([None, None, None, *SPOILERS, *FLAGS]))
    _spoil_message(response, spoiler, name, rdtype)
    wire = _spoil_wire(response.to_wire(), spoiler, draw)
    return query, wire, spoiler in (None, "aa") or (spoiler == "nxdomain" and not owners)


def _spoil_message(
    response: dns.message.Message, spoiler: str | None, name: str, rdtype: str
) -> None:
    """Spoil the message itself (before rendering)."""
    if spoiler == "additional":
        response.additional.append(rrset("ns.example.", "A", "192.0.2.53"))
    elif spoiler in ("nxdomain", "servfail"):
        response.set_rcode(dns.rcode.from_text(spoiler.upper()))
    elif spoiler == "other":
        response.answer.append(rrset("x." + name, rdtype, VALUES[rdtype][0]))
    elif spoiler == "cname":
        response.answer.insert(0, rrset(name, "CNAME", name))
    elif spoiler == "type":
        other = "A" if rdtype != "A" else "AAAA"
        response.answer.append(rrset(name, other, VALUES[other][0]))


def _spoil_wire(wire: bytes, spoiler: str | None, draw: st.DrawFn) -> bytes:
    """Spoil the rendered message: header bits, length, a byte."""
    if spoiler in FLAGS:
        at, bit = FLAGS[spoiler]
        return wire[:at] + bytes([wire[at] ^ bit]) + wire[at + 1 :]
    if spoiler == "short":
        return wire[: draw(st.integers(0, len(wire) - 1))]
    if spoiler == "junk":
        return wire + b"\x00"
    if spoiler == "flip":
        at = draw(st.integers(2, len(wire) - 1))
        return wire[:at] + bytes([wire[at] ^ draw(st.integers(1, 255))]) + wire[at + 1 :]
    return wire


def _reference(query: dns.message.Message, wire: bytes) -> set[Any] | Empty | None:
    """What dnspython's UDP query and resolver make of ``wire``: records, no records, or else."""
    try:
        response = dns.message.from_wire(wire, raise_on_truncation=True)
    except Exception:
        return None
    rcode = response.rcode()
    if not query.is_response(response) or rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return None
    assert isinstance(response, dns.message.QueryMessage)
    question = query.question[0]
    rdtype = question.rdtype if rcode == dns.rcode.NOERROR else dns.rdatatype.ANY
    try:
        answer = dns.resolver.Answer(question.name, rdtype, IN, response)
    except Exception:
        return None  # the resolver drops the nameserver
    if rcode == dns.rcode.NXDOMAIN:
        return Empty.NXDOMAIN
    return Empty.NODATA if answer.rrset is None else set(answer.rrset)


@settings(max_examples=600, deadline=None)
@given(responses())
def test_plain_answer_agrees_with_from_wire(case: tuple[dns.message.Message, bytes, bool]) -> None:
    query, wire, should_be_plain = case
    plain = plain_answer(query, query_wire(query), wire)
    if should_be_plain:
        assert plain is not None
    if isinstance(plain, tuple):
        assert len(set(plain)) == len(plain)  # no duplicates left
        assert set(plain) == _reference(query, wire)
    elif plain is not None:
        assert plain is _reference(query, wire)


def _plain_or_not(change: Callable[[dns.message.Message], None]) -> bool:
    query = dns.message.make_query("shape.example", "TXT")
    response = dns.message.make_response(query)
    response.answer.append(rrset("shape.example.", "TXT", '"v"'))
    change(response)
    return plain_answer(query, query_wire(query), response.to_wire()) is not None


def _set(**flags: int) -> Callable[[dns.message.Message], None]:
    def change(response: dns.message.Message) -> None:
        for name, value in flags.items():
            setattr(response, name, value)

    return change


@pytest.mark.parametrize(
    ("change", "plain"),
    [
        (lambda r: None, True),
        (_set(flags=dns.flags.QR | dns.flags.AA | dns.flags.RD | dns.flags.RA), True),
        (lambda r: r.set_rcode(dns.rcode.NXDOMAIN), False),
        (lambda r: r.set_rcode(dns.rcode.SERVFAIL), False),
        (_set(flags=dns.flags.QR | dns.flags.TC), False),
        (_set(flags=dns.flags.RD), False),  # not a response
        (lambda r: r.set_opcode(dns.opcode.NOTIFY), False),
        (lambda r: r.authority.append(rrset("example.", "NS", "ns.example.")), False),
        (lambda r: r.use_edns(0), False),
        (lambda r: r.answer.insert(0, rrset("shape.example.", "CNAME", "shape.example.")), False),
        (lambda r: r.answer.append(rrset("other.example.", "TXT", '"v"')), False),
        (lambda r: r.answer.append(rrset("shape.example.", "A", "192.0.2.1")), False),
        (lambda r: r.answer.clear(), True),  # no data
        (lambda r: (r.answer.clear(), r.set_rcode(dns.rcode.NXDOMAIN)), True),
        (lambda r: (r.answer.clear(), r.set_rcode(dns.rcode.REFUSED)), False),
    ],
)
def test_plain_answer_shapes(change: Callable[[dns.message.Message], None], plain: bool) -> None:
    assert _plain_or_not(change) is plain


def _resolved_through_a_held_loop(
    domains: int, hold: float, timeout: float
) -> tuple[DnsResult, int]:
    """Resolve ``domains`` MX domains while the loop is held for ``hold`` seconds once every
    query is out (answers arrive meanwhile); the result and the queries the server saw."""
    from audit.collectors.dns import resolve_domains

    zone = {f"d{n}.example": Entry(mx=[(10, f"mx.d{n}.example")]) for n in range(domains)}

    async def run(address: str) -> DnsResult:
        async def held() -> None:
            await asyncio.sleep(0.05)  # every query is out by now
            time.sleep(hold)  # holding the loop is the point

        holder = asyncio.ensure_future(held())
        result = await resolve_domains(list(zone), nameservers=[address], timeout=timeout)
        await holder
        return result

    with DnsServer(zone, latency=0.02) as srv:
        result = asyncio.run(run(srv.address))
    return result, srv.queries


def test_answers_waiting_through_a_held_loop_are_read_not_timed_out() -> None:
    """The loop held for longer than the timeout (but within the lifetime's grace) while
    answers arrive: asyncio would read one datagram per pass and time the rest out unread."""
    result, _ = _resolved_through_a_held_loop(120, hold=1.25, timeout=1.0)
    assert result.status.detail["unknown"] == 0, result.table["mx_error"].value_counts()


def test_answers_in_before_a_loop_held_past_the_lifetime_ends_are_kept() -> None:
    """The loop held past the lifetime and its grace (0.5 s + 0.5 s): the query timers (due
    first) read the answers that came in, and the safety cut-off must not then cancel those
    queries."""
    result, queries = _resolved_through_a_held_loop(60, hold=1.3, timeout=0.5)
    assert queries == 120
    assert result.status.detail["unknown"] == 0, result.table["mx_error"].value_counts()


def test_cut_off_after_cuts_unfinished_work_and_spares_finished_work() -> None:
    from audit.collectors._dns_transport import cut_off_after

    async def unfinished() -> None:
        async with cut_off_after(0.05):
            await asyncio.sleep(5)

    async def finished_in_time() -> str:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()
        async with cut_off_after(0.05):
            loop.call_later(0.04, answer.set_result, "answer")
            time.sleep(0.1)  # both timers are now due in the same loop pass
            return await answer

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        asyncio.run(unfinished())
    assert time.monotonic() - started < 1.0
    assert asyncio.run(finished_in_time()) == "answer"
