"""The sources read on this machine: DNS of the guest domains and the Get-MailUser CSV.

:func:`dns_while_parsing` runs both on the collection's event loop (DNS mostly waits on the network
while the CSV parse is CPU work in small steps); with ``save_raw`` they are copied into the export
folder, pseudonymised under redaction (:class:`RawRedactor`). Split from
:mod:`audit.collectors.pipeline`, which drives the whole collection.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from audit._files import private_file, write_private
from audit.collectors.build import guest_domains
from audit.models import SourceState, SourceStatus

if TYPE_CHECKING:
    from audit.collectors.dns import DnsResult
    from audit.collectors.dns_feed import DomainFeed
    from audit.collectors.mailusers import MailUsers
    from audit.collectors.pipeline import CollectOptions

__all__ = [
    "RawRedactor",
    "dns_while_parsing",
    "domain_feed",
    "raw_redactor",
    "start_parsing",
    "stop_parsing",
]


class RawRedactor:
    """Pseudonymises what ``save_raw`` writes: Graph records, dns.json and mailusers.csv."""

    def __init__(self, records: dict[str, Any], key: bytes) -> None:
        from audit.redact import Pseudonymiser

        self.p = Pseudonymiser.for_records(records, key=key)

    def records(self, records: dict[str, Any]) -> dict[str, Any]:
        from audit.redact import redact_records

        return redact_records(records, self.p)

    def dns(self, document: dict[str, Any]) -> dict[str, Any]:
        from audit.redact import redact_dns_document

        return redact_dns_document(document, self.p)

    def mailusers(self, source: str, target: Path) -> None:
        from audit.redact import redact_mailusers_csv

        redact_mailusers_csv(source, target, self.p)


def raw_redactor(options: CollectOptions, records: dict[str, Any]) -> RawRedactor | None:
    if options.save_raw and options.redact_key is not None:
        return RawRedactor(records, options.redact_key)
    return None


async def dns_while_parsing(
    options: CollectOptions,
    statuses: dict[str, SourceStatus],
    tables: dict[str, pd.DataFrame],
    extra: dict[str, Any],
    redactor: RawRedactor | None,
    feed: DomainFeed | None = None,
    parsing: asyncio.Future[MailUsers | None] | None = None,
) -> None:
    """Resolve the guest domains while the Get-MailUser export is parsed, on the same loop.

    DNS needs only the distinct guest domains (from the users table) and mostly waits on the
    network; parsing a million-row CSV is seconds of CPU work that would otherwise start after
    the last answer. The parse runs in steps of a few milliseconds with the loop serving DNS
    answers in between (a worker thread would hold the GIL for 5 ms at a time and stall every
    answer). A parse error waits for DNS and propagates after any DNS error, as when they ran
    one after the other. ``parsing``: the parse, already started (:func:`start_parsing`).
    """
    resolving = asyncio.ensure_future(add_dns(options, statuses, tables, extra, redactor, feed))
    try:
        parsed = await (parsing if parsing is not None else parse_mailusers(options))
    except asyncio.CancelledError:
        resolving.cancel()
        raise
    except BaseException:
        await asyncio.wait([resolving])
        resolving.result()  # a DNS error comes first
        raise
    await resolving
    add_mailusers(options, statuses, tables, extra, redactor, parsed)


def domain_feed(options: CollectOptions) -> DomainFeed:
    """A feed resolving the guests' domains as their pages arrive (:mod:`audit.collectors.dns_feed`)."""
    from audit.collectors.dns_feed import DomainFeed

    feed = DomainFeed(functools.partial(resolve_with, options))
    feed.start()
    return feed


def resolve_with(options: CollectOptions, domains: list[str]) -> Awaitable[DnsResult]:
    """Resolve ``domains`` with the options' nameservers, timeout and concurrency."""
    from audit.collectors import dns

    return dns.resolve_domains(
        domains,
        nameservers=list(options.nameservers) or None,
        timeout=options.dns_timeout,
        concurrency=options.dns_concurrency,
    )


async def add_dns(
    options: CollectOptions,
    statuses: dict[str, SourceStatus],
    tables: dict[str, pd.DataFrame],
    extra: dict[str, Any],
    redactor: RawRedactor | None = None,
    feed: DomainFeed | None = None,
) -> None:
    from audit.collectors import dns
    from audit.collectors import tables as t

    recorded = Path(options.from_export or "") / "dns.json"
    if options.from_export and recorded.is_file():
        from audit.collectors.export import load_json

        replay = dns.result_from_json(load_json(recorded), path=recorded)
        tables["dns"] = replay.table
        statuses["dns"] = replay.status
        save_dns(options, dns.answers_to_json(replay), redactor)
        return
    if not options.dns:
        statuses["dns"] = SourceStatus("dns", SourceState.NOT_REQUESTED)
        return
    users = tables.get("users")  # built by _users_table_once, or an incremental run's merge
    domains = guest_domains(users if users is not None else t.users_table([]))
    if feed is not None:
        result = await feed.finish(domains)  # most were resolved while the pages came in
    else:
        result = await resolve_with(options, domains)
    tables["dns"] = result.table
    statuses["dns"] = result.status
    extra["dns_answers"] = None
    save_dns(options, dns.answers_to_json(result), redactor)


def save_dns(
    options: CollectOptions, document: dict[str, Any], redactor: RawRedactor | None
) -> None:
    """Write ``dns.json`` into the ``save_raw`` export (pseudonymised under redaction)."""
    if options.save_raw:
        import orjson

        file = Path(options.save_raw) / "dns.json"
        write_private(file, orjson.dumps(redactor.dns(document) if redactor else document))


def mailusers_path(options: CollectOptions) -> str | None:
    """The Get-MailUser CSV to read: the option, or the export folder's copy when there is one."""
    path = options.mailusers
    if path is None and options.from_export:
        candidate = Path(options.from_export) / "mailusers.csv"
        path = str(candidate) if candidate.is_file() else None
    return path


def start_parsing(options: CollectOptions) -> asyncio.Future[MailUsers | None]:
    """Start parsing the Get-MailUser CSV now, beside the Graph collection.

    The CSV needs nothing from Graph, and at a million guests its parse (about 10 s of CPU in
    small steps) otherwise began only once Graph was read, after the provisioning logs, whose
    documented 5 requests per 10 s leave the loop idle for minutes. Await it with
    :func:`dns_while_parsing`, or :func:`stop_parsing` when the collection fails first.
    """
    return asyncio.ensure_future(parse_mailusers(options))


async def stop_parsing(parsing: asyncio.Future[MailUsers | None]) -> None:
    """Cancel a parse nobody will wait for (nothing to cancel once it ended) and take its outcome,
    so that no error of it goes unheard."""
    parsing.cancel()
    await asyncio.gather(parsing, return_exceptions=True)


async def parse_mailusers(options: CollectOptions) -> MailUsers | None:
    """Parse the CSV step by step, yielding to the loop between steps; None without a CSV."""
    from audit.collectors.mailusers import read_mailusers_async

    path = mailusers_path(options)
    return None if path is None else await read_mailusers_async(path)


def add_mailusers(
    options: CollectOptions,
    statuses: dict[str, SourceStatus],
    tables: dict[str, pd.DataFrame],
    extra: dict[str, Any],
    redactor: RawRedactor | None = None,
    parsed: MailUsers | None = None,
) -> None:
    """Record the parsed CSV (``parsed``, or read now) and copy it into the ``save_raw`` export."""
    path = mailusers_path(options)
    if path is None:
        statuses["mailusers"] = SourceStatus("mailusers", SourceState.NOT_REQUESTED)
        return
    if parsed is None:
        from audit.collectors.mailusers import read_mailusers

        parsed = read_mailusers(path)
    tables["mailusers"] = parsed.table
    statuses["mailusers"] = parsed.status
    extra["mailusers_problems"] = parsed.problems[:100]
    if options.save_raw:
        import shutil

        target = Path(options.save_raw) / "mailusers.csv"
        if redactor is not None:
            redactor.mailusers(path, target)
        elif Path(path).resolve() != target.resolve():
            shutil.copyfile(path, private_file(target))
