"""The whole job as library calls: collect (live or offline) → snapshot → analyze → render.

The CLI is a thin layer over these; notebooks call them directly (``await collect(...)``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from audit.collect.build import build_snapshot, guest_domains
from audit.config import AuditConfig
from audit.errors import CollectionError
from audit.models import SourceState, SourceStatus
from audit.snapshot import Snapshot, now_utc


@dataclass
class CollectOptions:
    """Where and how to collect; the defaults collect live from global Graph with the default login."""

    graph_url: str | None = None
    auth: str = "default"
    cloud: str = "global"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    certificate_path: str | None = None
    app: str | None = "Atlassian Cloud"
    include_sign_in: bool = False
    log_days: int = 30
    nameservers: tuple[str, ...] = ()
    dns: bool = True
    dns_timeout: float = 2.0
    dns_concurrency: int = 128
    mailusers: str | None = None
    from_export: str | None = None
    save_raw: str | None = None


async def collect(
    options: CollectOptions, *, config: AuditConfig | None = None, now: datetime | None = None
) -> Snapshot:
    """Collect every source into a snapshot (not yet saved)."""
    now = now or now_utc()
    if options.from_export:
        records, statuses, extra = _offline(options.from_export)
    else:
        records, statuses, extra = await _live(options, now)
    if options.save_raw:
        from audit.collect.export import write_raw

        write_raw(records, options.save_raw)
    extra_tables: dict[str, pd.DataFrame] = {}
    await _add_dns(options, records, statuses, extra_tables, extra)
    _add_mailusers(options, statuses, extra_tables, extra)
    conf = (config or AuditConfig()).to_dict()
    return build_snapshot(
        records, statuses, collected_at=now, extra_tables=extra_tables, config=conf, extra=extra
    )


def collect_sync(
    options: CollectOptions, *, config: AuditConfig | None = None, now: datetime | None = None
) -> Snapshot:
    """:func:`collect` for scripts (notebooks already run a loop: ``await collect(...)`` there)."""
    return asyncio.run(collect(options, config=config, now=now))


def _offline(folder: str) -> tuple[dict[str, Any], dict[str, SourceStatus], dict[str, Any]]:
    from audit.collect.export import read_export

    records, statuses = read_export(folder)
    return records, statuses, {"mode": "export", "export": str(Path(folder).name)}


async def _live(
    options: CollectOptions, now: datetime
) -> tuple[dict[str, Any], dict[str, SourceStatus], dict[str, Any]]:
    from audit.collect.graph import collect_graph

    async with graph_client(options) as client:
        data = await collect_graph(
            client,
            app=options.app,
            include_sign_in=options.include_sign_in,
            log_days=options.log_days,
            now=now,
        )
    base_url = options.graph_url or _cloud_graph_url(options.cloud)
    extra = {"mode": "live", "graph_url": base_url, "throttled": data.throttled}
    return data.records, dict(data.statuses), extra | {"requests": data.requests}


@contextlib.asynccontextmanager
async def graph_client(options: CollectOptions) -> AsyncIterator[Any]:
    """A GraphServiceClient for the options' cloud, URL and credential; closed on exit."""
    from audit.collect.auth import make_credential
    from audit.collect.graph import close_graph_client, make_graph_client

    base_url = options.graph_url or _cloud_graph_url(options.cloud)
    credential = make_credential(
        options.auth,
        tenant_id=options.tenant_id,
        client_id=options.client_id,
        client_secret=options.client_secret,
        certificate_path=options.certificate_path,
        cloud=options.cloud,
        base_url=base_url,
    )
    client = make_graph_client(base_url=base_url, credential=credential, cloud=options.cloud)
    try:
        yield client
    finally:
        await close_graph_client(client)
        await _close(credential)


def _cloud_graph_url(cloud: str) -> str:
    from audit.collect.auth import CLOUDS

    return CLOUDS[cloud].graph_base_url


async def _add_dns(
    options: CollectOptions,
    records: dict[str, Any],
    statuses: dict[str, SourceStatus],
    tables: dict[str, pd.DataFrame],
    extra: dict[str, Any],
) -> None:
    from audit.collect import dns
    from audit.collect import tables as t

    recorded = Path(options.from_export or "") / "dns.json"
    if options.from_export and recorded.is_file():
        from audit.collect.export import load_json

        replay = dns.result_from_json(load_json(recorded), path=recorded)
        tables["dns"] = replay.table
        statuses["dns"] = replay.status
        return
    if not options.dns:
        statuses["dns"] = SourceStatus("dns", SourceState.NOT_REQUESTED)
        return
    domains = guest_domains(t.users_table(records.get("users", [])))
    result = await dns.resolve_domains(
        domains,
        nameservers=list(options.nameservers) or None,
        timeout=options.dns_timeout,
        concurrency=options.dns_concurrency,
    )
    tables["dns"] = result.table
    statuses["dns"] = result.status
    extra["dns_answers"] = None
    if options.save_raw:
        import orjson

        file = Path(options.save_raw) / "dns.json"
        file.write_bytes(orjson.dumps(dns.answers_to_json(result)))


def _add_mailusers(
    options: CollectOptions,
    statuses: dict[str, SourceStatus],
    tables: dict[str, pd.DataFrame],
    extra: dict[str, Any],
) -> None:
    from audit.collect.mailusers import read_mailusers

    path = options.mailusers
    if path is None and options.from_export:
        candidate = Path(options.from_export) / "mailusers.csv"
        path = str(candidate) if candidate.is_file() else None
    if path is None:
        statuses["mailusers"] = SourceStatus("mailusers", SourceState.NOT_REQUESTED)
        return
    parsed = read_mailusers(path)
    tables["mailusers"] = parsed.table
    statuses["mailusers"] = parsed.status
    extra["mailusers_problems"] = parsed.problems[:100]
    if options.save_raw:
        import shutil

        target = Path(options.save_raw) / "mailusers.csv"
        if Path(path).resolve() != target.resolve():
            shutil.copyfile(path, target)


def require_core(snapshot: Snapshot) -> None:
    """Raise CollectionError when users or domains could not be collected (nothing to audit)."""
    for name in ("users", "domains", "organization"):
        status = snapshot.sources.get(name)
        if status is not None and not status.usable:
            why = status.missing_permission or status.error or status.state.value
            raise CollectionError(f"required source {name} failed: {why}")


async def _close(credential: object) -> None:
    """Close a credential; azure-identity's sync ones (device code) close without awaiting."""
    import inspect

    close = getattr(credential, "close", None)
    if close is not None:
        done = close()
        if inspect.isawaitable(done):
            await done
