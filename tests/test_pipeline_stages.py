"""``collect``'s stage orchestration: the app's raw sources become tables before the users table,
DNS resolves while the Get-MailUser CSV is parsed step by step on the same loop, errors from
either side surface, and no thread is left behind (``render_all`` forks only when this process
has a single thread)."""

from __future__ import annotations

import dataclasses
import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from audit.collectors.build import build_snapshot, source_tables
from audit.collectors.mailusers import read_mailusers
from audit.collectors.pipeline import CollectOptions, collect_sync
from audit.demo.dnsserver import DnsServer
from audit.demo.emulator import Faults, GraphEmulator
from audit.demo.model import DemoTenant
from audit.demo.run import write_mailusers_csv
from audit.demo.tenant import generate_tenant
from audit.errors import CollectionError, ConfigError, InputError
from audit.models import SourceState, SourceStatus
from audit.snapshot import now_utc


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    return generate_tenant(60, 8, seed=3)


@pytest.fixture(scope="module")
def servers(tenant: DemoTenant) -> Iterator[tuple[GraphEmulator, DnsServer]]:
    # every DNS answer waits a little, so the parse runs while DNS is in flight
    with GraphEmulator(tenant) as graph, DnsServer(tenant.dns, latency=0.05) as dns:
        yield graph, dns


def _options(
    servers: tuple[GraphEmulator, DnsServer], mailusers: Path, **changes: Any
) -> CollectOptions:
    graph, dns = servers
    options = CollectOptions(
        graph_url=graph.base_url,
        auth="none",
        app="Atlassian Cloud",
        nameservers=(dns.address,),
        dns_timeout=1.0,
        mailusers=str(mailusers),
    )
    return dataclasses.replace(options, **changes)


def test_collect_builds_every_table_and_leaves_no_thread(
    tenant: DemoTenant, servers: tuple[GraphEmulator, DnsServer], tmp_path: Path
) -> None:
    csv = write_mailusers_csv(tenant, tmp_path / "mailusers.csv")
    threads = threading.active_count()
    snapshot = collect_sync(_options(servers, csv))
    assert threading.active_count() == threads
    assert snapshot.sources["dns"].state in (SourceState.OK, SourceState.PARTIAL)
    assert snapshot.sources["mailusers"].state is SourceState.OK
    order = list(snapshot.sources)
    assert order.index("dns") < order.index("mailusers")  # as before the overlap
    pd.testing.assert_frame_equal(snapshot.tables["mailusers"], read_mailusers(csv).table)
    for name in ("app_role_assignments", "group_members", "service_principal"):
        assert snapshot.sources[name].rows == len(snapshot.tables[name]) > 0


def test_a_broken_mailusers_file_fails_after_dns_ran(
    tenant: DemoTenant, servers: tuple[GraphEmulator, DnsServer], tmp_path: Path
) -> None:
    csv = tmp_path / "mailusers.csv"
    csv.write_text("DisplayName\nx\n", encoding="utf-8")
    before = servers[1].queries
    threads = threading.active_count()
    with pytest.raises(InputError, match="missing column"):
        collect_sync(_options(servers, csv))
    assert servers[1].queries > before
    assert threading.active_count() == threads


def test_a_dns_error_propagates_and_leaves_no_thread(
    tenant: DemoTenant, servers: tuple[GraphEmulator, DnsServer], tmp_path: Path
) -> None:
    csv = write_mailusers_csv(tenant, tmp_path / "mailusers.csv")
    threads = threading.active_count()
    with pytest.raises(ConfigError):
        collect_sync(_options(servers, csv, nameservers=("not an address",)))
    assert threading.active_count() == threads


def test_the_csv_is_parsed_while_graph_is_read(tenant: DemoTenant, tmp_path: Path) -> None:
    """The CSV needs nothing from Graph, so it is read beside it: here the file is gone once
    Graph has answered its first request, and the snapshot still holds every row of it."""
    csv = write_mailusers_csv(tenant, tmp_path / "mailusers.csv")
    expected = read_mailusers(csv).table
    with GraphEmulator(tenant) as graph, DnsServer(tenant.dns) as dns:
        graph.latency = 0.05  # every Graph request waits: the collection takes seconds

        def remove_once_graph_answers() -> None:
            while not graph.requests:
                time.sleep(0.001)
            csv.unlink()

        remover = threading.Thread(target=remove_once_graph_answers)
        remover.start()
        try:
            snapshot = collect_sync(_options((graph, dns), csv))
        finally:
            remover.join()
    assert not csv.exists()
    pd.testing.assert_frame_equal(snapshot.tables["mailusers"], expected)


def test_a_graph_error_comes_first_and_the_parse_is_stopped(
    tenant: DemoTenant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken CSV and a Graph collection that fails: the Graph error is raised (as when the
    parse began after Graph), no thread is left and no task error goes unheard."""
    csv = tmp_path / "mailusers.csv"
    csv.write_text("DisplayName\nx\n", encoding="utf-8")
    faults = Faults(error_rate=1.0, error_statuses=(500,))
    threads = threading.active_count()
    with (
        GraphEmulator(tenant, faults=faults) as graph,
        DnsServer(tenant.dns) as dns,
        pytest.raises(CollectionError, match="organization"),
    ):
        collect_sync(_options((graph, dns), csv))
    gc.collect()  # an unheard task error is logged when its task is collected
    assert "never retrieved" not in caplog.text
    assert threading.active_count() == threads


def test_source_tables_taken_early_equal_the_ones_built_late(tenant: DemoTenant) -> None:
    """Taking the raw records out early changes nothing in the snapshot."""
    records: dict[str, list[dict[str, Any]]] = {
        "domains": [{"id": "contoso.com", "isVerified": True, "isInitial": True}],
        "app_role_assignments": [{"principalId": "p1", "principalType": "Group"}],
        "group_members": [{"_groupId": "p1", "id": "u1", "@odata.type": "#microsoft.graph.user"}],
        "provisioning_logs": [{"id": "l1", "activityDateTime": "2025-01-01T00:00:00Z"}],
    }
    statuses = {name: SourceStatus(name, SourceState.OK) for name in records}
    statuses["provisioning_logs"] = SourceStatus("provisioning_logs", SourceState.FAILED)
    late = build_snapshot(dict(records), statuses, collected_at=now_utc())
    remaining = dict(records)
    early = source_tables(remaining, statuses, take=True)
    assert set(early) == {"app_role_assignments", "group_members"}  # failed sources: no table
    assert "group_members" not in remaining
    assert "provisioning_logs" in remaining
    built = build_snapshot(remaining, statuses, collected_at=now_utc(), extra_tables=early)
    assert set(built.tables) == set(late.tables)
    for name, table in late.tables.items():
        pd.testing.assert_frame_equal(built.tables[name], table)
    assert built.sources == late.sources
