"""Renderers: turn one ``AuditResult`` into report.html, report.xlsx, findings.json, CSVs and
remediation.ps1.

Renderers only format and aggregate for display; every number they show comes from the
``AuditResult``. Tenant strings are hostile: HTML escapes them, spreadsheets neutralise them
(:mod:`audit.render.safe`). Each writer replaces its file atomically.

Example::

    from audit.render import render_all
    paths = render_all(result, "reports/2025-03-14", formats=("html", "xlsx"))
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from audit._files import private_dir
from audit.errors import ConfigError
from audit.render.csv_out import write_findings_csv, write_guests_csv
from audit.render.excel import write_xlsx
from audit.render.html import write_html
from audit.render.json_out import write_findings_json
from audit.render.remediation import write_remediation
from audit.render.safe import neutralise
from audit.result import AuditResult

__all__ = [
    "FORMATS",
    "neutralise",
    "render_all",
    "write_findings_csv",
    "write_findings_json",
    "write_guests_csv",
    "write_html",
    "write_remediation",
    "write_xlsx",
]

_Writer = Callable[[AuditResult, Path], Path]

_OUTPUTS: dict[str, tuple[tuple[str, str, _Writer], ...]] = {
    "html": (("html", "report.html", write_html),),
    "xlsx": (("xlsx", "report.xlsx", write_xlsx),),
    "json": (("json", "findings.json", write_findings_json),),
    "csv": (
        ("findings_csv", "findings.csv", write_findings_csv),
        ("guests_csv", "guests.csv", write_guests_csv),
    ),
    "ps1": (("ps1", "remediation.ps1", write_remediation),),
}

FORMATS = tuple(_OUTPUTS)
"""Format names :func:`render_all` accepts."""


def render_all(
    result: AuditResult,
    out_dir: str | os.PathLike[str],
    *,
    formats: Iterable[str] = FORMATS,
    parallel: bool = True,
    timings: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Write the chosen formats into ``out_dir``; return ``{output key: path}``.

    Keys: ``html`` (report.html), ``xlsx`` (report.xlsx), ``json`` (findings.json),
    ``findings_csv`` and ``guests_csv`` (the ``csv`` format writes both), ``ps1``
    (remediation.ps1, commented-out fix commands to review and run).
    Raises :class:`~audit.errors.ConfigError` for an unknown format, before writing anything.

    With ``parallel`` (the default), report.xlsx, by far the slowest, is written by a forked child
    process while this one writes the rest (Linux, single-threaded callers; elsewhere everything
    runs here). The files are the same either way; an error in the child is raised here, with the
    child's traceback as a note. ``timings`` receives the seconds each output took.
    """
    chosen = list(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in _OUTPUTS]
    if unknown:
        raise ConfigError(f"unknown report format(s) {unknown}; choose from {list(FORMATS)}")
    folder = private_dir(out_dir)
    jobs = [(key, folder / name, writer) for f in chosen for key, name, writer in _OUTPUTS[f]]
    side = _SideWriter.start(result, jobs) if parallel else None
    written: dict[str, Path] = {}
    try:
        for key, path, writer in jobs:
            if side is None or key != side.key:
                started = time.perf_counter()
                written[key] = writer(result, path)
                _timed(timings, key, time.perf_counter() - started)
    except BaseException:
        if side is not None:
            side.abort()
        raise
    if side is not None:
        written[side.key] = side.finish(timings)
    return {key: written[key] for key, _, _ in jobs}


# ---- report.xlsx in a forked child process ------------------------------------------------------

_SIDE_KEY = "xlsx"


def _timed(timings: dict[str, float] | None, key: str, seconds: float) -> None:
    if timings is not None:
        timings[key] = round(seconds, 3)


def _can_fork() -> bool:
    """Fork only where it is the default and safe: Linux, and no other thread that could hold a
    lock the child would inherit locked."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


class _SideWriter:
    """One writer running in a forked child; the child sends back its time or its exception."""

    def __init__(self, key: str, path: Path, process: Any, conn: Connection) -> None:
        self.key, self.path, self.process, self.conn = key, path, process, conn

    @classmethod
    def start(
        cls, result: AuditResult, jobs: Sequence[tuple[str, Path, _Writer]]
    ) -> _SideWriter | None:
        """Start the xlsx writer in a child when there is other work to overlap it with."""
        side = [job for job in jobs if job[0] == _SIDE_KEY]
        if not side or len(jobs) < 2 or not _can_fork():
            return None
        key, path, writer = side[0]
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_child, args=(writer, result, path, send), name=f"render-{key}", daemon=True
        )
        process.start()
        send.close()
        return cls(key, path, process, receive)

    def finish(self, timings: dict[str, float] | None) -> Path:
        """Wait for the child; raise what it raised, or say how it died."""
        try:
            message = self.conn.recv()
        except EOFError:
            message = None
        finally:
            self.conn.close()
            self.process.join()
        if message is None:
            code = self.process.exitcode
            raise RuntimeError(f"writing {self.path.name} failed: its process exited with {code}")
        outcome, seconds = message
        if isinstance(outcome, BaseException):
            raise outcome
        _timed(timings, self.key, seconds)
        return self.path

    def abort(self) -> None:
        """Stop the child (the parent failed; its file is not wanted)."""
        self.process.terminate()
        self.process.join()
        self.conn.close()


def _child(writer: _Writer, result: AuditResult, path: Path, conn: Connection) -> None:
    """Child process body: write, then report the time taken or a picklable exception."""
    started = time.perf_counter()
    outcome: BaseException | None = None
    try:
        writer(result, path)
    except BaseException as exc:  # reported to the parent, which raises it
        outcome = _portable(exc, path)
    conn.send((outcome, time.perf_counter() - started))
    conn.close()


def _portable(exc: BaseException, path: Path) -> BaseException:
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
