"""The loopback DNS server speaks real DNS: checked on the wire with dnspython's query functions."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.rcode
import dns.resolver
import pytest

from audit.demo.dnsserver import DnsServer
from audit.demo.model import DnsZoneEntry

LONG_TXT = "v=DKIM1; k=rsa; p=" + "A" * 400
ZONE = {
    "example.com": DnsZoneEntry(
        txt=["v=spf1 -all", "atlassian-domain-verification=tok123"],
        mx=[(10, "mx1.example.com"), (20, "mx2.example.com.")],
        a=["192.0.2.1"],
        aaaa=["2001:db8::1"],
    ),
    "Mixed.Example.": DnsZoneEntry(mx=[(5, "mx.mixed.example")]),
    "null.example": DnsZoneEntry(mx=[(0, ".")]),
    "long.example": DnsZoneEntry(txt=[LONG_TXT]),
    "big.example": DnsZoneEntry(txt=[f"record-{i:02d}-" + "x" * 90 for i in range(12)]),
    "empty.example": DnsZoneEntry(),
    "nx.example": DnsZoneEntry(nxdomain=True),
    "fail.example": DnsZoneEntry(servfail=True),
    "silent.example": DnsZoneEntry(unanswered=True),
}


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with DnsServer(ZONE) as srv:
        yield srv
    assert srv.errors == []


def udp(server: DnsServer, name: str, rdtype: str, **kw: object) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    return dns.query.udp(query, server.host, port=server.port, timeout=2)


def tcp(server: DnsServer, name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.tcp(query, server.host, port=server.port, timeout=2)


def resolver(server: DnsServer) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [dns.nameserver.Do53Nameserver(server.host, server.port)]
    res.lifetime = 2.0
    return res


def texts(message: dns.message.Message) -> list[str]:
    return sorted(rdata.to_text() for rrset in message.answer for rdata in rrset)


def test_start_returns_host_and_port_and_is_idempotent(server: DnsServer) -> None:
    assert server.start() == ("127.0.0.1", server.port)
    assert server.port > 0
    assert server.address == f"127.0.0.1:{server.port}"
    assert server.running


def test_udp_and_tcp_answer_on_the_same_port(server: DnsServer) -> None:
    by_udp, by_tcp = udp(server, "example.com", "TXT"), tcp(server, "example.com", "TXT")
    expected = ['"atlassian-domain-verification=tok123"', '"v=spf1 -all"']
    assert texts(by_udp) == texts(by_tcp) == expected
    assert by_udp.flags & dns.flags.AA


@pytest.mark.parametrize(
    ("rdtype", "expected"),
    [
        ("MX", ["10 mx1.example.com.", "20 mx2.example.com."]),
        ("A", ["192.0.2.1"]),
        ("AAAA", ["2001:db8::1"]),
    ],
)
def test_record_types(server: DnsServer, rdtype: str, expected: list[str]) -> None:
    assert texts(udp(server, "example.com", rdtype)) == expected


def test_names_match_case_insensitively_with_or_without_trailing_dot(server: DnsServer) -> None:
    # lower() because compression may reuse the question's spelling of the name: both are right
    assert [t.lower() for t in texts(udp(server, "MIXED.example.", "MX"))] == [
        "5 mx.mixed.example."
    ]
    assert texts(udp(server, "Example.COM", "A")) == ["192.0.2.1"]


@pytest.mark.parametrize(
    ("name", "rdtype", "rcode"),
    [
        ("nx.example", "MX", dns.rcode.NXDOMAIN),
        ("not-in-zone.example", "TXT", dns.rcode.NXDOMAIN),
        ("fail.example", "MX", dns.rcode.SERVFAIL),
        ("empty.example", "MX", dns.rcode.NOERROR),
        ("example.com", "SRV", dns.rcode.NOERROR),
    ],
)
def test_response_codes(server: DnsServer, name: str, rdtype: str, rcode: dns.rcode.Rcode) -> None:
    response = udp(server, name, rdtype)
    assert response.rcode() == rcode
    assert response.answer == []


def test_no_records_of_a_type_is_noanswer_for_the_resolver(server: DnsServer) -> None:
    with pytest.raises(dns.resolver.NoAnswer):
        resolver(server).resolve("empty.example", "TXT")


def test_unanswered_name_is_dropped(server: DnsServer) -> None:
    before = server.queries
    started = time.monotonic()
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(dns.message.make_query("silent.example", "MX"), server.host, 0.3, server.port)
    assert time.monotonic() - started < 1.0
    assert server.queries == before + 1


def test_null_mx_is_preference_zero_root_exchange(server: DnsServer) -> None:
    [rdata] = resolver(server).resolve("null.example", "MX")
    assert rdata.preference == 0
    assert rdata.exchange == dns.name.root


def test_long_txt_value_is_split_into_255_byte_strings(server: DnsServer) -> None:
    [rdata] = resolver(server).resolve("long.example", "TXT")
    assert [len(s) for s in rdata.strings] == [255, len(LONG_TXT) - 255]
    assert b"".join(rdata.strings).decode() == LONG_TXT


def test_large_udp_answer_is_truncated_and_tcp_gives_it_whole(server: DnsServer) -> None:
    query = dns.message.make_query("big.example", "TXT")
    wire = dns.query.udp(query, server.host, port=server.port, timeout=2, ignore_trailing=True)
    assert wire.flags & dns.flags.TC
    assert len(wire.to_wire()) <= 512
    assert len(texts(tcp(server, "big.example", "TXT"))) == 12
    roomy = udp(server, "big.example", "TXT", use_edns=0, payload=4096)
    assert not roomy.flags & dns.flags.TC
    assert len(texts(roomy)) == 12


def test_resolver_retries_truncated_answers_over_tcp(server: DnsServer) -> None:
    before = server.tcp_queries
    answer = resolver(server).resolve("big.example", "TXT")
    assert len(answer) == 12
    assert server.tcp_queries == before + 1


def test_garbage_datagram_is_ignored(server: DnsServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"\x00\x01not dns", (server.host, server.port))
    assert texts(udp(server, "example.com", "A")) == ["192.0.2.1"]


def test_query_counts_per_name_and_type(server: DnsServer) -> None:
    before = server.query_counts[("mixed.example", "MX")]
    udp(server, "Mixed.Example", "MX")
    udp(server, "mixed.example.", "MX")
    assert server.query_counts[("mixed.example", "MX")] == before + 2


def test_latency_is_per_query_and_does_not_serialise() -> None:
    async def twenty(srv: DnsServer) -> float:
        started = time.monotonic()
        queries = [dns.message.make_query("example.com", "A") for _ in range(20)]
        await asyncio.gather(
            *(dns.asyncquery.udp(q, srv.host, timeout=3, port=srv.port) for q in queries)
        )
        return time.monotonic() - started

    with DnsServer(ZONE, latency=0.2) as srv:
        elapsed = asyncio.run(twenty(srv))
    assert 0.2 <= elapsed < 1.0  # 20 sequential queries would take 4 s
    assert srv.max_in_flight >= 10


def test_stop_is_idempotent_and_the_server_goes_away() -> None:
    srv = DnsServer(ZONE)
    srv.stop()  # before start: nothing to do
    host, port = srv.start()
    assert texts(udp(srv, "example.com", "A")) == ["192.0.2.1"]
    srv.stop()
    srv.stop()
    assert not srv.running
    with pytest.raises((dns.exception.Timeout, ConnectionRefusedError)):
        dns.query.udp(dns.message.make_query("example.com", "A"), host, 0.3, port)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=1).close()


def test_fixed_port_in_use_raises(server: DnsServer) -> None:
    with pytest.raises(OSError, match="in use"):
        DnsServer(ZONE, port=server.port).start()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback() -> None:
    with DnsServer(ZONE, host="::1") as srv:
        assert srv.address == f"[::1]:{srv.port}"
        assert texts(udp(srv, "example.com", "AAAA")) == ["2001:db8::1"]
        assert texts(tcp(srv, "example.com", "AAAA")) == ["2001:db8::1"]
