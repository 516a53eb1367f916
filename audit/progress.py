"""Stage-by-stage progress on stderr for people at a terminal; silent for machines.

``run`` on a large tenant takes minutes; a line per stage (with its duration and size) says what is
happening without mixing into stdout, which ``--quiet`` and ``--json`` keep for machines.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["Progress"]


class Progress:
    """Prints ``label …`` when a stage starts and ``label: 12.3 s`` (plus a note) when it ends."""

    def __init__(self, enabled: bool, *, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream

    @classmethod
    def for_command(cls, kw: dict[str, Any]) -> Progress:
        """On with ``--progress``, off with ``--no-progress``; by default on when stderr is a
        terminal and the output is not for machines (``--quiet``, ``--json``)."""
        chosen = kw.get("progress")
        if chosen is None:
            machine = bool(kw.get("quiet") or kw.get("as_json"))
            chosen = sys.stderr.isatty() and not machine
        return cls(bool(chosen))

    def _echo(self, text: str) -> None:
        if self.enabled:
            stream = self.stream or sys.stderr
            stream.write(text + "\n")
            stream.flush()

    @contextlib.contextmanager
    def stage(self, label: str) -> Iterator[dict[str, str]]:
        """Time a stage; the caller may put a ``note`` (e.g. ``"99,600 guests"``) in the dict."""
        note: dict[str, str] = {}
        self._echo(f"{label} …")
        started = time.perf_counter()
        yield note
        seconds = time.perf_counter() - started
        extra = f" ({note['note']})" if note.get("note") else ""
        self._echo(f"{label}: {seconds:.1f} s{extra}")
