"""A run that keeps only its results: the snapshot's tables are let go once analysed, loudly.

``keep_tables=False`` (the CLI's way) must give the same result and reports as a run that keeps
them, and a released table must never read as "not collected".
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from pandas.testing import assert_frame_equal

from audit import snapshot as snap
from audit.analysis.analyzer import analyze
from audit.config import AuditConfig
from audit.demo.tenant import generate_tenant
from audit.errors import SnapshotError
from audit.job import report
from tests._demo_results import demo_snapshot


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lean")
    tenant = generate_tenant(120, 12, seed=5)
    snapshot = demo_snapshot(tenant, folder / "export")
    return snap.save(snapshot, folder / "snapshot")


def test_a_released_table_is_refused_not_missing(saved: Path, tmp_path: Path) -> None:
    snapshot = snap.load(saved)
    snapshot.release(["users", "mailusers", "nonexistent"])
    assert snapshot.released == {"users", "mailusers"}
    assert "users" not in snapshot.tables
    with pytest.raises(SnapshotError, match="users table was released"):
        snapshot.table("users")
    assert snapshot.table("domains") is not None
    with pytest.raises(SnapshotError, match="released"):
        snap.save(snapshot, tmp_path / "copy")


def test_releasing_tables_gives_the_same_result(saved: Path) -> None:
    config = AuditConfig(verified_domains=("contoso-demo.com",))
    kept = snap.load(saved)
    lean = snap.load(saved)
    full = analyze(kept, config, now=kept.collected_at)
    released = analyze(lean, config, now=lean.collected_at, release_tables=True)
    assert {"users", "mailusers", "group_members"} <= lean.released
    assert not kept.released
    for name in ("guests", "findings", "outcomes", "statuses", "rules", "domains"):
        assert_frame_equal(getattr(released, name), getattr(full, name))


def test_a_lean_report_writes_the_same_files(saved: Path, tmp_path: Path) -> None:
    config = AuditConfig(verified_domains=("contoso-demo.com",))
    kept = report(saved, tmp_path / "kept", config)
    lean = report(saved, tmp_path / "lean", config, keep_tables=False)
    assert lean.snapshot.released
    for key in ("findings_csv", "guests_csv"):
        assert kept.reports[key].read_bytes() == lean.reports[key].read_bytes(), key
    documents = [orjson.loads(run.reports["json"].read_bytes()) for run in (kept, lean)]
    for document in documents:
        document.pop("generated_at")
    assert documents[0] == documents[1]
