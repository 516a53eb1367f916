"""Process-wide measures, taken only in a process that opts in: the CLI does, a library caller not.

A notebook or a scheduler that calls :func:`audit.run` shares its interpreter with its own work, so
the library must not fork it, switch its garbage collector or trim its C heap behind its back. The
``b2b-preflight`` command owns its process and opts in (:func:`opt_in`, in ``audit.cli.main``):

- ``fork``: the reports are written by this process and a forked child at once
  (:mod:`audit.render._parallel`; on two cores about half the time);
- ``pause_gc``: the cyclic garbage collector is paused while large tables are built from parsed
  objects that hold no cycles (:func:`gc_paused`), and long-lived data (the demo's served tenant)
  is kept out of its scans (:func:`keep_from_gc`, ``gc.freeze``);
- ``trim_heap``: freed C heap is returned to the OS between stages (:func:`return_freed_memory`);
- ``arrow_pool``: Arrow allocates from jemalloc (the system allocator where the wheel has none),
  which returns freed memory to the OS at once; Arrow's default, mimalloc, kept about 600 MB
  freed during a million-guest analysis. Set through Arrow's documented
  ``ARROW_DEFAULT_MEMORY_POOL`` variable when pyarrow is not imported yet (so ``--help`` does not
  pay for importing it; https://arrow.apache.org/docs/cpp/env_vars.html), else switched at once.

Each is measured in ``bench/README.md``; without them the results are the same, only slower or
larger.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Measures", "gc_paused", "keep_from_gc", "measures", "opt_in", "return_freed_memory"]


@dataclass(frozen=True)
class Measures:
    """Which process-wide measures this process allows (all off by default)."""

    fork: bool = False
    pause_gc: bool = False
    trim_heap: bool = False
    arrow_pool: bool = False


_allowed = Measures()
_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def measures() -> Measures:
    """The measures this process opted in to."""
    return _allowed


def opt_in(allowed: Measures | None = None) -> Measures:
    """Allow the measures (all of them by default) for the rest of this process; returns the
    previous setting, so a test can restore it."""
    global _allowed
    everything = Measures(fork=True, pause_gc=True, trim_heap=True, arrow_pool=True)
    previous, _allowed = _allowed, allowed or everything
    _use_arrow_pool(_allowed.arrow_pool)
    return previous


def _use_arrow_pool(returning: bool) -> None:
    """Arrow's allocations from a pool that gives freed memory back to the OS (``returning``) or
    from its default pool. Before pyarrow is imported this is Arrow's start-up variable (a value
    the user set wins); afterwards the pool is switched."""
    if "pyarrow" not in sys.modules:
        if returning:
            os.environ.setdefault(
                _POOL_VARIABLE, "system" if sys.platform == "win32" else "jemalloc"
            )
        return
    import pyarrow as pa

    pa.set_memory_pool(_returning_pool() if returning else pa.default_memory_pool())


def _returning_pool() -> pa.MemoryPool:
    """An Arrow memory pool that gives freed memory back to the OS."""
    import pyarrow as pa

    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # a wheel built without jemalloc (Windows)
        return pa.system_memory_pool()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC for the block when the process opted in (the objects built there hold
    no cycles, and every full collection would walk them again); restore it as it was."""
    if not _allowed.pause_gc:
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def keep_from_gc() -> None:
    """Move every object alive now out of the cyclic GC's reach (``gc.freeze``) when the process
    opted in to ``pause_gc``: for data that lives on unchanged, such as the demo's generated tenant
    behind its in-process servers, which every full collection would otherwise walk again. Such
    objects are still freed by reference counting when let go of."""
    if _allowed.pause_gc:
        gc.freeze()


def return_freed_memory() -> None:
    """Give freed C heap back to the OS (glibc's ``malloc_trim``) when the process opted in; a
    no-op elsewhere."""
    if not _allowed.trim_heap or not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)
