"""render_all shares the reports with a forked child: same files, errors surface in the parent."""

from __future__ import annotations

import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit import _process
from audit.render import render_all
from audit.render._parallel import Helper, by_cost, can_fork
from audit.render.excel import write_xlsx
from tests.factories import make_result

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is Linux-only")


@pytest.fixture(autouse=True)
def forking_allowed() -> Iterator[None]:
    """This process allows forking, as the CLI's does (a library caller's does not)."""
    previous = _process.opt_in(_process.Measures(fork=True))
    try:
        yield
    finally:
        _process.opt_in(previous)


def test_a_library_caller_is_never_forked(tmp_path: Path) -> None:
    _process.opt_in(_process.Measures())
    assert not can_fork()
    assert Helper.start(make_result(5), [("a", tmp_path / "a", write_xlsx)] * 2) is None


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
    helper = Helper.start(make_result(300), jobs)
    assert helper is not None
    helper.process.kill()
    helper.process.join()
    assert helper.claim() == jobs[1]  # the parent still takes what the child did not claim
    with pytest.raises(RuntimeError, match=r"report\.xlsx failed: its process exited with -9"):
        helper.finish(None)


def test_the_two_processes_share_the_jobs(tmp_path: Path) -> None:
    """The child starts on the costliest job and both claim the rest: each job is written once,
    and with many jobs both processes write some."""
    seen = tmp_path / "seen"
    seen.mkdir()

    def writer(result: object, path: Path) -> Path:
        import os
        import time

        time.sleep(0.05)
        (seen / f"{path.name}.{os.getpid()}").touch()
        path.write_text("x")
        return path

    jobs = [(f"k{i}", tmp_path / f"f{i}", writer) for i in range(12)]
    helper = Helper.start(make_result(2), [("xlsx", tmp_path / "report.xlsx", writer), *jobs])
    assert helper is not None
    own = []
    while (job := helper.claim()) is not None:
        own.append(job[0])
        job[2](None, job[1])
    timings: dict[str, float] = {}
    child = helper.finish(timings)
    assert "xlsx" in child
    assert "xlsx" not in own
    assert set(child) | set(own) == {"xlsx", *(k for k, _, _ in jobs)}
    assert not set(child) & set(own)
    assert own
    assert len(child) > 1
    assert set(timings) == set(child)
    pids = {name.rsplit(".", 1)[1] for name in (p.name for p in seen.iterdir())}
    assert len(pids) == 2


def test_jobs_are_ordered_costliest_first(tmp_path: Path) -> None:
    keys = ["html", "xlsx", "json", "findings_csv", "guests_csv", "ps1", "other"]
    ordered = [key for key, _, _ in by_cost([(k, tmp_path, write_xlsx) for k in keys])]
    assert ordered[0] == "xlsx"
    assert ordered[-1] == "other"


def test_no_fork_while_other_threads_run() -> None:
    assert can_fork()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not can_fork()
    finally:
        stop.set()
        thread.join()


CHILD_OUTLIVES = """
import os, signal, sys, time
from pathlib import Path
from audit import _process
from audit.render._parallel import Helper
from tests.factories import make_result
_process.opt_in()

def slow(result, path):
    time.sleep(30)
    Path(path).write_text("late")
    return Path(path)

out = Path(sys.argv[1])
helper = Helper.start(make_result(2), [("xlsx", out / "a", slow), ("json", out / "b", slow)])
print(helper.process.pid, flush=True)
time.sleep(0.5)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_child_dies_with_a_killed_parent(tmp_path: Path) -> None:
    """A killed run leaves no writer behind to replace the next run's files later."""
    import os
    import subprocess
    import time

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", CHILD_OUTLIVES, str(tmp_path)],
        capture_output=True, text=True, cwd=root, timeout=60,
    )  # fmt: skip
    assert done.returncode == -9, done.stderr
    child = int(done.stdout.split()[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            break
        if state in ("Z", "X"):  # dead, not yet reaped by whoever adopted it
            break
        time.sleep(0.05)
    else:
        os.kill(child, 9)
        raise AssertionError("the render child outlived its killed parent")
    assert not list(tmp_path.iterdir())
