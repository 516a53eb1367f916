"""Snapshots round-trip with their dtypes and are replaced atomically."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from audit import snapshot as snap
from audit.collectors import tables
from audit.errors import SnapshotError
from audit.models import SourceState, SourceStatus

USERS = [
    {
        "id": "11111111-1111-1111-1111-111111111111",
        "displayName": "</script><script>alert(1)</script>",
        "userPrincipalName": "jo_partner.com#EXT#@t.onmicrosoft.com",
        "mail": "jo@partner.com",
        "otherMails": ["jo@partner.com"],
        "proxyAddresses": ["SMTP:jo@partner.com"],
        "userType": "Guest",
        "accountEnabled": True,
        "assignedLicenses": [],
        "createdDateTime": "2024-05-01T10:00:00Z",
        "signInActivity": {"lastSignInDateTime": "2026-10-01T08:00:00Z"},
    },
    {"id": "22222222-2222-2222-2222-222222222222", "mail": 42, "otherMails": "x@y.com"},
]


def _snapshot() -> snap.Snapshot:
    users = tables.users_table(USERS)
    status = SourceStatus("users", SourceState.OK, rows=2)
    failed = SourceStatus("mailusers", SourceState.FAILED, error="boom")
    return snap.Snapshot(
        tenant={"id": "t", "name": "T", "initial_domain": "t.onmicrosoft.com"},
        collected_at=datetime(2026, 11, 1, tzinfo=UTC),
        sources={"users": status, "mailusers": failed},
        tables={"users": users},
    )


def test_round_trip_keeps_values_and_dtypes(tmp_path):
    original = _snapshot()
    loaded = snap.load(snap.save(original, tmp_path / "s"))
    pd.testing.assert_frame_equal(loaded.tables["users"], original.tables["users"])
    assert loaded.sources == original.sources
    assert loaded.tenant == original.tenant
    assert loaded.collected_at == original.collected_at


def test_failed_source_has_no_usable_table(tmp_path):
    loaded = snap.load(snap.save(_snapshot(), tmp_path / "s"))
    assert loaded.table("mailusers") is None
    assert loaded.source("dns").state is SourceState.NOT_REQUESTED


def test_wrong_json_types_are_coerced():
    users = tables.users_table(USERS)
    assert users.loc[1, "mail"] == "42"
    assert users.loc[1, "otherMails"] == ["x@y.com"]
    assert str(users["createdDateTime"].dtype) == "datetime64[us, UTC]"


def test_save_replaces_atomically_and_leaves_no_temp(tmp_path):
    target = tmp_path / "s"
    snap.save(_snapshot(), target)
    snap.save(_snapshot(), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_crash_during_save_keeps_the_old_snapshot(tmp_path):
    target = tmp_path / "s"
    snap.save(_snapshot(), target)
    broken = _snapshot()
    broken.tables["bad"] = pd.DataFrame({"x": [object()]})  # pyarrow cannot store it
    with pytest.raises(Exception):  # noqa: B017, PT011 - any failure must leave the old one
        snap.save(broken, target)
    assert snap.load(target).tables.keys() == {"users"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_not_a_snapshot(tmp_path):
    with pytest.raises(SnapshotError, match="not a snapshot"):
        snap.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(SnapshotError, match="corrupt manifest"):
        snap.load(tmp_path)
