"""Analyse a demo tenant the fast way for tests: its Graph JSON export plus the loopback DNS server.

The export path runs the same snapshot building and analysis as a live collection without the HTTP
emulator, so a result of a few hundred guests takes about a second.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from audit.analysis.analyzer import analyze
from audit.analysis.result import AuditResult
from audit.collectors.pipeline import CollectOptions, collect_sync
from audit.config import AuditConfig
from audit.demo.dnsserver import DnsServer
from audit.demo.evolve import tenant_clock
from audit.demo.model import DemoTenant
from audit.demo.tenant import write_export
from audit.snapshot import Snapshot


def demo_snapshot(tenant: DemoTenant, folder: Path, *, now: datetime | None = None) -> Snapshot:
    """Collect ``tenant`` from its export folder, DNS from the loopback server, on its own date."""
    write_export(tenant, folder)
    with DnsServer(tenant.dns) as dns:
        options = CollectOptions(
            from_export=str(folder), nameservers=(dns.address,), dns_timeout=0.5
        )
        return collect_sync(options, now=now or tenant_clock(tenant))


def demo_result(tenant: DemoTenant, folder: Path, config: AuditConfig | None = None) -> AuditResult:
    """Collect and analyse ``tenant`` on its own date with its verified domains and tokens."""
    snapshot = demo_snapshot(tenant, folder)
    config = config or AuditConfig(
        verified_domains=tuple(tenant.verified_in_target),
        verification_tokens=tuple(tenant.verification_tokens),
    )
    return analyze(snapshot, config, now=snapshot.collected_at)
