"""The DNS collector, against the loopback DNS server through dnspython's real async resolver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import dns.asyncresolver
import dns.message
import dns.nameserver
import dns.rcode
import dns.rdatatype
import orjson
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.collectors.dns import (
    COLUMNS,
    DnsResult,
    answers_to_json,
    normalise_domain,
    normalise_token,
    resolve_domains,
    resolve_domains_sync,
    result_from_json,
    table_from_json,
    verification_tokens,
)
from audit.demo.dnsserver import DnsServer
from audit.demo.model import DnsZoneEntry as Entry
from audit.errors import ConfigError, InputError
from audit.models import SourceState

LONG_TXT = "v=DKIM1; k=rsa; p=" + "B" * 400
BIG_TXT = [f"record-{i:02d}-" + "y" * 90 for i in range(12)]
ZONE = {
    "mail.example": Entry(
        txt=["v=spf1 -all", "atlassian-domain-verification=ours"],
        mx=[(20, "mx2.mail.example"), (10, "MX1.Mail.Example")],
    ),
    "nullmx.example": Entry(txt=["v=spf1 -all"], mx=[(0, ".")]),
    "aonly.example": Entry(a=["192.0.2.1"]),
    "v6only.example": Entry(aaaa=["2001:db8::1"]),
    "nohost.example": Entry(txt=["hello"]),
    "nx.example": Entry(nxdomain=True),
    "fail.example": Entry(servfail=True),
    "silent.example": Entry(unanswered=True),
    "long.example": Entry(txt=[LONG_TXT], mx=[(10, "mx.long.example")]),
    "big.example": Entry(txt=BIG_TXT, mx=[(10, "mx.big.example")]),
    "xn--bcher-kva.example": Entry(mx=[(10, "mx.xn--bcher-kva.example")]),
}
INPUTS = [*ZONE, "missing.example", "Bücher.Example", "bad domain!.example"]
ATLASSIAN = "atlassian-domain-verification="
TIMEOUT = 2.0  # the default: a short one turns answers unknown on a loaded machine


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with DnsServer(ZONE) as srv:
        yield srv
    assert srv.errors == []


@pytest.fixture(scope="module")
def resolved(server: DnsServer) -> DnsResult:
    return resolve_domains_sync(INPUTS, nameservers=[server.address], timeout=TIMEOUT)


def row(result: DnsResult, domain: str) -> dict[str, Any]:
    [record] = result.table[result.table["domain"] == domain].to_dict("records")
    return {str(k): (None if isinstance(v, float) and pd.isna(v) else v) for k, v in record.items()}


def fast_zone(count: int) -> dict[str, Entry]:
    return {
        f"d{i:03d}.example": Entry(txt=[f"t{i}"], mx=[(10, "mx.example")]) for i in range(count)
    }


MAIL = dict(txt_state="found", mx_state="found", a_state="not_queried", nxdomain=False)
ABSENT = dict(txt_state="absent", mx_state="absent", nxdomain=False)
EXPECTED: dict[str, dict[str, Any]] = {
    "mail.example": dict(
        MAIL,
        txt=["atlassian-domain-verification=ours", "v=spf1 -all"],
        mx=["10 mx1.mail.example.", "20 mx2.mail.example."],
        null_mx=False,
        mail_state="deliverable",
    ),
    "nullmx.example": dict(MAIL, mx=["0 ."], null_mx=True, mail_state="null_mx"),
    "aonly.example": dict(ABSENT, a_state="found", mail_state="deliverable"),
    "v6only.example": dict(ABSENT, a_state="found", mail_state="deliverable"),
    "nohost.example": dict(
        txt_state="found", txt=["hello"], mx_state="absent", a_state="absent", a_error=None,
        mail_state="no_mail_host",
    ),
    "nx.example": dict(ABSENT, nxdomain=True, a_state="not_queried", mail_state="nxdomain"),
    "missing.example": dict(ABSENT, nxdomain=True, mail_state="nxdomain", txt=[], mx=[]),
    "fail.example": dict(
        txt_state="unknown", txt_error="SERVFAIL", mx_state="unknown", mx_error="SERVFAIL",
        a_state="not_queried", mail_state="unknown", nxdomain=False,
    ),
    "silent.example": dict(
        txt_state="unknown", txt_error="timeout", mx_state="unknown", mx_error="timeout",
        mail_state="unknown",
    ),
    "long.example": dict(MAIL, txt=[LONG_TXT], mail_state="deliverable"),
    "big.example": dict(MAIL, txt=BIG_TXT, mail_state="deliverable"),
    "xn--bcher-kva.example": dict(mx=["10 mx.xn--bcher-kva.example."], mail_state="deliverable"),
    "bad domain!.example": dict(
        txt_state="unknown", txt_error="invalid domain", mx_state="unknown",
        mx_error="invalid domain", a_state="not_queried", mail_state="unknown",
    ),
}  # fmt: skip


@pytest.mark.parametrize("domain", sorted(EXPECTED))
def test_answers_per_domain(resolved: DnsResult, domain: str) -> None:
    got = row(resolved, domain)
    assert {key: got[key] for key in EXPECTED[domain]} == EXPECTED[domain]


def test_table_columns_and_dtypes(resolved: DnsResult) -> None:
    table = resolved.table
    assert tuple(table.columns) == COLUMNS
    assert list(table["domain"]) == sorted(table["domain"])
    assert table["null_mx"].dtype == bool
    assert table["nxdomain"].dtype == bool
    assert all(isinstance(v, list) for v in table["txt"])
    assert all(isinstance(v, list) for v in table["mx"])
    assert pd.api.types.is_string_dtype(table["mail_state"])
    assert pd.api.types.is_string_dtype(table["txt_error"])


def test_status_counts_unknown_domains(resolved: DnsResult) -> None:
    status = resolved.status
    assert status.name == "dns"
    assert status.state is SourceState.PARTIAL
    assert status.rows == len(resolved.table) == len(EXPECTED)  # each distinct input once
    assert status.detail["unknown"] == 3  # fail, silent, invalid
    assert status.detail["domains"] == status.rows
    assert status.error is not None
    assert "SERVFAIL" in status.error


def test_idn_domain_is_queried_as_a_label(resolved: DnsResult, server: DnsServer) -> None:
    assert "xn--bcher-kva.example" in set(resolved.table["domain"])
    assert "bücher.example" not in set(resolved.table["domain"])
    assert server.query_counts[("xn--bcher-kva.example", "MX")] >= 1


def test_one_query_per_domain_and_type() -> None:
    inputs = ["Mail.Example", "mail.example.", " MAIL.EXAMPLE ", "aonly.example", "AOnly.Example."]
    inputs += ["nx.example", "NX.example.", "nx.example"] * 50
    with DnsServer(ZONE) as srv:
        result = resolve_domains_sync(inputs, nameservers=[srv.address], timeout=TIMEOUT)
    expected = {("mail.example", t) for t in ("TXT", "MX")}
    expected |= {("aonly.example", t) for t in ("TXT", "MX", "A", "AAAA")}
    expected |= {("nx.example", t) for t in ("TXT", "MX")}
    assert dict(srv.query_counts) == dict.fromkeys(expected, 1)
    assert srv.queries == result.status.detail["queries"] == 8
    assert list(result.table["domain"]) == ["aonly.example", "mail.example", "nx.example"]


def test_unanswered_domain_costs_at_most_timeout_and_does_not_slow_others() -> None:
    zone = fast_zone(20) | {"silent.example": Entry(unanswered=True)}
    done: list[float] = []
    with DnsServer(zone, latency=0.05) as srv:
        started = time.monotonic()
        result = resolve_domains_sync(
            ["silent.example", *zone],
            nameservers=[srv.address],
            timeout=1.0,
            progress=lambda n, total: done.append(time.monotonic() - started),
        )
        elapsed = time.monotonic() - started
    assert len(done) == 21
    assert done[19] < 0.6  # the 20 answering domains finish long before the silent one
    assert 1.0 <= elapsed < 1.6
    silent = row(result, "silent.example")
    assert (silent["mx_state"], silent["mx_error"], silent["mail_state"]) == (
        "unknown",
        "timeout",
        "unknown",
    )
    assert (result.table["mail_state"] == "deliverable").sum() == 20


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_bound_is_respected(concurrency: int) -> None:
    zone = fast_zone(8)
    with DnsServer(zone, latency=0.03) as srv:
        result = resolve_domains_sync(zone, nameservers=[srv.address], concurrency=concurrency)
    assert srv.max_in_flight == concurrency
    assert result.status.state is SourceState.OK


def test_concurrency_overlaps_latency() -> None:
    zone = fast_zone(40)
    with DnsServer(zone, latency=0.1) as srv:
        started = time.monotonic()
        resolve_domains_sync(zone, nameservers=[srv.address], concurrency=64)
        elapsed = time.monotonic() - started
    assert elapsed < 1.0  # 80 queries of 0.1 s in sequence would take 8 s


def test_deadline_marks_remaining_queries_unknown() -> None:
    zone = fast_zone(100)
    with DnsServer(zone, latency=0.1) as srv:
        started = time.monotonic()
        result = resolve_domains_sync(
            zone, nameservers=[srv.address], concurrency=2, deadline=0.5, timeout=1.0
        )
        elapsed = time.monotonic() - started
    assert elapsed < 1.0
    states = result.table["mx_state"]
    assert (states == "found").sum() > 0
    assert set(result.table.loc[states == "unknown", "mx_error"]) == {"deadline"}
    assert (states == "absent").sum() == 0
    assert result.status.state is SourceState.PARTIAL
    assert result.status.detail["deadline_hit"] is True
    assert result.status.detail["queries"] < 20


def test_deadline_cuts_a_hanging_query() -> None:
    with DnsServer({"silent.example": Entry(unanswered=True)}) as srv:
        started = time.monotonic()
        result = resolve_domains_sync(
            ["silent.example"], nameservers=[srv.address], timeout=5.0, deadline=0.3
        )
        elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert row(result, "silent.example")["txt_error"] == "deadline"


def test_server_gone_is_failed_never_absent() -> None:
    srv = DnsServer(ZONE)
    srv.start()
    srv.stop()
    result = resolve_domains_sync(
        ["mail.example", "nx.example"], nameservers=[srv.address], timeout=0.2
    )
    assert set(result.table["txt_state"]) == set(result.table["mx_state"]) == {"unknown"}
    assert not result.table["nxdomain"].any()
    assert result.status.state is SourceState.FAILED
    assert result.status.error is not None


def test_server_going_away_mid_run_leaves_unknown_not_absent() -> None:
    zone = fast_zone(60)

    async def run(srv: DnsServer) -> DnsResult:
        some_done = asyncio.Event()  # stop once a few are in, however loaded the machine is

        def progress(done: int, total: int) -> None:
            if done >= 5:
                some_done.set()

        task = asyncio.create_task(
            resolve_domains(
                zone, nameservers=[srv.address], concurrency=20, timeout=0.5, progress=progress
            )
        )
        await some_done.wait()
        await asyncio.to_thread(srv.stop)
        return await task

    srv = DnsServer(zone, latency=0.1)
    srv.start()
    result = asyncio.run(run(srv))
    states = result.table["mx_state"]
    assert 0 < (states == "found").sum() < 60
    assert set(states) == {"found", "unknown"}
    assert result.status.state is SourceState.PARTIAL


class _AaaaFails(DnsServer):
    """A server whose AAAA answers are SERVFAIL (a broken IPv6 path in a resolver)."""

    def respond(self, query: dns.message.Message) -> dns.message.Message | None:
        response = super().respond(query)
        if response is not None and query.question[0].rdtype == dns.rdatatype.AAAA:
            response.answer.clear()
            response.set_rcode(dns.rcode.SERVFAIL)
        return response


def test_unknown_aaaa_decides_only_when_a_is_absent() -> None:
    with _AaaaFails(ZONE) as srv:
        result = resolve_domains_sync(
            ["aonly.example", "nohost.example"], nameservers=[srv.address], timeout=TIMEOUT
        )
    assert row(result, "aonly.example")["a_state"] == "found"
    assert row(result, "aonly.example")["mail_state"] == "deliverable"
    nohost = row(result, "nohost.example")
    assert (nohost["a_state"], nohost["a_error"], nohost["mail_state"]) == (
        "unknown",
        "SERVFAIL",
        "unknown",
    )


def test_json_round_trip_rebuilds_the_same_table(resolved: DnsResult) -> None:
    document = orjson.loads(orjson.dumps(answers_to_json(resolved)))
    assert document["format"] == 1
    assert document["domains"]["nullmx.example"]["MX"] == {
        "state": "found",
        "records": ["0 ."],
        "error": None,
    }
    assert document["domains"]["nx.example"]["nxdomain"] is True
    pd.testing.assert_frame_equal(table_from_json(document), resolved.table)
    replayed = result_from_json(document, path="snap/dns.json")
    assert replayed.status.state is resolved.status.state
    assert replayed.answers == resolved.answers


def _doc(**domain: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"state": "absent", "records": [], "error": None}
    base: dict[str, Any] = {t: dict(answer) for t in ("TXT", "MX", "A", "AAAA")}
    base["nxdomain"] = False
    return {"format": 1, "domains": {"x.example": base | domain}}


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"format": 2, "domains": {}},
        {"format": 1},
        {"format": 1, "domains": []},
        {"format": 1, "domains": {"x.example": "found"}},
        _doc(nxdomain="yes"),
        _doc(MX=None),
        _doc(MX={"state": "maybe", "records": [], "error": None}),
        _doc(TXT={"state": "found", "records": "v=spf1", "error": None}),
        _doc(TXT={"state": "found", "records": [1], "error": None}),
        _doc(A={"state": "unknown", "records": [], "error": 5}),
    ],
)
def test_bad_json_raises_input_error_naming_the_file(document: Any) -> None:
    with pytest.raises(InputError, match=r"^snap/dns\.json: "):
        table_from_json(document, path="snap/dns.json")


def test_empty_and_missing_domains_give_an_empty_ok_table(server: DnsServer) -> None:
    result = resolve_domains_sync([None, "", "   "], nameservers=[server.address])  # type: ignore[list-item]
    assert tuple(result.table.columns) == COLUMNS
    assert result.table.empty
    assert result.status.state is SourceState.OK


def test_a_resolver_can_be_passed_in(server: DnsServer) -> None:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(server.host, server.port)]
    result = resolve_domains_sync(["mail.example"], resolver=resolver)
    assert row(result, "mail.example")["mail_state"] == "deliverable"


@pytest.mark.parametrize(
    "nameservers", [["127.0.0.1"], ["127.0.0.1:5353"], ["::1"], ["[::1]:5353"], "127.0.0.1"]
)
def test_nameserver_forms_are_accepted(nameservers: Any) -> None:
    assert resolve_domains_sync([], nameservers=nameservers).table.empty


@pytest.mark.parametrize(
    "nameservers",
    [[], ["dns.example"], ["127.0.0.1:0"], ["127.0.0.1:x"], ["[::1]:99999"], ["1.2.3.4:53:1"]],
)
def test_bad_nameservers_raise_config_error(nameservers: list[str]) -> None:
    with pytest.raises(ConfigError):
        resolve_domains_sync(["example.com"], nameservers=nameservers)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"deadline": 0},
        {"concurrency": 0},
        {"resolver": dns.asyncresolver.Resolver(configure=False)},
    ],
)
def test_bad_limits_raise_config_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        resolve_domains_sync(["example.com"], nameservers=["127.0.0.1"], **kwargs)


def test_sync_wrapper_refuses_to_run_inside_a_loop() -> None:
    async def inside() -> None:
        resolve_domains_sync([], nameservers=["127.0.0.1"])

    with pytest.raises(RuntimeError, match="await resolve_domains"):
        asyncio.run(inside())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Example.COM.", "example.com"),
        ("  bücher.example ", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        ("straße.de", "xn--strae-oqa.de"),
        ("ＥＸＡＭＰＬＥ．com", "example.com"),
        ("a..b", None),
        ("", None),
        (".", None),
        ("-lead.example", None),
        ("under_score.example", None),
        ("xn--zz.example", None),
        ("x" * 64 + ".example", None),
        (".".join(["a" * 60] * 5), None),
        ("[192.0.2.1]", None),
    ],
)
def test_normalise_domain(value: str, expected: str | None) -> None:
    assert normalise_domain(value) == expected


@given(st.text(max_size=40))
def test_normalise_domain_is_idempotent_ascii_lower_case(value: str) -> None:
    name = normalise_domain(value)
    if name is not None:
        assert name.isascii()
        assert name == name.lower()
        assert normalise_domain(name) == name


def test_verification_tokens() -> None:
    prefix = ATLASSIAN
    records = [
        "v=spf1 include:_spf.example -all",
        "atlassian-domain-verification=Tok+One/abc==",
        "ATLASSIAN-DOMAIN-VERIFICATION= tokTwo ",
        "atlassian-domain-verification=Tok+One/abc==",
        "atlassian-domain-verification=",
        "google-site-verification=g1",
    ]
    assert verification_tokens(records, prefix) == ["Tok+One/abc==", "tokTwo"]
    assert verification_tokens(records, "google-site-verification=") == ["g1"]
    assert verification_tokens([], prefix) == []


@pytest.mark.parametrize(
    "value",
    [
        "abc123",
        " abc123 ",
        "atlassian-domain-verification=abc123",
        "Atlassian-Domain-Verification=abc123",
        '"atlassian-domain-verification=abc123"',
    ],
)
def test_normalise_token(value: str) -> None:
    assert normalise_token(value, ATLASSIAN) == "abc123"


def test_prefix_matching_ignores_case() -> None:
    assert verification_tokens(["zoom_verify_Z1", "MS=ms123"], "ZOOM_verify_") == ["Z1"]
