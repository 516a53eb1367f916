"""Checkpoints: a collection interrupted at page k resumes from its saved nextLink chain."""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.collectors.checkpoint import Checkpoint, PageLog
from audit.collectors.graph import GraphData, close_graph_client, collect_graph, make_graph_client
from audit.demo.emulator import Faults, GraphEmulator
from audit.demo.model import DemoTenant
from audit.errors import ConfigError, SourceError
from tests._fault_proxy import Fault, FaultProxy
from tests._graph_tenant import assert_same_collection, guest, make_tenant

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
    header = log.path.read_bytes().splitlines()[0].split(b" ", 1)[1]
    assert orjson.loads(header)["url"] == URL + "&other"


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


def collect(
    emulator: GraphEmulator | FaultProxy, checkpoint: Checkpoint | None, **kw: Any
) -> GraphData:
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
    assert_same_collection(resumed, clean)
    assert resumed.resumed_pages > 0
    # nothing stored is read twice; a chain's first page is re-read only if none of it was stored
    assert len(again) <= total - resumed.resumed_pages
    assert len(again) < total
    assert not folder.exists()  # complete: nothing left to resume


def test_an_expired_stored_link_restarts_its_chain(tmp_path: Path) -> None:
    tenant = big_tenant()
    folder = tmp_path / "cp"
    cut = Fault(lambda s: s.source("/users") and s.next_page, "status", skip=1, times=99)
    expired = Fault(lambda s: s.source("/users") and s.next_page, "status", times=1, status=400,
                    code="Directory_ExpiredPageToken")  # fmt: skip
    with GraphEmulator(tenant) as em, FaultProxy(em.base_url, [cut]) as proxy:
        with pytest.raises(SourceError):
            collect(proxy, Checkpoint(folder), page_size=3)
        cut.times = 0  # the network is back, but the stored skip token is no longer accepted
        proxy.faults.insert(0, expired)
        before = len(em.requests)
        resumed = collect(proxy, Checkpoint(folder), page_size=3)
        firsts = [
            r
            for r in em.requests[before:]
            if r.path == "/v1.0/users" and not r.query.count("skiptoken")
        ]
        clean = collect(em, None, page_size=3)
    assert_same_collection(resumed, clean)
    assert expired.fired == 1
    assert resumed.resumed_pages == 1  # the members' one page; the guests were read again
    assert firsts  # the guests chain began again at its first page


def test_a_checkpoint_is_bound_to_its_graph_url(tmp_path: Path) -> None:
    tenant = big_tenant()
    folder = tmp_path / "cp"
    with GraphEmulator(tenant, faults=Faults(outage_after=8)) as em, pytest.raises(SourceError):
        collect(em, Checkpoint(folder), page_size=3)
    with GraphEmulator(tenant) as em:  # another port: another service, nothing to resume
        data = collect(em, Checkpoint(folder), page_size=3)
    assert data.resumed_pages == 0
    assert len(data.tables["users"]) == 54


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
    assert len(data.tables["users"]) == 54


# ---- a checkpoint folder that is not ours, and logs we did not write --------------------------------


def _interrupted(em: GraphEmulator, faults: Faults, folder: Path, **kw: Any) -> None:
    """A collection into ``folder`` cut off after 8 requests; the emulator answers again after."""
    faults.outage_after = len(em.requests) + 8
    with pytest.raises(SourceError):
        collect(em, Checkpoint(folder, **kw), page_size=3)
    faults.outage_after = None


def _forge(path: Path, *, key: bytes | None) -> None:
    """Replace a log with one page holding an invented guest, ending the chain: in the format of
    the log (signed with a key that is not the folder's) or without signatures (older format)."""
    header = path.read_bytes().splitlines()[0].split(b" ", 1)[1]
    url = orjson.loads(header)["url"]
    body = orjson.dumps({"url": url, "tenant": "", "created": datetime.now(UTC).isoformat()})
    page = orjson.dumps({"value": [{"id": "invented", "userType": "Guest", "displayName": "x"}]})
    if key is None:
        path.write_bytes(body + b"\n" + page + b"\n")
        return
    log = PageLog(path, url, max_age=timedelta(hours=1), durable=False, key=key)
    log.start()
    log.append(page)


@pytest.mark.parametrize("key", [None, b"attacker-key".ljust(32, b"!")])
def test_a_planted_log_is_never_resumed(tmp_path: Path, key: bytes | None) -> None:
    folder, faults = tmp_path / "cp", Faults()
    with GraphEmulator(big_tenant(), faults=faults) as em:
        _interrupted(em, faults, folder)
        logs = Checkpoint(folder).logs()
        assert logs
        for path in logs:
            _forge(path, key=key)
        data = collect(em, Checkpoint(folder), page_size=3)
        clean = collect(em, None, page_size=3)
    assert data.resumed_pages == 0
    assert_same_collection(data, clean)
    assert "invented" not in set(data.tables["users"]["id"])


def test_a_log_of_another_tenant_is_never_resumed(tmp_path: Path) -> None:
    folder, faults = tmp_path / "cp", Faults()
    with GraphEmulator(big_tenant(), faults=faults) as em:
        _interrupted(em, faults, folder, tenant="tenant-a")
        other = collect(em, Checkpoint(folder, tenant="tenant-b"), page_size=3)
        _interrupted(em, faults, folder, tenant="tenant-a")
        same = collect(em, Checkpoint(folder, tenant="tenant-a"), page_size=3)
    assert other.resumed_pages == 0
    assert same.resumed_pages > 0


def test_an_edited_page_ends_what_is_resumed(tmp_path: Path) -> None:
    folder, faults = tmp_path / "cp", Faults()
    with GraphEmulator(big_tenant(), faults=faults) as em:
        _interrupted(em, faults, folder)
        users = max(Checkpoint(folder).logs(), key=lambda p: p.stat().st_size)
        lines = users.read_bytes().splitlines(keepends=True)
        assert len(lines) > 2
        lines[1] = lines[1].replace(b'"id":"', b'"id":"x', 1)  # the same MAC, another page
        users.write_bytes(b"".join(lines))
        data = collect(em, Checkpoint(folder), page_size=3)
        clean = collect(em, None, page_size=3)
    assert_same_collection(data, clean)
    assert data.resumed_pages == 1  # the members' page; the guests chain was read again


def test_the_folder_and_its_files_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "cp"
    log = fresh_log(folder)
    log.resume(now=NOW)
    log.append(page(0))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert sorted(p.name for p in folder.iterdir()) == sorted(["key", log.path.name])


def test_a_symlinked_folder_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    (tmp_path / "cp").symlink_to(victim)
    with pytest.raises(ConfigError, match="not private"):
        fresh_log(tmp_path / "cp").resume(now=NOW)
    assert [p.name for p in victim.iterdir()] == ["keep.txt"]


def test_a_folder_others_may_write_in_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "cp"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(ConfigError, match="others may write"):
        fresh_log(folder).resume(now=NOW)
    assert list(folder.iterdir()) == []
    folder.chmod(0o755)  # ours and only readable by others: made private and used
    fresh_log(folder).resume(now=NOW)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "cp"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(ConfigError, match="owned by user id 65534"):
        fresh_log(folder).resume(now=NOW)


def test_planted_links_and_fifos_in_the_folder_receive_nothing(tmp_path: Path) -> None:
    """A symlink, a hard link kept readable elsewhere, or a FIFO named like a log: removed, the
    run writes a new file of its own and never blocks."""
    folder = tmp_path / "cp"
    names = [Checkpoint(folder).log(f"{URL}&n={n}").path for n in range(3)]
    victim, linked = tmp_path / "victim.txt", tmp_path / "readable.txt"
    victim.write_text("precious")
    linked.write_text("")
    linked.chmod(0o644)
    names[0].symlink_to(victim)
    os.link(linked, names[1])
    os.mkfifo(names[2])
    for n, path in enumerate(names):
        log = Checkpoint(folder).log(f"{URL}&n={n}")
        assert log.resume(now=NOW) is None
        log.append(page(0, last=True))
        assert path.is_file()
        assert not path.is_symlink()
        assert path.stat().st_nlink == 1
    assert victim.read_text() == "precious"
    assert linked.read_text() == ""


def test_run_refuses_a_planted_default_checkpoint_folder(tmp_path: Path) -> None:
    """``run --out X`` keeps its checkpoint in ``.X.checkpoint``: planted as a symlink by whoever
    can write beside X, it is refused with exit 2 and the link's target is left alone."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    (tmp_path / ".out.checkpoint").symlink_to(victim)
    with GraphEmulator(big_tenant()) as em:
        args = ["run", "--graph-url", em.base_url, "--auth", "none", "--no-dns"]
        args += ["--no-verified-domains", "--out", str(tmp_path / "out")]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "checkpoint folder" in result.output
    assert "not private" in result.output
    assert [p.name for p in victim.iterdir()] == ["keep.txt"]
    assert not (tmp_path / "out").exists()
