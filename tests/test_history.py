"""Run history: listing runs (broken ones too), the latest earlier run, folder names, the CLI."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from audit import snapshot as snap
from audit.analysis.analyzer import analyze
from audit.analysis.diff import diff_results
from audit.cli import cli
from audit.config import AuditConfig
from audit.errors import SnapshotError
from audit.history import (
    history_out_dir,
    history_runs,
    latest_run,
    resolve_compare_with,
    snapshot_dir,
    tenant_folder_name,
)
from audit.render import render_all
from tests._handmade_month import (
    FLAGS,
    HANDMADE,
    NEW_AT,
    OLD_AT,
    TENANT_ID,
    later_export,
    save_snapshot,
)

CONFIG = AuditConfig(verified_domains=("fabrikam.onmicrosoft.com", "contoso.com"))
BROKEN_AT = datetime(2026, 12, 25, tzinfo=UTC)


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _run(root: Path, export: Path, at: datetime, previous: Path | None = None) -> Path:
    """One run folder as ``run --history`` lays it out: snapshot plus findings.json."""
    folder = history_out_dir(root, {"id": TENANT_ID, "name": "Fabrikam"}, now=at)
    snapshot = save_snapshot(export, at, folder / "snapshot")
    result = analyze(snap.load(snapshot), CONFIG, now=at)
    if previous is not None:
        old = snap.load(previous / "snapshot")
        result.diff = diff_results(analyze(old, CONFIG, now=old.collected_at), result)
    render_all(result, folder, formats=("json",))
    return folder


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two good runs a month apart, a broken run, a half-written one and some clutter."""
    root = tmp_path_factory.mktemp("history")
    first = _run(root, HANDMADE, OLD_AT)
    _run(root, later_export(root.parent / f"{root.name}-export"), NEW_AT, previous=first)
    broken = root / TENANT_ID / BROKEN_AT.strftime("%Y%m%dT%H%M%SZ")
    broken.mkdir()
    (broken / "findings.json").write_text('{"summary": {"guests": ', encoding="utf-8")
    empty = root / TENANT_ID / "20261001T000000Z"
    empty.mkdir()
    (root / TENANT_ID / ".20261224T000000Z.tmp").mkdir()  # an atomic write in progress
    (root / "notes").mkdir()
    (root / "notes" / "minutes.txt").write_text("not a run", encoding="utf-8")
    return root


def test_history_lists_good_and_broken_runs_oldest_first(history: Path) -> None:
    runs = history_runs(history)
    assert [r.state for r in runs] == ["broken", "ok", "ok", "broken"]
    empty, first, second, broken = runs
    assert empty.timestamp == datetime(2026, 10, 1, tzinfo=UTC)
    assert empty.problems == ("no snapshot manifest", "no findings.json")
    assert first.timestamp == OLD_AT
    assert second.timestamp == NEW_AT
    assert first.tenant_id == TENANT_ID
    assert first.tenant_name == "Fabrikam"
    assert first.guests == 10
    assert second.guests == 10
    assert first.outcomes == {
        "ready": 0,
        "unmanaged": 4,
        "blocked": 4,
        "out_of_scope": 2,
        "unknown": 0,
    }
    # No verification token: Atlassian's TXT prefix is unknown, domain-claimed-elsewhere not evaluated.
    assert first.open_by_severity == {"high": 17, "medium": 10, "low": 4, "info": 1}
    assert first.open_findings == 32
    assert first.diff_counts is None
    assert second.diff_counts is not None
    assert second.diff_counts["new"] == 6
    assert second.diff_counts["guests_removed"] == 1
    assert broken.timestamp == BROKEN_AT
    assert broken.has_snapshot is False
    assert broken.problems[0] == "no snapshot manifest"
    assert broken.problems[1].startswith("unreadable findings.json")
    assert broken.open_findings is None


def test_partial_run_and_tenant_filter(history: Path, tmp_path: Path) -> None:
    runs = history_runs(history, TENANT_ID)
    assert len(runs) == 4  # broken runs are listed under their tenant's folder
    assert history_runs(history, "fabrikam") == runs[1:3]  # by name, case-insensitive
    assert history_runs(history, "someone-else") == []
    partial = tmp_path / "20261101T000000Z"
    save_snapshot(HANDMADE, OLD_AT, partial / "snapshot")
    (run,) = history_runs(tmp_path)
    assert run.state == "partial"
    assert run.problems == ("no findings.json",)
    assert run.guests == 11  # the users table: ten guests and the internal admin
    assert run.tenant_id == TENANT_ID


def test_a_root_that_is_a_run_or_a_tenant_folder(history: Path) -> None:
    tenant = history / TENANT_ID
    assert len(history_runs(tenant)) == 4
    one = history_runs(tenant)[1].path
    assert [r.path for r in history_runs(one)] == [one]
    assert history_runs(history / "missing") == []


def test_latest_run(history: Path) -> None:
    first, second = history_runs(history)[1:3]
    assert latest_run(history, TENANT_ID) == second  # the broken, newer run is passed over
    assert latest_run(history, TENANT_ID, before=NEW_AT) == first
    assert latest_run(history, TENANT_ID, before=NEW_AT.replace(tzinfo=None)) == first
    assert latest_run(history, TENANT_ID, before=OLD_AT) is None
    assert latest_run(history, TENANT_ID, exclude=second.path) == first
    assert latest_run(history, "someone-else") is None


def test_resolve_compare_with(history: Path) -> None:
    first, second = history_runs(history)[1:3]

    def resolve(value: str | None, before: datetime | None = None) -> Path | None:
        return resolve_compare_with(value, root=history, tenant_id=TENANT_ID, before=before)

    assert resolve("latest") == second.path / "snapshot"
    assert resolve("LATEST", before=NEW_AT) == first.path / "snapshot"
    assert resolve("latest", before=OLD_AT) is None
    assert resolve(str(first.path)) == first.path / "snapshot"
    assert resolve(None) is None
    with pytest.raises(SnapshotError, match="neither a snapshot nor a run folder"):
        resolve(str(history / "notes"))


def test_snapshot_dir(history: Path) -> None:
    run = history_runs(history)[1].path
    assert snapshot_dir(run) == run / "snapshot"
    assert snapshot_dir(run / "snapshot") == run / "snapshot"
    with pytest.raises(SnapshotError):
        snapshot_dir(history)


def test_history_out_dir(tmp_path: Path) -> None:
    at = datetime(2026, 12, 1, 6, 30, 5, tzinfo=UTC)
    first = history_out_dir(tmp_path, {"id": TENANT_ID}, now=at)
    assert first == tmp_path / TENANT_ID / "20261201T063005Z"
    first.mkdir(parents=True)
    second = history_out_dir(tmp_path, {"id": TENANT_ID}, now=at)
    assert second == tmp_path / TENANT_ID / "20261201T063005Z-2"
    second.mkdir()
    assert history_out_dir(tmp_path, TENANT_ID, now=at).name == "20261201T063005Z-3"
    naive = history_out_dir(tmp_path, {"id": TENANT_ID}, now=at.replace(tzinfo=None))
    assert naive.name == "20261201T063005Z-3"  # naive times are UTC
    later = history_out_dir(tmp_path, {"id": TENANT_ID}, now=at + timedelta(hours=1))
    assert later.name == "20261201T073005Z"
    assert not later.exists()  # the folder is only named, not created


@pytest.mark.parametrize(
    ("tenant", "folder"),
    [
        ({"id": TENANT_ID, "name": "x"}, TENANT_ID),
        ({"id": "../../etc", "name": "Contoso <b>Ltd</b>"}, "contoso-b-ltd-b"),
        ({"id": None, "name": "Société Générale"}, "societe-generale"),
        ({"id": "", "name": ""}, "unknown-tenant"),
        ({"name": "..."}, "tenant-"),
        ({"name": "日本語"}, "tenant-"),
        ("plain-id", "plain-id"),
        ({"id": "evil-id\n", "name": ""}, "evil-id"),  # '$' matched before a trailing newline
        ({"id": "evil\n../x", "name": ""}, "evil-x"),
    ],
)
def test_tenant_folder_name_is_always_safe(tenant: object, folder: str) -> None:
    name = tenant_folder_name(tenant)  # type: ignore[arg-type]
    assert name.startswith(folder)
    assert "/" not in name
    assert ".." not in name
    assert name not in ("", ".", "..")
    assert name.isprintable()


@pytest.mark.parametrize("name", ["20261399T999999Z", "99999999T999999Z-2", "20260230T120000Z"])
def test_a_folder_named_like_a_bad_time_is_skipped_with_a_note(name: str, tmp_path: Path) -> None:
    (tmp_path / "t" / name).mkdir(parents=True)
    good = tmp_path / "t" / "20261101T000000Z"
    good.mkdir()
    (good / "findings.json").write_bytes(orjson.dumps({"tenant": {"id": "t"}}))
    runs = history_runs(tmp_path)
    bad = next(r for r in runs if r.path.name == name)
    assert bad.timestamp is None
    assert f"folder name {name} is not a valid UTC time; run skipped" in bad.problems
    code, output = _cli("history", str(tmp_path))
    assert code == 0, output
    assert f"! folder name {name} is not a valid UTC time" in output
    assert latest_run(tmp_path, "t") is None  # neither run has a snapshot


def test_history_command_text(history: Path) -> None:
    code, output = _cli("history", str(history))
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith("when (UTC)")
    rows = [line for line in lines[1:] if not line.startswith("    !")]
    assert [r.split()[2] for r in rows] == ["broken", "ok", "ok", "broken"]
    assert rows[1].split()[:10] == [
        "2026-11-20", "06:00", "ok", "Fabrikam", "10", "0", "4", "4", "32", "17",
    ]  # fmt: skip
    assert "+6/-4" in rows[2]  # John disabled: his and John2's collision are fixed
    assert "    ! no snapshot manifest" in lines


def test_history_command_json_and_filter(history: Path) -> None:
    code, output = _cli("history", str(history), "--tenant", TENANT_ID, "--json")
    assert code == 0, output
    runs = orjson.loads(output)
    assert [r["state"] for r in runs] == ["broken", "ok", "ok", "broken"]
    assert runs[1]["timestamp"] == "2026-11-20T06:00:00Z"
    assert runs[1]["open_findings"] == 32
    assert runs[2]["diff"]["fixed"] == 4
    code, output = _cli("history", str(history), "--tenant", "nobody")
    assert (code, output.strip()) == (0, f"no runs in {history}")


def test_history_command_missing_root(tmp_path: Path) -> None:
    code, output = _cli("history", str(tmp_path / "nope"))
    assert code == 2
    assert "no such history folder" in output


def test_history_command_hostile_tenant_name_is_inert(tmp_path: Path) -> None:
    run = tmp_path / "t" / "20261101T000000Z"
    run.mkdir(parents=True)
    doc = {"tenant": {"id": "t", "name": "\x1b[31mEvil\x07"}, "summary": {"guests": 1}}
    (run / "findings.json").write_bytes(orjson.dumps(doc))
    code, output = _cli("history", str(tmp_path))
    assert code == 0, output
    assert "\x1b" not in output
    assert "\\x1b[31mEvil\\x07" in output


def test_run_needs_out_or_history() -> None:
    code, output = _cli("run", "--from-export", str(HANDMADE))
    assert code == 2
    assert "give --out DIR or --history ROOT" in output


def test_run_history_compare_with_latest(tmp_path: Path) -> None:
    """Two scheduled runs: the first has nothing to compare with, the second diffs the first."""
    root = tmp_path / "reports"
    args = ["run", *FLAGS, "--history", str(root), "--compare-with", "latest", "--quiet"]
    code, output = _cli(*args, "--from-export", str(HANDMADE))
    assert code == 0, output
    (first,) = (root / TENANT_ID).iterdir()
    assert "diff" not in orjson.loads((first / "findings.json").read_bytes())
    code, output = _cli(*args, "--from-export", str(later_export(tmp_path / "later")))
    assert code == 0, output
    runs = history_runs(root, TENANT_ID)
    assert [r.state for r in runs] == ["ok", "ok"]
    assert runs[0].path == first
    assert runs[1].diff_counts is not None
    assert runs[1].diff_counts["guests_added"] == 1
    assert runs[1].diff_counts["guests_removed"] == 1
    assert os.fspath(runs[1].path) in output
