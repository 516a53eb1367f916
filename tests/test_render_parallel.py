"""render_all writes report.xlsx in a forked child: same files, errors surface in the parent."""

from __future__ import annotations

import sys
import threading
import zipfile
from pathlib import Path

import pytest

from audit.render import _can_fork, _SideWriter, render_all
from audit.render.excel import write_xlsx
from tests.factories import make_result

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is Linux-only")


def xlsx_parts(path: Path) -> dict[str, bytes]:
    """The workbook's zip members, minus the one that records when it was written."""
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n != "docProps/core.xml"}


def test_parallel_and_in_process_write_the_same_files(tmp_path: Path) -> None:
    result = make_result(60)
    timings: dict[str, float] = {}
    forked = render_all(result, tmp_path / "forked", timings=timings)
    plain = render_all(result, tmp_path / "plain", parallel=False)
    assert (
        list(forked)
        == list(plain)
        == [
            "html",
            "xlsx",
            "json",
            "findings_csv",
            "guests_csv",
            "ps1",
        ]
    )
    for key, path in forked.items():
        if key == "xlsx":
            assert xlsx_parts(path) == xlsx_parts(plain[key])
        else:
            assert path.read_bytes() == plain[key].read_bytes(), key
    assert set(timings) == set(forked)
    assert all(seconds >= 0 for seconds in timings.values())


def test_an_error_in_the_child_is_raised_with_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "report.xlsx").mkdir()  # the child cannot replace a folder with the workbook
    with pytest.raises(OSError, match=r"report\.xlsx") as caught:
        render_all(make_result(5), tmp_path)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "raised while writing report.xlsx in a child process" in notes
    assert "write_xlsx" in notes
    assert (tmp_path / "report.html").is_file()  # the parent's own work was done


def test_a_child_that_dies_is_reported(tmp_path: Path) -> None:
    jobs = [
        ("xlsx", tmp_path / "report.xlsx", write_xlsx),
        ("json", tmp_path / "x.json", write_xlsx),
    ]
    side = _SideWriter.start(make_result(300), jobs)
    assert side is not None
    side.process.kill()
    with pytest.raises(RuntimeError, match=r"report\.xlsx failed: its process exited with -9"):
        side.finish(None)


def test_no_fork_while_other_threads_run() -> None:
    assert _can_fork()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not _can_fork()
    finally:
        stop.set()
        thread.join()
