"""The DNS collector against dnsmasq, an independent real DNS server, and against our own server.

The zone is written once as :class:`DnsZoneEntry` data, served both by ``DnsServer`` and by
dnsmasq (through its ``--txt-record``/``--mx-host``/``--host-record`` flags), and the collector must
build the same table from both. That keeps the loopback server honest: if it drifted from how a
real server answers, this test would show it.

dnsmasq is Debian's ``dnsmasq-base`` package (``apt-get install -y dnsmasq-base``: the binary only,
no system service grabbing port 53). Without it the test is skipped locally and fails when CI=true.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.query
import pandas as pd
import pytest

from audit.collectors.dns import DnsResult, answers_to_json, resolve_domains_sync, table_from_json
from audit.demo.dnsserver import DnsServer
from audit.demo.model import DnsZoneEntry as Entry

LONG_TXT = "v=DKIM1; k=rsa; p=" + "C" * 400
ZONE = {
    "mail.test": Entry(
        txt=["v=spf1 -all", "atlassian-domain-verification=tok123"],
        mx=[(10, "mx1.mail.test"), (20, "mx2.mail.test")],
    ),
    "nullmx.test": Entry(txt=["v=spf1 -all"], mx=[(0, ".")]),
    "aonly.test": Entry(a=["192.0.2.1"]),
    "v6only.test": Entry(aaaa=["2001:db8::1"]),
    "nohost.test": Entry(txt=["hello"]),
    "long.test": Entry(txt=[LONG_TXT], mx=[(10, "mx.long.test")]),
    "big.test": Entry(txt=[f"record-{i:02d}-" + "y" * 90 for i in range(12)]),
    "xn--bcher-kva.test": Entry(mx=[(5, "mx.xn--bcher-kva.test")]),
    "nx.test": Entry(nxdomain=True),
    "servfail.test": Entry(servfail=True),
    "silent.test": Entry(unanswered=True),
}
QUERIED = [*ZONE, "missing.test", "MAIL.Test.", "Bücher.test"]
TIMEOUT = 0.5


@dataclass
class Dnsmasq:
    """A running dnsmasq and the address the collector should use."""

    process: subprocess.Popen[str]
    address: str


def _dnsmasq_binary() -> str:
    path = shutil.which("dnsmasq", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    if path is not None:
        return path
    hint = "dnsmasq is not installed (apt-get install -y dnsmasq-base)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{hint}; CI=true requires it", pytrace=False)
    pytest.skip(f"{hint}; with CI=true this is a failure")


def _flags(zone: Mapping[str, Entry], servfail: str, blackhole: str) -> list[str]:
    """dnsmasq flags serving ``zone`` (commas separate dnsmasq fields: values must avoid them)."""
    flags = ["--local=/test/"]  # names under .test are local: NXDOMAIN when unknown, else NODATA
    for name, entry in zone.items():
        assert not any("," in value for value in entry.txt)
        flags += [f"--txt-record={name},{value}" for value in entry.txt]
        flags += [f"--mx-host={name},{host},{pref}" for pref, host in entry.mx]
        flags += [f"--host-record={name},{address}" for address in entry.a + entry.aaaa]
        if entry.nxdomain:
            flags.append(f"--address=/{name}/")
        if entry.servfail:
            flags.append(f"--server=/{name}/{servfail}")
        if entry.unanswered:
            flags.append(f"--server=/{name}/{blackhole}")
    return flags


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port: int = udp.getsockname()[1]
    return port


def _wait_ready(proc: subprocess.Popen[str], port: int) -> bool:
    deadline = time.monotonic() + 5
    query = dns.message.make_query("mail.test", "TXT")
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            dns.query.udp(query, "127.0.0.1", timeout=0.2, port=port)
        except (dns.exception.Timeout, ConnectionRefusedError):
            continue
        return True
    return False


@pytest.fixture(scope="module")
def ours() -> Iterator[DnsServer]:
    with DnsServer(ZONE) as srv:
        yield srv


@pytest.fixture(scope="module")
def dnsmasq(ours: DnsServer) -> Iterator[Dnsmasq]:
    binary = _dnsmasq_binary()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blackhole:
        blackhole.bind(("127.0.0.1", 0))  # forwarded queries land here and are never read
        never = f"127.0.0.1#{blackhole.getsockname()[1]}"
        servfail = f"127.0.0.1#{ours.port}"  # our server answers SERVFAIL; dnsmasq relays it
        for _ in range(3):
            port = _free_port()
            args = [
                binary, "--no-daemon", "--conf-file=/dev/null", "--pid-file", "--no-resolv",
                "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={port}",
                "--cache-size=0", "--log-facility=-", *_flags(ZONE, servfail, never),
            ]  # fmt: skip
            proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
            if _wait_ready(proc, port):
                break
            proc.kill()
            stderr = proc.communicate()[1]
        else:
            pytest.fail(f"dnsmasq did not start: {stderr}")
        try:
            yield Dnsmasq(proc, f"127.0.0.1:{port}")
        finally:
            proc.terminate()
            proc.communicate(timeout=5)


@dataclass
class Timed:
    result: DnsResult
    seconds: float


@pytest.fixture(scope="module")
def theirs(dnsmasq: Dnsmasq) -> Timed:
    started = time.monotonic()
    result = resolve_domains_sync(QUERIED, nameservers=[dnsmasq.address], timeout=TIMEOUT)
    return Timed(result, time.monotonic() - started)


def test_dnsmasq_and_our_server_give_the_same_table(theirs: Timed, ours: DnsServer) -> None:
    mine = resolve_domains_sync(QUERIED, nameservers=[ours.address], timeout=TIMEOUT)
    pd.testing.assert_frame_equal(theirs.result.table, mine.table)
    assert theirs.result.answers == mine.answers


def test_dnsmasq_semantics(theirs: Timed) -> None:
    result = theirs.result
    table = result.table.set_index("domain")
    assert table.loc["mail.test", "txt"] == [
        "atlassian-domain-verification=tok123",
        "v=spf1 -all",
    ]
    assert table.loc["mail.test", "mx"] == ["10 mx1.mail.test.", "20 mx2.mail.test."]
    assert table.loc["nullmx.test", "null_mx"]
    assert table.loc["long.test", "txt"] == [LONG_TXT]
    big: list[str] = table.loc["big.test", "txt"]  # type: ignore[assignment]
    assert len(big) == 12  # truncated over UDP, whole over TCP
    assert dict(table["mail_state"]) == {
        "aonly.test": "deliverable",
        "big.test": "no_mail_host",
        "long.test": "deliverable",
        "mail.test": "deliverable",
        "missing.test": "nxdomain",
        "nohost.test": "no_mail_host",
        "nullmx.test": "null_mx",
        "nx.test": "nxdomain",
        "servfail.test": "unknown",
        "silent.test": "unknown",
        "v6only.test": "deliverable",
        "xn--bcher-kva.test": "deliverable",
    }
    assert table.loc["servfail.test", "mx_error"] == "SERVFAIL"
    assert table.loc["silent.test", "mx_error"] == "timeout"
    pd.testing.assert_frame_equal(table_from_json(answers_to_json(result)), result.table)


def test_silent_domain_costs_at_most_timeout_against_dnsmasq(theirs: Timed) -> None:
    assert theirs.seconds < TIMEOUT + 0.5


def test_refused_is_unknown(dnsmasq: Dnsmasq) -> None:
    result = resolve_domains_sync(["outside.example"], nameservers=[dnsmasq.address])
    row = result.table.iloc[0]
    assert (row["txt_state"], row["txt_error"], row["mail_state"]) == (
        "unknown",
        "REFUSED",
        "unknown",
    )
