"""The whole job as library calls: collect (live or offline) → snapshot → analyze → render.

The CLI is a thin layer over these; notebooks call them directly (``await collect(...)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from audit._files import private_dir
from audit._process import return_freed_memory
from audit.collectors.build import build_snapshot, source_tables
from audit.collectors.local_sources import (
    dns_while_parsing,
    domain_feed,
    raw_redactor,
    start_parsing,
    stop_parsing,
)
from audit.config import AuditConfig
from audit.errors import CollectionError, ConfigError
from audit.models import SourceStatus
from audit.snapshot import Snapshot, now_utc

if TYPE_CHECKING:
    from audit.collectors.atlassian import AtlassianOptions
    from audit.collectors.dns_feed import DomainFeed


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
    max_retry_wait: float = 120.0  # cap on a Retry-After wait (s); capped waits are recorded
    mailusers: str | None = None
    from_export: str | None = None
    save_raw: str | None = None
    # Tenant scale (bench/README.md): ``partitions`` > 0 reads guests in parallel partitions (at
    # most that many requests in flight); ``track_changes`` stores a /users/delta link in the
    # snapshot; ``delta_from`` (a snapshot that stored one) reads only the changes since it;
    # ``checkpoint_dir`` logs pages there so a collection interrupted at page k resumes (with
    # ``resume``; False discards an old checkpoint first).
    partitions: int = 0
    track_changes: bool = False
    delta_from: Snapshot | None = field(default=None, repr=False)
    checkpoint_dir: str | None = None
    resume: bool = True
    # ``redact_key``: pseudonymise names and addresses in the ``save_raw`` export with this key
    # (audit.redact; the reports of the same run use the same key, so they agree).
    redact_key: bytes | None = field(default=None, repr=False)
    # Target-side evidence (Atlassian Cloud, audit.collectors.atlassian): the organization id,
    # the SCIM directory id, a base URL override, and the two keys (the CLI reads them from
    # ATLASSIAN_API_KEY / ATLASSIAN_SCIM_KEY only, never from a flag).
    atlassian_org: str | None = None
    atlassian_directory: str | None = None
    atlassian_url: str | None = None
    atlassian_api_key: str | None = field(default=None, repr=False)
    atlassian_scim_key: str | None = field(default=None, repr=False)

    def atlassian(self) -> AtlassianOptions:
        """The Atlassian part of these options."""
        from audit.collectors.atlassian import AtlassianOptions

        return AtlassianOptions(
            org=self.atlassian_org,
            directory=self.atlassian_directory,
            url=self.atlassian_url,
            api_key=self.atlassian_api_key,
            scim_key=self.atlassian_scim_key,
            max_wait=self.max_retry_wait,
        )


async def collect(
    options: CollectOptions, *, config: AuditConfig | None = None, now: datetime | None = None
) -> Snapshot:
    """Collect every source into a snapshot (not yet saved).

    With ``save_raw``, the export folder is written to a temporary sibling and moved into place
    only when the whole collection succeeded: a failure never leaves a partial export, nor replaces
    an earlier one. An existing ``save_raw`` folder must be empty or an earlier export.
    """
    if not options.save_raw:
        return await _collect(options, config=config, now=now)
    from audit.collectors.export import check_export_target, publish_folder

    final = check_export_target(options.save_raw)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=private_dir(final.parent)))
    try:
        staged = dataclasses.replace(options, save_raw=str(staging))
        snapshot = await _collect(staged, config=config, now=now)
        publish_folder(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return snapshot


async def _collect(
    options: CollectOptions, *, config: AuditConfig | None, now: datetime | None
) -> Snapshot:
    now = now or now_utc()
    if options.save_raw and options.delta_from is not None:
        raise ConfigError("save_raw needs a full collection; it cannot be combined with delta_from")
    from audit.collectors.atlassian_run import check_options

    check_options(options.atlassian(), from_export=bool(options.from_export))
    extra_tables: dict[str, pd.DataFrame] = {}
    feed = None if options.from_export or not options.dns else domain_feed(options)
    try:
        return await _collect_fed(options, config, now, extra_tables, feed)
    finally:
        if feed is not None:
            feed.cancel()  # a no-op once finished


async def _collect_fed(
    options: CollectOptions,
    config: AuditConfig | None,
    now: datetime,
    extra_tables: dict[str, pd.DataFrame],
    feed: DomainFeed | None,
) -> Snapshot:
    from audit.collectors.atlassian_run import beside, read_offline

    parsing = None if options.from_export else start_parsing(options)  # needs nothing from Graph
    try:
        if options.from_export:
            records, statuses, extra = _offline(options.from_export)
            target = read_offline(options.from_export)
        else:
            live = _live(options, now, extra_tables, feed)
            (records, statuses, extra), target = await beside(live, options.atlassian())
        return await _after_graph(
            options, config, now, (records, statuses, extra), target, extra_tables, feed, parsing
        )
    except BaseException:
        if parsing is not None:
            await stop_parsing(parsing)  # a parse that ended has its outcome taken: none unheard
        raise


async def _after_graph(
    options: CollectOptions,
    config: AuditConfig | None,
    now: datetime,
    read: tuple[dict[str, Any], dict[str, SourceStatus], dict[str, Any]],
    target: Any,
    extra_tables: dict[str, pd.DataFrame],
    feed: DomainFeed | None,
    parsing: asyncio.Future[Any] | None,
) -> Snapshot:
    """What follows the Graph read: raw export, tables, DNS and the CSV, the snapshot."""
    records, statuses, extra = read
    if feed is not None:
        await feed.idle()  # what follows holds the loop for seconds at scale
    redactor = raw_redactor(options, records)
    if options.save_raw:
        from audit.collectors.export import write_raw

        write_raw(redactor.records(records) if redactor else records, options.save_raw)
        target.save_raw(options.save_raw, redactor.p.text if redactor else None)
    statuses |= target.statuses
    extra_tables |= target.tables()
    extra |= target.extra
    # Raw objects become tables as early as possible and are let go (gigabytes at a million
    # guests): the app's sources first, so they are gone before the users table is built.
    extra_tables |= source_tables(records, statuses, take=True)
    _users_table_once(records, extra_tables)
    await dns_while_parsing(options, statuses, extra_tables, extra, redactor, feed, parsing)
    conf = (config or AuditConfig()).to_dict()
    return build_snapshot(
        records, statuses, collected_at=now, extra_tables=extra_tables, config=conf, extra=extra
    )


def collect_sync(
    options: CollectOptions, *, config: AuditConfig | None = None, now: datetime | None = None
) -> Snapshot:
    """:func:`collect` for scripts (notebooks already run a loop: ``await collect(...)`` there)."""
    return asyncio.run(collect(options, config=config, now=now))


def _users_table_once(records: dict[str, Any], tables: dict[str, pd.DataFrame]) -> None:
    """Build the users table once (DNS and the snapshot both need it) and let the raw objects go:
    at a million guests they hold gigabytes."""
    from audit.collectors.tables import users_table

    raw = records.pop("users", None)
    if raw is not None and "users" not in tables:
        tables["users"] = users_table(raw)
    del raw
    return_freed_memory()  # where the process allows it: the export's objects, when read


def _offline(folder: str) -> tuple[dict[str, Any], dict[str, SourceStatus], dict[str, Any]]:
    from audit.collectors.export import read_export

    records, statuses = read_export(folder)
    return records, statuses, {"mode": "export", "export": str(Path(folder).name)}


async def _live(
    options: CollectOptions,
    now: datetime,
    tables: dict[str, pd.DataFrame],
    feed: DomainFeed | None = None,
) -> tuple[dict[str, Any], dict[str, SourceStatus], dict[str, Any]]:
    from audit.collectors.checkpoint import Checkpoint
    from audit.collectors.delta import DeltaState
    from audit.collectors.graph import collect_graph

    delta = DeltaState.from_snapshot(options.delta_from) if options.delta_from else None
    folder = options.checkpoint_dir
    async with graph_client(options) as client:
        data = await collect_graph(
            client,
            app=options.app,
            include_sign_in=options.include_sign_in,
            log_days=options.log_days,
            now=now,
            partitions=options.partitions,
            track_changes=options.track_changes or options.delta_from is not None,
            delta=delta,
            checkpoint=Checkpoint(folder, resume=options.resume, tenant=options.tenant_id)
            if folder
            else None,
            on_users=feed.page if feed is not None else None,
            keep_raw=bool(options.save_raw),
        )
    tables |= data.tables
    base_url = options.graph_url or _cloud_graph_url(options.cloud)
    extra = {"mode": "live", "graph_url": base_url, "throttled": data.throttled}
    extra["faults"] = {
        "capped_waits": data.capped_waits,
        "longest_retry_after": data.longest_retry_after,
        "max_retry_wait": options.max_retry_wait,
        "reauthenticated": data.reauthenticated,
        "resent": data.resent,
    }
    extra |= _scale_extra(options, data, tables)
    return data.records, dict(data.statuses), extra | {"requests": data.requests}


def _scale_extra(
    options: CollectOptions, data: Any, tables: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    """Apply an incremental run's changes to the previous users table; note the delta link."""
    from audit.collectors.delta import DELTA_LINK, DELTA_SELECT, apply_changes
    from audit.collectors.graph import GUEST_SELECT

    extra: dict[str, Any] = {}
    previous = options.delta_from
    if data.changes is not None and previous is not None:
        tables["users"] = apply_changes(previous.tables["users"], data.changes)
        extra["incremental_from"] = previous.collected_at.isoformat()
    elif previous is not None:
        users = data.statuses.get("users")
        reason = users.detail.get("incremental") if users is not None else None
        extra["incremental"] = reason or "full read: the previous snapshot stored no delta link"
    if data.delta_link:
        extra[DELTA_LINK], extra[DELTA_SELECT] = data.delta_link, list(GUEST_SELECT)
    if data.resumed_pages:
        extra["resumed_pages"] = data.resumed_pages
    return extra


@contextlib.asynccontextmanager
async def graph_client(options: CollectOptions) -> AsyncIterator[Any]:
    """A GraphServiceClient for the options' cloud, URL and credential; closed on exit."""
    from audit.collectors.graph import close_graph_client, make_graph_client

    base_url = options.graph_url or _cloud_graph_url(options.cloud)
    credential = options_credential(options)
    client = make_graph_client(
        base_url=base_url,
        credential=credential,
        cloud=options.cloud,
        max_wait=options.max_retry_wait,
    )
    try:
        yield client
    finally:
        await close_graph_client(client)
        await _close(credential)


def options_credential(options: CollectOptions) -> Any:
    """The azure-identity credential the options describe (None for ``auth="none"``)."""
    from audit.collectors.auth import make_credential

    return make_credential(
        options.auth,
        tenant_id=options.tenant_id,
        client_id=options.client_id,
        client_secret=options.client_secret,
        certificate_path=options.certificate_path,
        cloud=options.cloud,
        base_url=options.graph_url or _cloud_graph_url(options.cloud),
    )


def _cloud_graph_url(cloud: str) -> str:
    from audit.collectors.auth import CLOUDS

    return CLOUDS[cloud].graph_base_url


def require_core(snapshot: Snapshot) -> None:
    """Raise CollectionError when users or domains could not be collected (nothing to audit)."""
    for name in ("users", "domains", "organization"):
        status = snapshot.sources.get(name)
        if status is not None and not status.usable:
            why = status.error or status.state.value
            if status.missing_permission:
                why += f" (the app needs {status.missing_permission})"
            raise CollectionError(f"required source {name} failed: {why}")


async def _close(credential: object) -> None:
    """Close a credential; azure-identity's sync ones (device code) close without awaiting."""
    import inspect

    close = getattr(credential, "close", None)
    if close is not None:
        done = close()
        if inspect.isawaitable(done):
            await done
