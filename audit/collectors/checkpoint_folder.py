"""The checkpoint folder and its files, opened so that nothing planted in it is followed or trusted.

The folder holds guest data, so it is private: created ``0o700``; an existing one must be a real
folder (not a symlink) owned by this user and writable by nobody else, else
:class:`~audit.errors.ConfigError`. Every file is opened relative to the folder's descriptor without
following links (``O_NOFOLLOW``) and must be a regular file of ours with a single link; anything
else found under a file's name is removed, never read nor written through. The page logs that use
it live in :mod:`audit.collectors.checkpoint`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from audit._files import private_dir
from audit.errors import CollectionError, ConfigError

__all__ = ["KEY", "KEY_BYTES", "NOFOLLOW", "PrivateFolder", "discard", "open_own"]

KEY = "key"
KEY_BYTES = 32
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class PrivateFolder:
    """The checkpoint folder, opened without following links and checked to be private."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def descriptor(self) -> Iterator[int]:
        """An open descriptor of the folder (created ``0o700`` when missing), checked private."""
        self._create()
        try:
            fd = os.open(self.path, os.O_RDONLY | _DIRECTORY | NOFOLLOW)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise self._refused("a symbolic link or not a folder") from None
            raise CollectionError(
                f"cannot open checkpoint folder {self.path}: {exc.strerror}"
            ) from exc
        try:
            self._check(os.fstat(fd), fd)
            yield fd
        finally:
            os.close(fd)

    def key(self) -> bytes:
        """The folder's HMAC key, made (random, ``0o600``, ``O_EXCL``) when there is none."""
        try:
            with self.descriptor() as folder:
                fd = open_own(KEY, os.O_RDONLY, folder)
                if fd is not None:
                    with open(fd, "rb") as fh:
                        key = fh.read(KEY_BYTES + 1)
                    if len(key) == KEY_BYTES:
                        return key
                    os.unlink(KEY, dir_fd=folder)  # torn by a kill: its logs cannot verify
                key = secrets.token_bytes(KEY_BYTES)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW
                with open(os.open(KEY, flags, 0o600, dir_fd=folder), "wb") as fh:
                    fh.write(key)
                return key
        except FileExistsError:  # another partition made it in the meantime
            return self.key()
        except OSError as exc:
            raise CollectionError(
                f"cannot use checkpoint folder {self.path}: {exc.strerror}"
            ) from exc

    def _create(self) -> None:
        try:
            private_dir(self.path.parent)
            os.mkdir(self.path, 0o700)
        except FileExistsError:
            return
        except OSError as exc:
            raise CollectionError(
                f"cannot create checkpoint folder {self.path}: {exc.strerror}"
            ) from exc
        os.chmod(self.path, 0o700, follow_symlinks=False)  # mkdir's mode passes the umask

    def _check(self, info: os.stat_result, fd: int) -> None:
        if not stat.S_ISDIR(info.st_mode):
            raise self._refused("not a folder")
        if info.st_uid != os.geteuid():
            raise self._refused(f"owned by user id {info.st_uid}, not by this user")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o022:
            raise self._refused(f"mode {mode:04o}: others may write in it")
        if mode & 0o077:
            os.fchmod(fd, 0o700)  # ours, only readable by others: made private

    def _refused(self, why: str) -> ConfigError:
        return ConfigError(
            f"checkpoint folder {self.path} is not private ({why or 'cannot be opened'}); "
            "remove it or choose another with --checkpoint-dir"
        )


def open_own(name: str, flags: int, folder: int) -> int | None:
    """``name`` in the folder, opened without following a link: its descriptor when it is a
    regular file of ours with one link; None when it is missing. Anything else (a symlink, a
    FIFO, a folder, a hard link) cannot be ours in a private folder: it is removed, never read
    nor written through."""
    try:
        fd = os.open(name, flags | NOFOLLOW | _NONBLOCK, dir_fd=folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
            raise
        discard(name, folder)
        return None
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and info.st_nlink == 1:
        if flags & os.O_ACCMODE == os.O_RDONLY:
            return fd
        os.set_blocking(fd, True)
        return fd
    os.close(fd)
    discard(name, folder)
    return None


def discard(name: str, folder: int) -> None:
    """Remove the entry ``name`` of the folder, whatever it is (a folder with its content)."""
    try:
        os.unlink(name, dir_fd=folder)
    except IsADirectoryError:
        shutil.rmtree(name, dir_fd=folder)
