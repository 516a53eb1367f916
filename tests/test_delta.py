"""Incremental runs with /users/delta: a later run reads only the changes and gives the same frame."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pandas as pd
import pytest

from audit import snapshot as snap
from audit.analysis.frame import guests_frame
from audit.collectors.delta import (
    DELTA_LINK,
    DELTA_SELECT,
    DeltaChanges,
    DeltaState,
    apply_changes,
    fold_changes,
    is_collected,
    needs_refetch,
)
from audit.collectors.graph import GUEST_SELECT, _refetch, close_graph_client, make_graph_client
from audit.collectors.graph_io import _Graph
from audit.collectors.pipeline import CollectOptions, collect
from audit.collectors.tables import users_table
from audit.demo.emulator import GraphEmulator
from audit.demo.model import DemoTenant
from audit.demo.tenant import generate_tenant
from audit.models import SourceState
from audit.snapshot import Snapshot

JSON = dict[str, Any]
NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def tenant() -> DemoTenant:
    return generate_tenant(300, 30, seed=3, now=NOW)


@pytest.fixture
def emulator(tenant: DemoTenant) -> Iterator[GraphEmulator]:
    with GraphEmulator(tenant) as em:
        yield em


def run(emulator: GraphEmulator, **kw: Any) -> Snapshot:
    options = CollectOptions(graph_url=emulator.base_url, auth="none", dns=False, **kw)
    return asyncio.run(collect(options, now=NOW))


def saved(snapshot: Snapshot, folder: Path) -> Snapshot:
    """Through disk and back, as a monthly run would find last month's snapshot."""
    return snap.load(snap.save(snapshot, folder))


def sorted_users(snapshot: Snapshot) -> pd.DataFrame:
    users = snapshot.tables["users"]
    return users.sort_values("id").reset_index(drop=True)


def sorted_frame(snapshot: Snapshot) -> pd.DataFrame:
    return guests_frame(snapshot).sort_values("object_id").reset_index(drop=True)


def guests_of(tenant: DemoTenant) -> list[JSON]:
    return [u for u in tenant.users if u.get("userType") == "Guest"]


def change_the_tenant(emulator: GraphEmulator, tenant: DemoTenant) -> dict[str, str]:
    """Every kind of change an incremental run must apply; returns the ids involved by kind."""
    guests = guests_of(tenant)
    members = [u for u in tenant.users if u.get("userType") == "Member" and not is_collected(u)]
    updated, deleted, demoted = guests[0], guests[1], guests[2]
    emulator.update_user(updated["id"], {"mail": "renamed@new-partner.example", "otherMails": []})
    emulator.delete_user(deleted["id"])
    emulator.update_user(demoted["id"], {"userType": "Member", "creationType": None})
    emulator.update_user(members[0]["id"], {"userType": "Guest"})  # promoted into scope
    emulator.update_user(members[1]["id"], {"displayName": "Still internal"})
    added = {**guests[3], "id": str(uuid.uuid4()), "mail": "brand.new@fabrikam.example"}
    emulator.add_user(added)
    emulator.update_user(guests[4]["id"], {"accountEnabled": False})
    emulator.update_user(guests[4]["id"], {"displayName": "Changed twice"})
    return {"updated": updated["id"], "deleted": deleted["id"], "added": added["id"]}


def _members_read(query: str) -> bool:
    """The small full read of the users who are not guests (``member_users``)."""
    return parse_qs(query).get("$filter") == ["userType eq 'Member'"]


def test_incremental_run_gives_the_same_frame_as_a_full_collection(
    tenant: DemoTenant, emulator: GraphEmulator, tmp_path: Path
) -> None:
    first = saved(run(emulator, track_changes=True), tmp_path / "first")
    assert first.extra[DELTA_SELECT] == list(GUEST_SELECT)
    ids = change_the_tenant(emulator, tenant)
    before = len(emulator.requests)
    incremental = run(emulator, delta_from=first)
    user_requests = [r for r in emulator.requests[before:] if r.path.startswith("/v1.0/users")]
    full = run(emulator)

    guest_reads = [r for r in user_requests if not _members_read(r.query)]
    assert [r.path for r in guest_reads] == ["/v1.0/users/delta"]  # the changes, not the list
    pd.testing.assert_frame_equal(sorted_users(incremental), sorted_users(full))
    pd.testing.assert_frame_equal(sorted_frame(incremental), sorted_frame(full))
    users = incremental.tables["users"].set_index("id")
    assert ids["deleted"] not in users.index
    assert users.loc[ids["updated"], "mail"] == "renamed@new-partner.example"
    assert ids["added"] in users.index
    status = incremental.sources["users"]
    assert status.detail == {"paging": "delta", "changed": 6, "removed": 1, "refetched": 0}
    assert status.rows == len(users)
    assert incremental.extra["incremental_from"] == first.collected_at.isoformat()
    assert incremental.extra[DELTA_LINK] != first.extra[DELTA_LINK]


def test_a_round_without_changes_changes_nothing(emulator: GraphEmulator, tmp_path: Path) -> None:
    first = saved(run(emulator, track_changes=True), tmp_path / "first")
    again = run(emulator, delta_from=first)
    pd.testing.assert_frame_equal(again.tables["users"], first.tables["users"])
    assert again.sources["users"].detail["changed"] == 0


def test_rows_keep_their_place_and_new_users_come_last(
    tenant: DemoTenant, emulator: GraphEmulator, tmp_path: Path
) -> None:
    first = saved(run(emulator, track_changes=True), tmp_path / "first")
    ids = change_the_tenant(emulator, tenant)
    after = list(run(emulator, delta_from=first).tables["users"]["id"])
    before = list(first.tables["users"]["id"])
    assert [i for i in before if i in after] == after[: len(after) - 2]  # all but the 2 new
    assert after[-1] == ids["added"]
    assert after.index(ids["updated"]) == before.index(ids["updated"])


def test_sign_in_activity_is_not_collected_incrementally(
    emulator: GraphEmulator, tmp_path: Path
) -> None:
    first = saved(run(emulator, track_changes=True, include_sign_in=True), tmp_path / "first")
    assert first.tables["users"]["lastSignInDateTime"].notna().any()
    incremental = run(emulator, delta_from=first, include_sign_in=True)
    status = incremental.sources["sign_in_activity"]
    assert status.state == SourceState.NOT_REQUESTED
    assert status.error
    assert "delta" in status.error
    assert incremental.tables["users"]["lastSignInDateTime"].isna().all()


def test_a_refused_delta_link_means_a_full_read(
    tenant: DemoTenant, emulator: GraphEmulator, tmp_path: Path
) -> None:
    first = run(emulator, track_changes=True)
    first.extra[DELTA_LINK] = first.extra[DELTA_LINK].split("$deltatoken=")[0] + "$deltatoken=x"
    change_the_tenant(emulator, tenant)
    fallback = run(emulator, delta_from=saved(first, tmp_path / "first"))
    full = run(emulator)
    pd.testing.assert_frame_equal(fallback.tables["users"], full.tables["users"])
    note = fallback.sources["users"].detail["incremental"]
    assert note.startswith("full read: the delta link was refused (HTTP 400")
    assert fallback.extra["incremental"] == note
    assert fallback.extra[DELTA_LINK]  # and the next run can be incremental again


def test_a_snapshot_of_another_tenant_means_a_full_read(
    emulator: GraphEmulator, tmp_path: Path
) -> None:
    first = run(emulator, track_changes=True)
    first.tenant["id"] = str(uuid.uuid4())
    again = run(emulator, delta_from=saved(first, tmp_path / "first"))
    note = again.sources["users"].detail["incremental"]
    assert note == "full read: the previous snapshot is of another tenant"


def test_a_snapshot_without_a_delta_link_means_a_full_read(
    emulator: GraphEmulator, tmp_path: Path
) -> None:
    plain = saved(run(emulator), tmp_path / "plain")
    assert DELTA_LINK not in plain.extra
    again = run(emulator, delta_from=plain)
    assert again.extra["incremental"] == "full read: the previous snapshot stored no delta link"
    assert again.extra[DELTA_LINK]
    pd.testing.assert_frame_equal(again.tables["users"], plain.tables["users"])


def test_save_raw_refuses_an_incremental_run(emulator: GraphEmulator, tmp_path: Path) -> None:
    first = run(emulator, track_changes=True)
    from audit.errors import ConfigError

    with pytest.raises(ConfigError, match="save_raw"):
        run(emulator, delta_from=first, save_raw=str(tmp_path / "raw"))


# ---- the pure parts -------------------------------------------------------------------------------


def user(uid: str, **kw: Any) -> JSON:
    base = dict.fromkeys(GUEST_SELECT)
    return {**base, "id": uid, "userType": "Guest", "creationType": "Invitation", **kw}


def test_fold_keeps_the_last_word_per_id() -> None:
    changes = DeltaChanges()
    fold_changes(
        changes,
        [
            user("a", mail="a1@x.example"),
            user("b"),
            {"id": "a", "mail": "a2@x.example"},  # a partial entry merges
            {"id": "b", "@removed": {"reason": "changed"}},
            {"id": "c", "@removed": {"reason": "deleted"}},
            user("c"),  # restored
            {"mail": "no id"},
        ],
    )
    assert list(changes.upserts) == ["a", "c"]
    assert changes.upserts["a"]["mail"] == "a2@x.example"
    assert changes.removed == {"b"}


def test_partial_entries_that_matter_are_read_again() -> None:
    changes = DeltaChanges()
    fold_changes(
        changes,
        [
            user("full"),
            {"id": "known", "displayName": "x"},
            {"id": "unknown-member", "displayName": "x"},
            {"id": "type-changed", "userType": "Guest"},
        ],
    )
    assert needs_refetch(changes, GUEST_SELECT, frozenset({"known"})) == ["known", "type-changed"]


def test_refetch_reads_whole_objects_and_drops_vanished_ones(
    tenant: DemoTenant, emulator: GraphEmulator
) -> None:
    target = guests_of(tenant)[0]
    changes = DeltaChanges()
    fold_changes(
        changes, [{"id": target["id"], "displayName": "x"}, {"id": "gone", "userType": "x"}]
    )

    async def go() -> None:
        client = make_graph_client(base_url=emulator.base_url, credential=None)
        try:
            await _refetch(_Graph(client), changes, [target["id"], "gone"])
        finally:
            await close_graph_client(client)

    asyncio.run(go())
    assert changes.upserts[target["id"]] == {k: target.get(k) for k in GUEST_SELECT}
    assert changes.removed == {"gone"}
    assert changes.refetched == 2


def test_apply_changes_keeps_types_and_places() -> None:
    previous = users_table([user("a", mail="a@x.example"), user("b"), user("c"), user("m")])
    changes = DeltaChanges(link="next")
    fold_changes(
        changes,
        [
            user("n", mail="n@x.example"),
            user("b", mail="b2@x.example", accountEnabled=False),
            {"id": "c", "@removed": {"reason": "changed"}},
            user("m", userType="Member", creationType=None),  # no longer collected
            user("i", userType="Member"),  # an invited member enters
        ],
    )
    table = apply_changes(previous, changes)
    assert list(table["id"]) == ["a", "b", "n", "i"]
    assert table.loc[1, "mail"] == "b2@x.example"
    assert not table.loc[1, "accountEnabled"]
    assert table.dtypes.to_dict() == previous.dtypes.to_dict()
    empty = apply_changes(previous, DeltaChanges())
    pd.testing.assert_frame_equal(empty, previous)


def test_delta_state_needs_a_link_and_a_users_table(
    emulator: GraphEmulator,
) -> None:
    tracked = run(emulator, track_changes=True)
    state = DeltaState.from_snapshot(tracked)
    assert state is not None
    assert state.tenant_id == tracked.tenant["id"]
    assert state.select == GUEST_SELECT
    assert state.known_ids == frozenset(tracked.tables["users"]["id"])
    assert DeltaState.from_snapshot(run(emulator)) is None
