"""Owner-only files and folders: reports, snapshots and exports hold guest names and addresses.

Everything the tool writes is created readable by its owner only (files ``0o600``, folders it
creates ``0o700``), whatever the process umask; folders that already exist keep their mode.
"""

from __future__ import annotations

import os
from pathlib import Path

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
