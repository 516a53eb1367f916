"""Snapshots round-trip with their dtypes and are replaced atomically."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from click.testing import CliRunner

from audit import snapshot as snap
from audit.cli import cli
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


# ---- snapshot folders from elsewhere: manifests, table names, planted .old folders -----------------


def _edit(manifest: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    *parents, last = path
    for key in parents:
        manifest = manifest[key]
    if value is _DELETE:
        del manifest[last]
    else:
        manifest[last] = value


_DELETE = object()
_DEEP = {"a": [{"a": [{"a": [{"a": "x"}]}]}]}
for _ in range(40):
    _DEEP = {"a": [_DEEP]}

BAD_MANIFESTS: dict[str, tuple[tuple[Any, ...], Any, str]] = {
    "collected_at missing": (("collected_at",), _DELETE, "'collected_at' is missing"),
    "collected_at not a time": (("collected_at",), "yesterday", "not an ISO 8601 time"),
    "collected_at a number": (("collected_at",), 20261101, "'collected_at' is not a string"),
    "tables a list": (("tables",), ["users"], "'tables' is not an object"),
    "row count a string": (("tables", "users"), "many", "row count of table 'users'"),
    "table name with ../": (("tables", "../../outside"), 2, "is not a plain name"),
    "table name absolute": (("tables", "/etc/x"), 2, "is not a plain name"),
    "sources a string": (("sources",), "x", "'sources' is not a list"),
    "source without a name": (("sources", 0, "name"), _DELETE, "a source has no name"),
    "source with a bad state": (("sources", 0, "state"), "maybe", "unknown state"),
    "source rows a string": (("sources", 0, "rows"), "2", "'rows' is not a number"),
    "tenant a string": (("tenant",), "t", "'tenant' is not an object or null"),
    "tenant name a list": (("tenant", "name"), ["T"], "tenant 'name' is not a string"),
    "config a list": (("config",), [], "'config' is not an object or null"),
    "extra nested 120 deep": (("extra", "deep"), _DEEP, "nested deeper than 100 levels"),
}


@pytest.mark.parametrize("name", list(BAD_MANIFESTS))
def test_a_bad_manifest_is_a_clear_error_naming_the_file(name: str, tmp_path: Path) -> None:
    path, value, message = BAD_MANIFESTS[name]
    folder = snap.save(_snapshot(), tmp_path / "snapshot")
    (tmp_path / "outside.parquet").write_bytes((folder / "users.parquet").read_bytes())
    manifest = orjson.loads((folder / "manifest.json").read_bytes())
    _edit(manifest, path, value)
    text = orjson.dumps(manifest)
    if name == "extra nested 120 deep":  # orjson writes at most 255 levels: nest it by hand
        text = text.replace(b'"x"', b"[" * 80 + b'"x"' + b"]" * 80)
    (folder / "manifest.json").write_bytes(text)
    with pytest.raises(SnapshotError, match=re.escape(message)) as raised:
        snap.load(folder)
    assert str(folder / "manifest.json") in str(raised.value)
    result = CliRunner().invoke(cli, ["analyze", str(folder)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {folder / 'manifest.json'}: invalid manifest")


def test_a_table_that_is_a_symlink_is_missing(tmp_path: Path) -> None:
    folder = snap.save(_snapshot(), tmp_path / "snapshot")
    (tmp_path / "elsewhere.parquet").write_bytes((folder / "users.parquet").read_bytes())
    (folder / "users.parquet").unlink()
    (folder / "users.parquet").symlink_to(tmp_path / "elsewhere.parquet")
    with pytest.raises(SnapshotError, match="table 'users' is missing"):
        snap.load(folder)


@pytest.mark.parametrize("planted", ["symlink to a folder", "symlink to a snapshot", "a file"])
def test_a_planted_old_folder_beside_the_snapshot(planted: str, tmp_path: Path) -> None:
    """``.snapshot.old`` is where a save moves the previous snapshot: whatever was planted there is
    removed (never followed) and never put back in place of the snapshot."""
    victim = tmp_path / "victim"
    snap.save(_snapshot(), victim)
    before = sorted((p.name, p.read_bytes()) for p in victim.iterdir())
    out = tmp_path / "out"
    out.mkdir()
    old = out / ".snapshot.old"
    if planted == "a file":
        old.write_text("x")
    else:
        old.symlink_to(victim if planted == "symlink to a snapshot" else tmp_path)
    with pytest.raises(SnapshotError, match="not a snapshot"):
        snap.load(out / "snapshot")  # nothing to recover from a planted link or file
    assert old.is_symlink() or old.is_file()
    snap.save(_snapshot(), out / "snapshot")
    snap.save(_snapshot(), out / "snapshot")  # replaces: moves the old one aside
    assert snap.load(out / "snapshot").tables["users"].shape[0] == 2
    assert not old.exists()
    assert not old.is_symlink()
    assert sorted((p.name, p.read_bytes()) for p in victim.iterdir()) == before


def test_a_snapshot_folder_that_is_a_symlink_is_not_replaced(tmp_path: Path) -> None:
    victim = snap.save(_snapshot(), tmp_path / "victim")
    (tmp_path / "snapshot").symlink_to(victim)
    with pytest.raises(SnapshotError, match="symbolic link"):
        snap.save(_snapshot(), tmp_path / "snapshot")
    assert snap.load(victim).tables["users"].shape[0] == 2


def test_address_lists_load_as_arrow_lists_from_old_and_new_snapshots(tmp_path: Path) -> None:
    """Snapshots written before the address lists were kept in Arrow (object columns of Python
    lists) load as the collectors now hold them; other list columns stay Python lists."""
    original = _snapshot()
    users = original.tables["users"]
    assert isinstance(users["otherMails"].dtype, pd.ArrowDtype)
    old = users.copy()
    for name in ("otherMails", "proxyAddresses"):
        old[name] = pd.Series([list(v) for v in users[name].tolist()], dtype=object)
    dns = pd.DataFrame({"domain": ["partner.com"], "mx": [["mx1.partner.com", "mx2.partner.com"]]})
    for label, table in (("new", users), ("old", old)):
        folder = tmp_path / label
        snapshot = snap.Snapshot(
            tenant=original.tenant,
            collected_at=original.collected_at,
            sources=original.sources | {"dns": SourceStatus("dns", SourceState.OK, rows=1)},
            tables={"users": table, "dns": dns},
        )
        loaded = snap.load(snap.save(snapshot, folder))
        got = loaded.tables["users"]
        for name in ("otherMails", "proxyAddresses"):
            assert isinstance(got[name].dtype, pd.ArrowDtype), (label, name)
            assert got[name].tolist() == users[name].tolist()
        assert loaded.tables["dns"]["mx"].tolist() == [["mx1.partner.com", "mx2.partner.com"]]
