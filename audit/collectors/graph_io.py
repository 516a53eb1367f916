"""Raw reads of Graph and the bookkeeping of each source's outcome.

:class:`_Graph` sends GETs through the SDK adapter of a client made by
:func:`audit.collectors.graph_client.make_graph_client`, takes the raw bytes and parses them with
orjson (typed kiota models parse a few hundred users per second, raw pages a hundred thousand),
follows ``@odata.nextLink`` only on the Graph host it was given, and logs pages to a checkpoint.
:func:`_run` turns a source's read into its records and :class:`SourceStatus`; a failure becomes a
failed status naming the missing permission (401/403), never zero rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast
from urllib.parse import urlsplit

import httpx
import orjson
import pandas as pd
from kiota_abstractions.api_error import APIError
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_service_client import GraphServiceClient

from audit.collectors.checkpoint import Checkpoint, PageLog
from audit.collectors.delta import DeltaChanges
from audit.collectors.graph_errors import EXPECTED, Problem, describe
from audit.collectors.graph_throttle import _Counter
from audit.collectors.partition import Slots
from audit.errors import SourceError
from audit.models import SourceState, SourceStatus

__all__ = ["APP_SOURCES", "PERMISSIONS", "REQUIRED", "SOURCES", "GraphData"]

JSON = dict[str, Any]

# Least-privileged application permission per source (the doctor command names these).
PERMISSIONS: dict[str, str] = {
    "organization": "Organization.Read.All",
    "domains": "Domain.Read.All",
    "users": "User.Read.All",
    "sign_in_activity": "AuditLog.Read.All",
    "service_principal": "Application.Read.All",
    "app_role_assignments": "Application.Read.All",
    "group_members": "GroupMember.Read.All",
    "groups": "GroupMember.Read.All",
    "sync_jobs": "Synchronization.Read.All",
    "sync_schema": "Synchronization.Read.All",
    "member_users": "User.Read.All",
    "user_attributes": "User.Read.All",
    "provisioning_logs": "AuditLog.Read.All",
}
SOURCES = tuple(PERMISSIONS)
REQUIRED = ("organization", "domains", "users")
APP_SOURCES = SOURCES[4:]
_ERROR_MAP = cast(dict[str, Any], {"4XX": ODataError, "5XX": ODataError})


@dataclass
class GraphData:
    """What :func:`collect_graph` gathered.

    ``records`` holds only sources whose status is ``ok``, as Graph's objects; ``tables`` the
    sources built into their snapshot table while they were read (``users``: no object of a full
    read is kept, unless asked to, see :func:`collect_graph`). ``throttled`` counts the retries the
    SDK's retry handler absorbed (429/503/504), ``requests`` the GET requests the collector made.
    ``delta_link`` is the ``/users/delta`` link for the next incremental run (when changes were
    tracked). After an incremental run, ``changes`` holds what changed and ``records`` has no
    ``users``: apply the changes to the previous table (:func:`audit.collectors.delta.apply_changes`).
    ``resumed_pages`` counts pages taken from a checkpoint instead of Graph. ``capped_waits``
    counts ``Retry-After`` waits shortened to the client's ``max_wait`` (``longest_retry_after``
    is the longest one asked for), ``reauthenticated`` the requests sent again with a fresh token
    after a 401, ``resent`` those sent again after a connection reset or a truncated body.
    """

    records: dict[str, list[JSON]] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    statuses: dict[str, SourceStatus] = field(default_factory=dict)
    throttled: int = 0
    requests: int = 0
    delta_link: str | None = None
    changes: DeltaChanges | None = None
    resumed_pages: int = 0
    capped_waits: int = 0
    longest_retry_after: float = 0.0
    reauthenticated: int = 0
    resent: int = 0

    def __repr__(self) -> str:
        """Counts, not contents: a repr of a million users takes seconds (and asyncio.run builds
        one of the coroutine's result when it restores its SIGINT handler)."""
        rows = {name: len(items) for name, items in self.records.items()}
        built = {name: len(table) for name, table in self.tables.items()}
        return (
            f"GraphData(records={rows}, tables={built}, requests={self.requests}, "
            f"throttled={self.throttled})"
        )


class Sink(Protocol):
    """Where a chain's items go, page by page: a list, or columns built as pages arrive
    (:class:`audit.collectors.users_columns.UserColumns`)."""

    def extend(self, items: list[JSON], /) -> None: ...


S = TypeVar("S", bound=Sink)


def new_list() -> list[JSON]:
    """A plain list sink: the objects themselves are kept."""
    return []


class TableSink:
    """A source's pages made into its table as they arrive (``make`` of each page), the objects
    dropped unless ``keep_raw``; :meth:`table` joins the pages' tables in order."""

    def __init__(
        self, make: Callable[[list[JSON]], pd.DataFrame], *, keep_raw: bool = False
    ) -> None:
        self.make = make
        self.keep_raw = keep_raw
        self.parts: list[pd.DataFrame] = []
        self.raw: list[JSON] = []

    def extend(self, items: list[JSON], /) -> None:
        self.parts.append(self.make(items))
        if self.keep_raw:
            self.raw += items

    def table(self) -> pd.DataFrame:
        """The source's table: what ``make`` gives for all the objects at once."""
        if len(self.parts) == 1:
            return self.parts[0]
        return pd.concat(self.parts, ignore_index=True) if self.parts else self.make([])


@dataclass
class _Chain(Generic[S]):
    """The items of one ``nextLink`` chain, its final ``@odata.deltaLink`` (delta rounds) and how
    many of its pages came from a checkpoint."""

    items: S
    delta_link: str | None = None
    resumed: int = 0


class _Graph:
    """Raw GETs through the SDK adapter: bytes in, orjson out, ``@odata.nextLink`` followed."""

    def __init__(
        self,
        client: GraphServiceClient,
        checkpoint: Checkpoint | None = None,
        *,
        keep_raw: bool = False,
    ) -> None:
        self.client = client
        self.keep_raw = keep_raw  # keep objects that become tables as they are read, too
        self.adapter: Any = client.request_adapter  # send_primitive_async is typed as -> None
        self.counter = _Counter()
        self.base_url = str(self.adapter.base_url).rstrip("/")
        self.origin = _origin(self.base_url)
        self.checkpoint = checkpoint
        self.requests = 0
        self.resumed = 0

    async def fetch(self, info: RequestInformation) -> tuple[bytes, JSON]:
        """One GET: the raw body and its parsed JSON object.

        Two faults the SDK does not retry get exactly one more attempt: a 401 (an access token that
        expired mid-run) is sent again without its Authorization header, so the SDK asks the
        credential for a token again; a connection reset or a truncated or unparseable body (not a
        timeout) is sent again as it was. Both are counted (``GraphData``); a second failure stands.
        """
        info.add_request_options([self.counter])
        self.requests += 1
        for last in (False, True):
            try:
                raw = await self.adapter.send_primitive_async(info, "bytes", _ERROR_MAP)
            except APIError as exc:
                if last or exc.response_status_code != 401:
                    raise
                self.counter.reauthenticated += 1
                info.headers.remove("Authorization")
                continue
            except httpx.TransportError as exc:
                if last or isinstance(exc, httpx.TimeoutException):
                    raise
                self.counter.resent += 1
                continue
            doc = _parse(raw) if raw else None
            if isinstance(doc, dict):
                return raw, doc
            if last:
                raise Problem("Graph answered with something that is not a JSON object")
            self.counter.resent += 1
        raise AssertionError("unreachable")  # pragma: no cover

    async def document(self, info: RequestInformation) -> JSON:
        return (await self.fetch(info))[1]

    async def pages(self, info: RequestInformation) -> list[JSON]:
        """Every item of a collection, following ``@odata.nextLink`` to the end."""
        return (await self.chain(info, new_list)).items

    async def table(
        self, info: RequestInformation, make: Callable[[list[JSON]], pd.DataFrame]
    ) -> tuple[pd.DataFrame, list[JSON] | None]:
        """A collection made into its table page by page, and its objects when kept."""
        sink = (await self.chain(info, lambda: TableSink(make, keep_raw=self.keep_raw))).items
        return sink.table(), sink.raw if self.keep_raw else None

    async def chain(
        self,
        info: RequestInformation,
        sink: Callable[[], S],
        *,
        resumable: bool = False,
        limit: Slots | None = None,
        on_items: Callable[[list[JSON]], None] | None = None,
    ) -> _Chain[S]:
        """A whole chain, its items put page by page into a new ``sink()``; ``resumable`` logs its pages
        to the checkpoint (if any) and continues a logged chain where it stopped; ``limit``
        bounds requests in flight across chains; ``on_items`` sees each page's items as they
        arrive (resumed ones first)."""
        log = self.checkpoint.log(self.url_of(info)) if resumable and self.checkpoint else None
        point = log.resume() if log is not None else None
        walk = _Walk(limit, on_items)
        if point is None:
            return await self._walk(info, info, sink(), log, walk)
        if on_items is not None:
            on_items(point.items)
        resumed = _Chain(sink(), point.delta_link, point.pages)
        resumed.items.extend(point.items)
        next_link, point = point.next_link, None  # the resumed objects live on in the sink only
        if next_link is None:
            self.resumed += resumed.resumed
            return resumed
        try:
            chain = await self._walk(self.follow(next_link, info), info, resumed.items, log, walk)
        except EXPECTED as exc:
            if describe(exc).status not in (400, 404, 410) or log is None:
                raise
            log.start()  # the stored skip token expired: read the chain again from its start
            return await self._walk(info, info, sink(), log, walk)
        self.resumed += resumed.resumed
        chain.resumed = resumed.resumed
        return chain

    async def _walk(
        self,
        info: RequestInformation,
        first: RequestInformation,
        items: S,
        log: PageLog | None,
        walk: _Walk,
    ) -> _Chain[S]:
        pages = 0
        while True:
            if walk.limit is None:
                raw, doc = await self.fetch(info)
            else:
                async with walk.limit.hold(pages=pages if info is first else pages + 1):
                    raw, doc = await self.fetch(info)
            pages += 1
            value = doc.get("value")
            if not isinstance(value, list):
                raise Problem("collection response without a 'value' list")
            page = [v for v in value if isinstance(v, dict)]
            items.extend(page)
            if walk.on_items is not None:
                walk.on_items(page)
            if log is not None:
                log.append(raw)
            link, delta = doc.get("@odata.nextLink"), doc.get("@odata.deltaLink")
            del raw, doc, value, page  # this page lives on in ``items`` only while the next loads
            if not link:
                return _Chain(items, str(delta) if delta else None)
            info = self.follow(str(link), first)

    def url_of(self, info: RequestInformation) -> str:
        """The absolute URL of a request (the identity of its chain in a checkpoint)."""
        url = str(info.url)
        return url if "://" in url else self.base_url + url

    def follow(self, link: str, previous: RequestInformation | None) -> RequestInformation:
        """A GET for a nextLink (or a stored deltaLink), refused if it leaves the Graph host we
        were given."""
        if _origin(link) != self.origin:
            raise Problem(f"@odata.nextLink points away from {self.origin[1]}")
        info = RequestInformation(Method.GET)
        info.url = link
        info.headers.try_add("Accept", "application/json")
        for value in previous.headers.get("ConsistencyLevel") if previous is not None else ():
            info.headers.try_add("ConsistencyLevel", value)
        return info


@dataclass(frozen=True)
class _Walk:
    """How a chain is walked: the shared bound on requests in flight, and who sees each page."""

    limit: Slots | None = None
    on_items: Callable[[list[JSON]], None] | None = None


def _parse(raw: bytes) -> Any:
    """orjson.loads; None for a body that is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


async def _run(
    data: GraphData, source: str, fetch: Callable[[], Awaitable[list[JSON]]]
) -> list[JSON] | None:
    """Collect one source into ``data``; None (and a failed status) when it could not be read."""
    try:
        rows = await fetch()
    except EXPECTED as exc:
        data.statuses[source] = _failed(source, exc)
        return None
    data.records[source] = rows
    data.statuses[source] = SourceStatus(source, SourceState.OK, rows=len(rows))
    return rows


async def _run_table(
    data: GraphData,
    source: str,
    fetch: Callable[[], Awaitable[tuple[pd.DataFrame, list[JSON] | None]]],
) -> pd.DataFrame | None:
    """As :func:`_run`, for a source built into its table while it is read (its objects, when
    they were kept, go to ``records``)."""
    try:
        table, raw = await fetch()
    except EXPECTED as exc:
        data.statuses[source] = _failed(source, exc)
        return None
    data.tables[source] = table
    if raw is not None:
        data.records[source] = raw
    data.statuses[source] = SourceStatus(source, SourceState.OK, rows=len(table))
    return table


def _failed(source: str, exc: BaseException) -> SourceStatus:
    """The failed status for ``exc``; raises :class:`SourceError` for a broken required source."""
    problem = describe(exc)
    detail = ({"status": problem.status} if problem.status else {}) | problem.detail
    if problem.status in (401, 403):
        permission = PERMISSIONS[source]
        return SourceStatus(source, SourceState.FAILED, error=str(problem),
                            missing_permission=permission, detail=detail)  # fmt: skip
    if source in REQUIRED:
        raise SourceError(source, str(problem), status=problem.status) from exc
    return SourceStatus(source, SourceState.FAILED, error=str(problem), detail=detail)


def _not_requested(data: GraphData, sources: Iterable[str], reason: str | None = None) -> None:
    for source in sources:
        data.statuses[source] = SourceStatus(source, SourceState.NOT_REQUESTED, error=reason)
