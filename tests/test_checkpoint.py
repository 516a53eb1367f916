"""Checkpoints: a collection interrupted at page k resumes from its saved nextLink chain."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from audit.collectors.checkpoint import Checkpoint, PageLog
from audit.collectors.graph import GraphData, close_graph_client, collect_graph, make_graph_client
from audit.demo.emulator import Faults, GraphEmulator
from audit.demo.model import DemoTenant
from audit.errors import SourceError
from tests._graph_tenant import guest, make_tenant

JSON = dict[str, Any]
URL = "http://127.0.0.1:1/v1.0/users?$top=2"
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def page(n: int, last: bool = False) -> bytes:
    doc: JSON = {"@odata.context": "ctx", "value": [{"id": f"u{n}a"}, {"id": f"u{n}b"}]}
    if not last:
        doc["@odata.nextLink"] = f"{URL}&$skiptoken={n + 1}"
    return orjson.dumps(doc)


def fresh_log(folder: Path, *, max_age: timedelta = timedelta(hours=1)) -> PageLog:
    return Checkpoint(folder, max_age=max_age).log(URL)


# ---- the page log ---------------------------------------------------------------------------------


def test_a_log_resumes_at_the_last_stored_next_link(tmp_path: Path) -> None:
    log = fresh_log(tmp_path)
    assert log.resume(now=NOW) is None
    log.append(page(0))
    log.append(b'{"value": [{"id": "u1a"}],\n "@odata.nextLink": "' + URL.encode() + b'&k=2"}')
    point = fresh_log(tmp_path).resume(now=NOW + timedelta(minutes=5))
    assert point is not None
    assert [u["id"] for u in point.items] == ["u0a", "u0b", "u1a"]
    assert point.next_link == f"{URL}&k=2"
    assert (point.pages, point.done) == (2, False)
    log.append(page(2, last=True))
    done = fresh_log(tmp_path).resume(now=NOW)
    assert done is not None
    assert done.done
    assert len(done.items) == 5


def test_a_torn_last_line_is_dropped_and_cut_off(tmp_path: Path) -> None:
    log = fresh_log(tmp_path)
    log.resume(now=NOW)
    log.append(page(0))
    intact = log.path.stat().st_size
    with log.path.open("ab") as fh:
        fh.write(page(1)[:30])  # killed in the middle of a write
    point = fresh_log(tmp_path).resume(now=NOW)
    assert point is not None
    assert point.pages == 1
    assert point.next_link == f"{URL}&$skiptoken=1"
    assert log.path.stat().st_size == intact
    log.append(page(1))
    again = fresh_log(tmp_path).resume(now=NOW)
    assert again is not None
    assert again.pages == 2


def test_a_log_of_another_chain_or_too_old_starts_over(tmp_path: Path) -> None:
    log = fresh_log(tmp_path)
    log.resume(now=NOW - timedelta(hours=2))
    log.append(page(0))
    assert fresh_log(tmp_path).resume(now=NOW) is None  # older than max_age
    log.append(page(0))
    other = PageLog(log.path, URL + "&other", max_age=timedelta(days=1), durable=False)
    assert other.resume(now=NOW) is None
    assert orjson.loads(log.path.read_bytes().splitlines()[0])["url"] == URL + "&other"


def test_resume_false_discards_and_clear_removes(tmp_path: Path) -> None:
    log = fresh_log(tmp_path / "cp")
    log.resume()
    log.append(page(0, last=True))
    assert Checkpoint(tmp_path / "cp").logs() == [log.path]
    assert Checkpoint(tmp_path / "cp", resume=False).logs() == []
    assert not (tmp_path / "cp").exists()


# ---- an interrupted collection against the emulator -----------------------------------------------


def big_tenant() -> DemoTenant:
    tenant = make_tenant()
    extra = [guest(100 + n) for n in range(40)]
    tenant.users += extra
    return tenant


def collect(emulator: GraphEmulator, checkpoint: Checkpoint | None, **kw: Any) -> GraphData:
    async def run() -> GraphData:
        client = make_graph_client(base_url=emulator.base_url, credential=None, retry_delay=0.0)
        try:
            return await collect_graph(client, app=None, checkpoint=checkpoint, **kw)
        finally:
            await close_graph_client(client)

    return asyncio.run(run())


def user_pages(emulator: GraphEmulator, start: int = 0) -> list[str]:
    return [
        r.query for r in emulator.requests[start:] if r.path == "/v1.0/users" and r.status == 200
    ]


@pytest.mark.parametrize("partitions", [0, 4])
def test_an_interrupted_collection_resumes_where_it_stopped(
    tmp_path: Path, partitions: int
) -> None:
    tenant = big_tenant()
    with GraphEmulator(tenant) as em:
        clean = collect(em, None, page_size=3, partitions=partitions)
        total = len(user_pages(em))
    faults = Faults(outage_after=8)
    folder = tmp_path / ".checkpoint"
    with GraphEmulator(tenant, faults=faults) as em:
        with pytest.raises(SourceError, match="users: HTTP 500"):
            collect(em, Checkpoint(folder), page_size=3, partitions=partitions)
        done = len(user_pages(em))
        assert done > 0
        assert Checkpoint(folder).logs()
        faults.outage_after = None  # the network is back
        before = len(em.requests)
        resumed = collect(em, Checkpoint(folder), page_size=3, partitions=partitions)
        again = user_pages(em, before)
    assert resumed.records == clean.records
    assert resumed.resumed_pages > 0
    # nothing stored is read twice; a chain's first page is re-read only if none of it was stored
    assert len(again) <= total - resumed.resumed_pages
    assert len(again) < total
    assert not folder.exists()  # complete: nothing left to resume


def test_an_expired_stored_link_restarts_its_chain(tmp_path: Path) -> None:
    tenant = big_tenant()
    folder = tmp_path / "cp"
    faults = Faults(outage_after=6)
    with GraphEmulator(tenant, faults=faults) as em:
        with pytest.raises(SourceError):
            collect(em, Checkpoint(folder), page_size=3)
        for path in Checkpoint(folder).logs():  # the stored skip tokens are no longer accepted
            path.write_bytes(path.read_bytes().replace(b"skiptoken=", b"skiptoken=x"))
        faults.outage_after = None
        before = len(em.requests)
        resumed = collect(em, Checkpoint(folder), page_size=3)
        statuses = [(r.status, "skiptoken" in r.query) for r in em.requests[before:]]
        clean = collect(em, None, page_size=3)
    assert resumed.records == clean.records
    assert resumed.resumed_pages == 1  # the members' one page; the guests were read again
    refused = statuses.index((400, True))
    assert (200, False) in statuses[refused:]  # the guests chain began again at its first page


def test_a_checkpoint_is_bound_to_its_graph_url(tmp_path: Path) -> None:
    tenant = big_tenant()
    folder = tmp_path / "cp"
    with GraphEmulator(tenant, faults=Faults(outage_after=8)) as em, pytest.raises(SourceError):
        collect(em, Checkpoint(folder), page_size=3)
    with GraphEmulator(tenant) as em:  # another port: another service, nothing to resume
        data = collect(em, Checkpoint(folder), page_size=3)
    assert data.resumed_pages == 0
    assert len(data.records["users"]) == 54


def test_resume_false_reads_everything_again(tmp_path: Path) -> None:
    tenant = big_tenant()
    folder = tmp_path / "cp"
    faults = Faults(outage_after=8)
    with GraphEmulator(tenant, faults=faults) as em:
        with pytest.raises(SourceError):
            collect(em, Checkpoint(folder), page_size=3)
        faults.outage_after = None
        data = collect(em, Checkpoint(folder, resume=False), page_size=3)
    assert data.resumed_pages == 0
    assert len(data.records["users"]) == 54
