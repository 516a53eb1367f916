"""Write the reports in two processes: this one and a forked child sharing one job list.

Each writer is single-threaded Python, so on two cores two processes write the reports in about
half the time. Jobs are ordered by their usual cost, the child starts on the costliest
(report.xlsx), and each process then claims the next unclaimed job from a shared counter
whenever it is free: the split balances itself whatever the tenant's shape.

The child inherits the result at fork (copy-on-write, nothing pickled); it sends back, per job,
the seconds taken or a picklable exception. It stops at its first error and the parent writes
what is left, so an error costs no other report.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from audit._process import measures
from audit.analysis.result import AuditResult

Writer = Callable[[AuditResult, Path], Path]
Job = tuple[str, Path, Writer]

# Seconds each output took at 100,000 guests (bench/bench_pipeline.py); only their order matters.
_COST = {"xlsx": 5.0, "ps1": 3.0, "guests_csv": 2.5, "html": 1.7, "json": 1.0, "findings_csv": 0.9}


def can_fork() -> bool:
    """Fork only in a process that allows it (:mod:`audit._process`: the CLI, not a library
    caller), where it is the default and safe: Linux, and no other thread that could hold a lock
    the child would inherit locked."""
    allowed = measures().fork
    return allowed and sys.platform.startswith("linux") and threading.active_count() == 1


def by_cost(jobs: Sequence[Job]) -> list[Job]:
    """The jobs, costliest first (unknown keys last, in their given order)."""
    return sorted(jobs, key=lambda job: -_COST.get(job[0], 0.0))


class Helper:
    """A forked child claiming jobs from the list it shares with this process."""

    def __init__(self, jobs: list[Job], process: Any, conn: Connection, counter: Any) -> None:
        self.jobs, self.process, self.conn, self.counter = jobs, process, conn, counter
        self.mine: set[int] = set()  # jobs this process claimed

    @classmethod
    def start(cls, result: AuditResult, jobs: Sequence[Job]) -> Helper | None:
        """Fork a helper when there are at least two jobs and forking is safe; else None."""
        if len(jobs) < 2 or not can_fork():
            return None
        ordered = by_cost(jobs)
        context = multiprocessing.get_context("fork")
        counter = context.Value("i", 1)  # job 0 is the child's
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_child,
            args=(ordered, result, counter, send, os.getpid()),
            name="render-helper",
            daemon=True,
        )
        process.start()
        send.close()
        return cls(ordered, process, receive, counter)

    def claim(self) -> Job | None:
        """The next unclaimed job for this process, or None when all are taken."""
        index = _claim(self.counter, len(self.jobs))
        if index is None:
            return None
        self.mine.add(index)
        return self.jobs[index]

    def finish(self, timings: dict[str, float] | None) -> dict[str, Path]:
        """Wait for the child; return what it wrote, or raise what it raised or how it died."""
        done: dict[int, float] = {}
        error: BaseException | None = None
        try:
            while (message := _receive(self.conn)) is not None:
                index, outcome, seconds = message
                if outcome is None:
                    done[index] = seconds
                else:
                    error = outcome
        finally:
            self.conn.close()
            self.process.join()
        if error is not None:
            raise error
        lost = [self.jobs[i][1].name for i in sorted(self._lost(done))]
        if lost:
            code = self.process.exitcode
            raise RuntimeError(f"writing {', '.join(lost)} failed: its process exited with {code}")
        for index, seconds in done.items():
            if timings is not None:
                timings[self.jobs[index][0]] = round(seconds, 3)
        return {self.jobs[i][0]: self.jobs[i][1] for i in done}

    def _lost(self, done: dict[int, float]) -> set[int]:
        """Jobs the child took (its first, and any it claimed) but never reported: it died."""
        taken = set(range(min(int(self.counter.value), len(self.jobs))))
        return taken - self.mine - set(done)

    def abort(self) -> None:
        """Stop the child (this process failed; its files are not wanted)."""
        self.process.terminate()
        self.process.join()
        self.conn.close()


def _claim(counter: Any, total: int) -> int | None:
    with counter.get_lock():
        index = int(counter.value)
        if index >= total:
            return None
        counter.value = index + 1
    return index


def _receive(conn: Connection) -> Any:
    try:
        return conn.recv()
    except EOFError:
        return None


def _child(
    jobs: list[Job], result: AuditResult, counter: Any, conn: Connection, parent: int
) -> None:
    """Child process body: job 0, then claimed jobs until none is left or one fails."""
    _die_with(parent)
    index: int | None = 0
    while index is not None:
        _key, path, writer = jobs[index]
        started = time.perf_counter()
        try:
            writer(result, path)
        except BaseException as exc:  # reported to the parent, which raises it
            conn.send((index, portable(exc, path), 0.0))
            break
        conn.send((index, None, time.perf_counter() - started))
        index = _claim(counter, len(jobs))
    conn.close()


def _die_with(parent: int) -> None:
    """Linux: be killed when the parent dies (``PR_SET_PDEATHSIG``).

    A killed run must leave no writer behind: an orphan finishing its files later could replace
    the reports of the next run with its own.
    """
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):  # not glibc
        return
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def portable(exc: BaseException, path: Path) -> BaseException:
    """``exc`` with the child's traceback as a note, or a RuntimeError saying the same when the
    exception cannot be pickled."""
    trace = "".join(traceback.format_exception(exc)).rstrip()
    try:
        exc.add_note(f"raised while writing {path.name} in a child process:\n{trace}")
        pickle.loads(pickle.dumps(exc))
    except Exception:
        message = f"writing {path.name} failed: {type(exc).__name__}: {exc}\n{trace}"
        return RuntimeError(message)
    return exc
