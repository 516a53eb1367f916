"""Faults during a live collection: each run completes with identical data or stops with exit 3.

The real CLI (in process) and the real msgraph-sdk collect a synthetic tenant from the Graph
emulator through :class:`~tests._fault_proxy.FaultProxy`, which injects the fault. Contract per
fault (issue "Survives faults and hostile input"): either the data equals a clean run's, or the run
stops with one clear line and exit code 3, never a traceback, and the previous snapshot and reports
in ``--out`` stay untouched. What happened is in ``manifest.json`` (``extra.throttled``,
``extra.faults``, source statuses).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from azure.core.credentials import AccessToken
from click.testing import CliRunner, Result

from audit import snapshot as snap
from audit.cli import cli
from audit.collectors.graph import GraphData, close_graph_client, collect_graph, make_graph_client
from audit.collectors.pipeline import CollectOptions, collect_sync
from audit.demo.dnsserver import DnsServer
from audit.demo.emulator import GraphEmulator
from audit.demo.model import DemoTenant
from audit.demo.tenant import generate_tenant
from audit.errors import SourceError
from audit.models import SourceState
from tests._fault_proxy import Fault, FaultProxy, Seen
from tests._graph_tenant import assert_same_collection

NOW = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # as the CLI's clock
PAGE = 10  # the proxy's page size: users and logs come in several pages


def _users_page(seen: Seen) -> bool:
    return seen.source("/users") and seen.next_page


def _logs(seen: Seen) -> bool:
    return seen.source("/auditLogs/provisioning")


def _throttled(status: int, retry_after: str, times: int, match: Callable[[Seen], bool]) -> Fault:
    headers = {"Retry-After": retry_after}
    return Fault(
        match, "status", times=times, status=status, code="TooManyRequests", headers=headers
    )


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    return generate_tenant(80, 20, seed=11, now=NOW)


@pytest.fixture(scope="module")
def emulator(tenant: DemoTenant) -> Iterator[GraphEmulator]:
    with GraphEmulator(tenant) as em:
        yield em


def _cli(url: str, out: Path, *extra: str, dns: bool = False) -> Result:
    args = ["run", "--graph-url", url, "--auth", "none", "--no-verified-domains"]
    args += ["--out", str(out), *extra]
    return CliRunner().invoke(cli, args if dns else [*args, "--no-dns"])


def _run(
    emulator: GraphEmulator, out: Path, faults: list[Fault], *extra: str
) -> tuple[Result, FaultProxy]:
    with FaultProxy(emulator.base_url, faults, page_cap=PAGE) as proxy:
        result = _cli(proxy.base_url, out, *extra)
    return result, proxy


def _no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output


def _manifest(out: Path) -> dict[str, Any]:
    return dict(orjson.loads((out / "snapshot" / "manifest.json").read_bytes()))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in a canonical order (pages of parallel sources may arrive in another order)."""
    order = df.astype(str).sort_values(list(df.columns)).index
    return df.loc[order].reset_index(drop=True)


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: _sorted(df) for name, df in snap.load(folder).tables.items()}


def _findings(out: Path) -> list[tuple[str, str, str, str]]:
    data = orjson.loads((out / "findings.json").read_bytes())
    return sorted(
        (f["rule_id"], f["object_id"], f["status"], f["detail"]) for f in data["findings"]
    )


def _same_data(out: Path, clean: Path) -> None:
    got, want = _tables(out / "snapshot"), _tables(clean / "snapshot")
    assert sorted(got) == sorted(want)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], obj=name)
    assert _findings(out) == _findings(clean)


@pytest.fixture(scope="module")
def clean(emulator: GraphEmulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "out"
    result, proxy = _run(emulator, out, [])
    assert result.exit_code == 0, result.output
    users = [s for s in proxy.requests if s.source("/users")]
    assert sum(s.next_page for s in users) >= 3  # the guests really came in several pages
    assert _manifest(out)["extra"]["faults"]["resent"] == 0
    return out


# ---- faults the run absorbs: identical data, and the manifest says what happened -------------

ABSORBED: dict[str, tuple[Callable[[], list[Fault]], dict[str, int]]] = {
    "throttling storm: 429 x2, 503, 504": (
        lambda: [
            _throttled(429, "1", 2, lambda s: s.source("/users")),
            _throttled(503, "1", 1, lambda s: s.source("/domains")),
            _throttled(504, "1", 1, lambda s: s.source("/servicePrincipals")),
        ],
        {"throttled": 4},
    ),
    "connection reset": (lambda: [Fault(_users_page, "reset", skip=1)], {"resent": 1}),
    "truncated body": (lambda: [Fault(_users_page, "truncate", skip=2)], {"resent": 1}),
    "cut JSON": (lambda: [Fault(_logs, "garbage")], {"resent": 1}),
    "reset and truncation on other sources": (
        lambda: [
            Fault(lambda s: s.source("/organization"), "reset"),
            Fault(lambda s: s.source("/appRoleAssignedTo"), "truncate"),
        ],
        {"resent": 2},
    ),
}


@pytest.mark.parametrize("name", list(ABSORBED))
def test_absorbed_faults_give_identical_data(
    name: str, emulator: GraphEmulator, clean: Path, tmp_path: Path
) -> None:
    make, expected = ABSORBED[name]
    faults = make()
    result, proxy = _run(emulator, tmp_path / "out", faults)
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert proxy.fired == sum(f.times for f in faults)
    _same_data(tmp_path / "out", clean)
    extra = _manifest(tmp_path / "out")["extra"]
    counts = {"throttled": extra["throttled"], "resent": extra["faults"]["resent"]}
    for key, value in expected.items():
        assert counts[key] == value, (key, extra)


# ---- faults that stop the run: exit 3, one clear line, the previous output untouched ----------


def _previous(clean: Path, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "out"
    shutil.copytree(clean, out)
    files = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    return out, files


STOPPING: dict[str, tuple[Callable[[], list[Fault]], str]] = {
    "500 on a page of users": (
        lambda: [Fault(_users_page, "status", times=99, status=500)],
        "users: HTTP 500 generalException",
    ),
    "502 on a page of users": (
        lambda: [Fault(_users_page, "status", times=99, status=502, code="BadGateway")],
        "users: HTTP 502 BadGateway",
    ),
    "nextLink answers 404": (
        lambda: [
            Fault(_users_page, "status", times=99, status=404, code="Request_ResourceNotFound")
        ],
        "users: HTTP 404 Request_ResourceNotFound",
    ),
    "connection reset twice": (
        lambda: [Fault(_users_page, "reset", times=2)],
        "users: the connection to Graph broke (",
    ),
    "domains truncated twice": (
        lambda: [Fault(lambda s: s.source("/domains"), "truncate", times=2)],
        "domains: the connection to Graph broke (",
    ),
}


@pytest.mark.parametrize("name", list(STOPPING))
def test_fatal_faults_exit_3_and_leave_the_previous_output(
    name: str, emulator: GraphEmulator, clean: Path, tmp_path: Path
) -> None:
    make, message = STOPPING[name]
    out, before = _previous(clean, tmp_path)
    result, proxy = _run(emulator, out, make())
    _no_traceback(result)
    assert result.exit_code == 3, result.output
    assert proxy.fired >= 1
    lines = result.output.strip().splitlines()
    assert lines == [lines[0]]  # one line
    assert lines[0].startswith("error: "), lines[0]
    assert message in lines[0], lines[0]
    after = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    snap.load(out / "snapshot")


def test_slow_answer_past_the_timeout_exits_3(
    emulator: GraphEmulator, clean: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kiota_http.kiota_client_factory as factory

    monkeypatch.setattr(factory, "DEFAULT_REQUEST_TIMEOUT", 0.5)  # the SDK's read timeout (100 s)
    out, before = _previous(clean, tmp_path)
    result, proxy = _run(emulator, out, [Fault(_users_page, "slow", delay=1.5)])
    _no_traceback(result)
    assert result.exit_code == 3, result.output
    assert "users: Graph did not answer in time (ReadTimeout)" in result.output
    assert proxy.fired == 1
    assert {
        str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()
    } == before


# ---- an optional source failing: the run completes and says so, never "zero rows" ------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault(_logs, "status", times=99, status=502, code="BadGateway"),
        Fault(lambda s: _logs(s) and s.next_page, "status", times=99, status=404, code="NotFound"),
    ],
    ids=["502", "nextLink 404"],
)
def test_optional_source_failing_is_reported_not_empty(
    fault: Fault, emulator: GraphEmulator, tenant: DemoTenant, tmp_path: Path
) -> None:
    assert len(tenant.provisioning_logs) > PAGE  # so a nextLink exists
    out = tmp_path / "out"
    result, _ = _run(emulator, out, [fault])
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "SOURCE FAILED: provisioning_logs: HTTP" in result.output
    status = {s["name"]: s for s in _manifest(out)["sources"]}["provisioning_logs"]
    assert status["state"] == "failed"
    assert str(fault.status) in status["error"]
    rules = {r["rule_id"]: r for r in orjson.loads((out / "findings.json").read_bytes())["rules"]}
    assert rules["prior-provisioning-failure"]["state"] == "skipped"
    assert "provisioning_logs" in rules["prior-provisioning-failure"]["reason"]


# ---- library level: the Retry-After cap, an endless storm, an expired token -------------------


def test_retry_after_far_above_the_limit_is_capped_and_reported(
    emulator: GraphEmulator, clean: Path
) -> None:
    later = format_datetime(datetime(2099, 1, 1, tzinfo=UTC), usegmt=True)
    faults = [
        _throttled(429, "3600", 1, _users_page),
        _throttled(503, later, 1, lambda s: s.source("/domains")),
    ]
    with FaultProxy(emulator.base_url, faults, page_cap=PAGE) as proxy:
        options = CollectOptions(graph_url=proxy.base_url, auth="none", dns=False, max_retry_wait=1)
        started = time.monotonic()
        snapshot = collect_sync(options, now=NOW)
        elapsed = time.monotonic() - started
    assert proxy.fired == 2
    assert elapsed < 10
    faults_extra = snapshot.extra["faults"]
    assert faults_extra["capped_waits"] == 2
    assert faults_extra["longest_retry_after"] > 3600
    assert faults_extra["max_retry_wait"] == 1
    assert snapshot.extra["throttled"] == 2
    want = _tables(clean / "snapshot")
    for name in ("users", "domains", "group_members"):
        pd.testing.assert_frame_equal(_sorted(snapshot.tables[name]), want[name], obj=name)


def _collect(url: str, credential: Any = None, **kw: Any) -> GraphData:
    async def go() -> GraphData:
        client = make_graph_client(base_url=url, credential=credential, **kw)
        try:
            return await collect_graph(client, now=NOW, page_size=PAGE)
        finally:
            await close_graph_client(client)

    return asyncio.run(go())


def test_endless_throttling_stops_with_a_clear_error(emulator: GraphEmulator) -> None:
    fault = _throttled(429, "1", 99, _users_page)
    with FaultProxy(emulator.base_url, [fault]) as proxy, pytest.raises(SourceError) as caught:
        _collect(proxy.base_url, max_retries=1, retry_delay=0)
    assert fault.fired == 2  # the first attempt and one retry
    assert str(caught.value).startswith("users: HTTP 429 TooManyRequests")
    assert caught.value.exit_code == 3


class RotatingCredential:
    """Hands out ``tok-1``, then ``tok-2`` once the first has expired (as time would)."""

    def __init__(self) -> None:
        self.generation = 1
        self.calls = 0

    def expire(self, seen: Seen) -> None:
        """The server refused ``seen``'s token: if it is the current one, it has expired."""
        if seen.headers.get("authorization") == f"Bearer tok-{self.generation}":
            self.generation += 1

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.calls += 1
        return AccessToken(f"tok-{self.generation}", int(time.time()) + 3600)

    async def close(self) -> None:
        return None


def _expired(token: str, after: int) -> Callable[[Seen], bool]:
    return lambda s: s.number > after and s.headers.get("authorization") == f"Bearer {token}"


def test_expired_token_mid_run_is_renewed_once(emulator: GraphEmulator, tenant: DemoTenant) -> None:
    clean = _collect(emulator.base_url)
    credential = RotatingCredential()
    fault = Fault(_expired("tok-1", 6), "status", times=99, status=401,
                  code="InvalidAuthenticationToken", on_fire=credential.expire)  # fmt: skip
    with FaultProxy(emulator.base_url, [fault]) as proxy:
        data = _collect(proxy.base_url, credential)
    assert fault.fired >= 1
    assert data.reauthenticated == fault.fired
    assert all(s.state is not SourceState.FAILED for s in data.statuses.values())
    assert_same_collection(data, clean)
    tokens = {s.headers.get("authorization") for s in proxy.requests}
    assert tokens == {"Bearer tok-1", "Bearer tok-2"}


def test_token_refused_again_fails_after_one_reauthentication(emulator: GraphEmulator) -> None:
    credential = RotatingCredential()
    refused = Fault(lambda s: s.number > 3, "status", times=999, status=401,
                    code="InvalidAuthenticationToken", on_fire=credential.expire)  # fmt: skip
    with FaultProxy(emulator.base_url, [refused]) as proxy:
        data = _collect(proxy.base_url, credential)
    failed = [s for s in data.statuses.values() if s.state is SourceState.FAILED]
    assert failed
    assert all("HTTP 401 InvalidAuthenticationToken" in (s.error or "") for s in failed)
    # Each refused request is sent at most once more, with a renewed token, and then the
    # refusal stands. Which requests get to resend depends on timing (one cancelled because a
    # required source failed meanwhile never does), so the test checks each request, not totals.
    refused_requests = [s for s in proxy.requests if s.number > 3]
    attempts: dict[tuple[str, str], list[str]] = {}
    for seen in refused_requests:
        key = (seen.path, seen.query)
        attempts.setdefault(key, []).append(str(seen.headers.get("authorization")))
    assert max(len(tokens) for tokens in attempts.values()) <= 2
    renewed = [tokens for tokens in attempts.values() if len(tokens) == 2]
    assert renewed
    assert all(first != second for first, second in renewed)
    assert len(renewed) <= data.reauthenticated <= len(attempts)
    assert refused.fired == len(refused_requests)


# ---- DNS server going away mid-run --------------------------------------------------------------


def test_dns_server_going_away_leaves_unknown_never_absent(
    emulator: GraphEmulator, tenant: DemoTenant, tmp_path: Path
) -> None:
    flags = ["--dns-timeout", "0.3", "--nameserver"]
    with DnsServer(tenant.dns) as dns:
        whole = _cli(emulator.base_url, tmp_path / "whole", *flags, dns.address, dns=True)
    assert whole.exit_code == 0, whole.output
    server = DnsServer(tenant.dns, latency=0.2)
    server.start()

    def stop_when_asked() -> None:
        deadline = time.monotonic() + 20
        while server.queries < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        server.stop()

    stopper = threading.Thread(target=stop_when_asked)
    stopper.start()
    try:
        result = _cli(emulator.base_url, tmp_path / "cut", *flags, server.address, dns=True)
    finally:
        stopper.join()
        server.stop()
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    dns_status = {s["name"]: s for s in _manifest(tmp_path / "cut")["sources"]}["dns"]
    assert dns_status["state"] in ("partial", "failed"), dns_status
    table = snap.load(tmp_path / "cut" / "snapshot").tables["dns"]
    assert (table["mx_state"] == "unknown").any()
    whole_table = snap.load(tmp_path / "whole" / "snapshot").tables["dns"].set_index("domain")
    for domain, state in zip(table["domain"], table["mx_state"], strict=True):
        assert state in ("unknown", whole_table.at[domain, "mx_state"]), domain  # never made up
    undeliverable = {
        f[1] for f in _findings(tmp_path / "cut") if f[0] == "mail-domain-undeliverable"
    }
    assert undeliverable <= {
        f[1] for f in _findings(tmp_path / "whole") if f[0] == "mail-domain-undeliverable"
    }
