"""Kill ``run`` and ``collect`` at random points: never a corrupt snapshot in place of a good one.

``python -m audit run --from-export <1,200-guest export>`` is started again and again into the same
``--out`` and killed with SIGKILL (no cleanup runs) at seeded random moments, and at the moments
that matter most: while the snapshot's temporary folder is being filled and while report.xlsx is
being written. After every kill, ``--out/snapshot`` is either absent (nothing complete was written
yet) or a complete snapshot that loads and holds exactly the reference tables, and every report
file present is complete. A last run then yields the reference result. The crash window between
the two renames of a snapshot replacement is tested directly.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import orjson
import pandas as pd
import pytest

from audit import snapshot as snap
from audit.demo.tenant import generate_tenant
from audit.demo.tenant_export import write_export
from audit.errors import SnapshotError

GUESTS, DOMAINS, SEED = 1200, 30, 7
REPORTS = (
    "report.html",
    "report.xlsx",
    "findings.json",
    "findings.csv",
    "guests.csv",
    "remediation.ps1",
)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kill") / "export"
    write_export(generate_tenant(GUESTS, DOMAINS, seed=SEED), folder, page_size=500)
    return folder


def _command(kind: str, export: Path, out: Path) -> list[str]:
    args = [sys.executable, "-m", "audit", kind, "--from-export", str(export), "--no-dns"]
    run = ["--quiet", "--no-verified-domains"] if kind == "run" else []
    return [*args, "--out", str(out), *run]


def _complete(kind: str, export: Path, out: Path) -> None:
    done = subprocess.run(
        _command(kind, export, out), capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode()


# Durations of every run that finished: random kill points are fractions of the shortest.
_DURATION: list[float] = []


@pytest.fixture(scope="module")
def reference(export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "out"
    started = time.monotonic()
    _complete("run", export, out)
    _DURATION.append(time.monotonic() - started)
    return out


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return dict(snap.load(folder).tables)


def _findings(out: Path) -> list[tuple[str, str, str]]:
    data = orjson.loads((out / "findings.json").read_bytes())
    return sorted((f["rule_id"], f["object_id"], f["status"]) for f in data["findings"])


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def _check_snapshot(folder: Path, reference: Path) -> bool:
    """Absent (False) or complete and equal to the reference (True); anything else fails."""
    try:
        loaded = snap.load(folder)  # puts back a snapshot a killed save left aside
    except SnapshotError:
        assert not folder.exists(), "a half-written snapshot is in place"
        return False
    got, want = dict(loaded.tables), _tables(reference / "snapshot")
    assert sorted(got) == sorted(want)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], obj=name)
    return True


def _check_reports(out: Path, reference: Path) -> int:
    """Every report present is complete; returns how many are present."""
    present = 0
    for name in REPORTS:
        path = out / name
        if not path.exists():
            continue
        present += 1
        if name == "findings.json":
            assert _findings(out) == _findings(reference)
        elif name == "report.html":
            assert path.read_bytes().rstrip().endswith(b"</html>")
        elif name == "report.xlsx":
            with zipfile.ZipFile(path) as book:
                assert book.testzip() is None
        else:
            assert _lines(path) == _lines(reference / name), name
    return present


def _visible(out: Path) -> set[str]:
    """Entries a user would take for output: the hidden temporary ones are the writers' own."""
    return {p.name for p in out.iterdir() if not p.name.startswith(".")} if out.exists() else set()


def _after(fraction: float) -> Callable[[Path, float], bool]:
    """At ``fraction`` of the shortest complete run seen so far."""
    return lambda out, elapsed: elapsed >= fraction * min(_DURATION)


def _filling(target: Path) -> bool:
    """The temporary folder of a snapshot being saved to ``target`` exists and has files in it."""
    prefix = f".{target.name}."
    if not target.parent.exists():
        return False
    for entry in target.parent.iterdir():
        temporary = entry.name.startswith(prefix) and entry.name != f"{prefix}old"
        if temporary and any(entry.glob("*.parquet")):
            return True
    return False


def _writing_snapshot(out: Path, elapsed: float) -> bool:
    """``run``: the snapshot in ``out`` is being written."""
    return _filling(out / "snapshot")


def _collect_saving(out: Path, elapsed: float) -> bool:
    """``collect``: the snapshot folder ``out`` itself is being written."""
    return _filling(out)


def _writing(name: str) -> Callable[[Path, float], bool]:
    return lambda out, elapsed: (
        out.exists() and any(p.name.startswith(f".{name}.") for p in out.iterdir())
    )


def _kill_when(kind: str, export: Path, out: Path, when: Callable[[Path, float], bool]) -> bool:
    """Start a run, SIGKILL it when ``when`` holds; False when it finished first."""
    proc = subprocess.Popen(_command(kind, export, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    started = time.monotonic()
    try:
        while proc.poll() is None:
            if when(out, time.monotonic() - started):
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                return True
            time.sleep(0.0005)
        _DURATION.append(time.monotonic() - started)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _kill(
    kind: str, export: Path, out: Path, when: Callable[[Path, float], bool], *, fresh: bool = False
) -> None:
    """Kill a run when ``when`` holds, trying again while runs finish first.

    On a loaded machine a run can outpace the reference run (so a moment given as a fraction of
    it never comes) or a short window can pass between two polls. A run that finished is checked
    like a killed one and tried again; ``fresh`` removes ``out`` first, so every try starts with
    nothing complete in place.
    """
    for _ in range(6):
        if _kill_when(kind, export, out, when):
            return
        if fresh:
            shutil.rmtree(out, ignore_errors=True)
    pytest.fail(f"{kind}: six runs in a row finished before the kill point")


def test_killed_runs_never_leave_a_corrupt_snapshot(
    export: Path, reference: Path, tmp_path: Path
) -> None:
    rng = random.Random(20250314)
    out = tmp_path / "out"
    first: list[Callable[[Path, float], bool]] = [_after(rng.uniform(0.2, 0.6)), _writing_snapshot]
    then: list[Callable[[Path, float], bool]] = [
        _writing_snapshot,  # now replacing a complete snapshot
        _writing("report.xlsx"),
        _after(rng.uniform(0.3, 0.8)),
    ]
    for when in first:  # nothing complete in --out yet
        _kill("run", export, out, when, fresh=True)
        _check_snapshot(out / "snapshot", reference)  # absent, or complete (killed after saving)
        _check_reports(out, reference)
        assert _visible(out) <= {"snapshot", *REPORTS}
    shutil.rmtree(out)
    shutil.copytree(reference, out)  # as if an earlier run had completed
    for when in then:
        _kill("run", export, out, when)
        assert _check_snapshot(out / "snapshot", reference), "a complete snapshot was lost"
        assert _check_reports(out, reference) == len(REPORTS)
        assert _visible(out) <= {"snapshot", *REPORTS}
    _complete("run", export, out)
    assert _check_snapshot(out / "snapshot", reference)
    assert _check_reports(out, reference) == len(REPORTS)
    assert _findings(out) == _findings(reference)


def test_killed_collects_never_leave_a_corrupt_snapshot(
    export: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "snap"
    _kill("collect", export, out, _collect_saving, fresh=True)
    assert not _check_snapshot(out, reference)
    shutil.copytree(reference / "snapshot", out)
    _kill("collect", export, out, _collect_saving)
    assert _check_snapshot(out, reference)  # the complete one is still there
    _kill("collect", export, out, _after(random.Random(7).uniform(0.1, 0.3)))
    assert _check_snapshot(out, reference)


def test_crash_between_the_two_renames_recovers_the_old_snapshot(
    reference: Path, tmp_path: Path
) -> None:
    target = tmp_path / "snapshot"
    shutil.copytree(reference / "snapshot", target)
    os.replace(target, tmp_path / ".snapshot.old")  # killed right after moving the old one aside
    temp = tmp_path / ".snapshot.abc123"
    temp.mkdir()
    (temp / "users.parquet").write_bytes(b"PAR1 half written")  # the new one, incomplete
    assert _check_snapshot(target, reference)  # load put the complete one back
    assert not (tmp_path / ".snapshot.old").exists()
    loaded = snap.load(target)
    snap.save(loaded, target)  # and the next save replaces it normally
    assert _check_snapshot(target, reference)


def test_save_never_replaces_a_folder_that_is_not_a_snapshot(
    reference: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.docx").write_bytes(b"years of work")
    with pytest.raises(SnapshotError, match="not a snapshot"):
        snap.save(snap.load(reference / "snapshot"), home)  # e.g. collect --out ~
    assert (home / "thesis.docx").read_bytes() == b"years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_save_raw_never_replaces_a_folder_that_is_not_an_export(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from audit.cli import cli

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("keep me")
    handmade = Path(__file__).parent / "data" / "handmade"
    result = CliRunner().invoke(cli, ["run", "--from-export", str(handmade), "--save-raw",
                                      str(docs), "--no-verified-domains",
                                      "--out", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "not part of an export" in result.output
    assert [p.name for p in docs.iterdir()] == ["notes.txt"]
    again = CliRunner().invoke(cli, ["run", "--from-export", str(handmade), "--save-raw",
                                     str(tmp_path / "raw"), "--no-verified-domains",
                                     "--out", str(tmp_path / "out")])  # fmt: skip
    assert again.exit_code == 0, again.output
    first = sorted(p.name for p in (tmp_path / "raw").iterdir())
    rerun = CliRunner().invoke(cli, ["run", "--from-export", str(handmade), "--save-raw",
                                     str(tmp_path / "raw"), "--no-verified-domains",
                                     "--out", str(tmp_path / "out")])  # fmt: skip
    assert rerun.exit_code == 0, rerun.output  # an earlier export is replaced as a whole
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "out", "raw"]
