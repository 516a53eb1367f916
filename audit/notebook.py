"""Helpers for exploring in Jupyter: the HTML summary of a result, and the demo tenant in-process.

``AuditResult._repr_html_`` shows :func:`result_html` (:mod:`audit.analysis.result_view`), so a
result shown as a cell's value renders as a compact summary.

:func:`collect_demo` runs the real collectors against the demo tenant served on loopback, with
``await`` (notebooks already run an event loop)::

    from audit.demo.tenant import generate_tenant
    from audit.notebook import collect_demo, demo_config

    tenant = generate_tenant(300, 40, seed=7)
    snapshot = await collect_demo(tenant, folder="work")
    result = audit.analyze(snapshot, demo_config(tenant))
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.analysis.result_view import result_html
from audit.collectors.pipeline import CollectOptions, collect
from audit.config import AuditConfig
from audit.demo.evolve import tenant_clock
from audit.demo.model import DemoTenant
from audit.demo.run import serve, write_mailusers_csv
from audit.snapshot import Snapshot

__all__ = ["collect_demo", "demo_config", "result_html"]


def demo_config(tenant: DemoTenant, **overrides: Any) -> AuditConfig:
    """The configuration the demo uses: the tenant's verified domains and tokens (plus overrides)."""
    values: dict[str, Any] = {
        "verified_domains": tuple(tenant.verified_in_target),
        "verification_tokens": tuple(tenant.verification_tokens),
    }
    return AuditConfig(**(values | overrides))


async def collect_demo(
    tenant: DemoTenant,
    *,
    folder: str | os.PathLike[str],
    now: datetime | None = None,
    config: AuditConfig | None = None,
    latency: float = 0.0,
) -> Snapshot:
    """Serve ``tenant`` on loopback (Graph emulator and DNS) and collect it with the real collectors.

    ``folder`` receives the tenant's Get-MailUser CSV. ``now`` defaults to the tenant's own clock
    (:func:`audit.demo.evolve.tenant_clock`), so evolved tenants are collected "months later".
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    mailusers = write_mailusers_csv(tenant, out / "mailusers.csv")
    with serve(tenant, latency=latency) as (graph_url, nameserver):
        options = CollectOptions(
            graph_url=graph_url,
            auth="none",
            include_sign_in=True,
            nameservers=(nameserver,),
            dns_timeout=1.0,
            mailusers=str(mailusers),
        )
        return await collect(options, config=config, now=now or tenant_clock(tenant))
