"""Owner-only files and folders: reports, snapshots and exports hold guest names and addresses.

Everything the tool writes is created readable by its owner only (files ``0o600``, folders it
creates ``0o700``), whatever the process umask; folders that already exist keep their mode.
Input files are opened with :func:`open_regular`, so a FIFO or a device never blocks a run, and
parsed JSON is checked with :func:`nested_deeper_than` before anything walks it recursively.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) as owner-only folders; return it."""
    folder = Path(path)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for created in reversed(missing):
        created.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(created, DIR_MODE)  # mkdir's mode is filtered by the umask
    return folder


def private_file(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` empty and owner-only (or make an existing file owner-only); return it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return Path(path)


def write_private(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` as an owner-only file (replacing its content)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return Path(path)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for reading in binary mode, only if it is a regular file.

    It is opened without blocking (a FIFO with no writer would block ``open`` forever) and
    checked with ``fstat`` on the open descriptor; anything but a regular file raises
    :class:`OSError` whose ``strerror`` is "not a regular file".
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


MAX_JSON_DEPTH = 100
"""Deepest nesting of objects and arrays an input JSON document may have (no Graph response, export
or manifest comes near it; deeper ones end in recursion limits of the code that walks them)."""


def nested_deeper_than(document: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``document`` nests dicts and lists more than ``limit`` levels deep (walked without
    recursion, so the check itself cannot hit the recursion limit)."""
    stack: list[tuple[Any, int]] = [(document, 1)] if type(document) in (dict, list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for value in node.values() if type(node) is dict else node:
            if type(value) is dict or type(value) is list:
                stack.append((value, depth + 1))
    return False
