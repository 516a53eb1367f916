"""Checkpoints of paged Graph reads, so an interrupted collection resumes instead of starting over.

A checkpoint is a folder holding one *page log* per request chain (the guests query, each partition
of it, the delta round), named by a hash of the chain's first URL. A log is lines: a header
(``{"url": ..., "tenant": ..., "created": ...}``), then every page exactly as Graph returned it, one
per line. A page carries its own ``@odata.nextLink``, so the last complete line says where the chain
goes on; a page without one ends the chain. Each page is written with a single ``write`` and
flushed, so a kill (or a lost network, which only fails the collection) leaves at most a torn last
line, which loading drops.

Pages are stored raw, not re-encoded: a page is JSON, and a literal line feed in JSON can only be
insignificant whitespace (inside strings it must be escaped), so replacing it with a space keeps the
page intact and makes it one line. Skip tokens expire: the collector restarts a chain from its first
page when a resumed ``nextLink`` is refused (see :mod:`audit.collectors.graph`).

The folder holds guest data and decides what a resumed run reports, so nothing in it is trusted:

- It is private. It is created ``0o700``; an existing one must be a real folder (not a symlink)
  owned by this user and writable by nobody else, else :class:`~audit.errors.ConfigError`. Every
  file is opened relative to the folder's descriptor without following links
  (``O_NOFOLLOW``), must be a regular file of ours with a single link, and a log begun again is a
  new file (``O_EXCL``), so no planted link or pre-created file receives guest pages.
- Logs are bound to the run that wrote them. The folder holds a random key (``key``, ``0o600``);
  each line starts with an HMAC-SHA256 that chains the header (request chain, tenant, time) and
  every page before it. A log is resumed only up to its last line that verifies: a planted,
  edited, reordered or foreign log (another tenant's chain with the same URL) is read again
  from Graph, never reported.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from audit.collectors.checkpoint_folder import NOFOLLOW, PrivateFolder, open_own
from audit.errors import CollectionError

__all__ = ["Checkpoint", "PageLog", "ResumePoint"]

JSON = dict[str, Any]
_SUFFIX = ".pages.jsonl"
_MAC_HEX = 64


@dataclass
class ResumePoint:
    """What a page log holds: the items so far and where the chain continues (None: it ended)."""

    items: list[JSON] = field(default_factory=list)
    next_link: str | None = None
    delta_link: str | None = None
    pages: int = 0

    @property
    def done(self) -> bool:
        """True when the last stored page ended the chain (no ``@odata.nextLink``)."""
        return self.pages > 0 and self.next_link is None


class PageLog:
    """The page log of one request chain; see the module docstring for the format.

    ``key`` is the folder's key (read from the folder when not given); ``tenant`` is bound into
    the header, so a log of another tenant's chain with the same URL is never resumed.
    """

    def __init__(
        self,
        path: Path,
        url: str,
        *,
        max_age: timedelta,
        durable: bool,
        key: bytes | None = None,
        tenant: str = "",
    ) -> None:
        self.path = path
        self.url = url
        self.max_age = max_age
        self.durable = durable
        self.tenant = tenant
        self._folder = PrivateFolder(path.parent)
        self._key = key
        self._mac: bytes | None = None  # the MAC of the last line written or verified

    def resume(self, *, now: datetime | None = None) -> ResumePoint | None:
        """The stored progress of this chain, or None (and a fresh log) when there is none to use.

        A log for another URL or tenant, older than ``max_age``, or whose header does not verify
        starts over; a torn, corrupt or unverified line ends what is kept, and the file is cut
        back to the last good page.
        """
        chain = self._verified(now or datetime.now(UTC))
        if chain is None:
            self.start(now=now)
            return None
        point = ResumePoint()
        for body in chain.bodies:
            page = _parse(body)
            if page is None or not isinstance(page.get("value"), list):
                break
            _take(point, page)
        self._keep(chain, point.pages)
        return point if point.pages else None

    def start(self, *, now: datetime | None = None) -> None:
        """Begin (or begin again) an empty log for this chain: a new file, never an old one."""
        stamp = (now or datetime.now(UTC)).isoformat()
        body = orjson.dumps({"url": self.url, "tenant": self.tenant, "created": stamp})
        mac = self._sign(b"header", body)
        self._write(mac.hex().encode() + b" " + body + b"\n", fresh=True)
        self._mac = mac

    def append(self, raw: bytes) -> None:
        """Store one page as Graph returned it (one line, one ``write``, flushed)."""
        if self._mac is None:  # not resumed nor started by this object: chain to the file
            chain = self._verified(datetime.now(UTC))
            if chain is None:
                self.start()
            else:
                self._keep(chain, len(chain.bodies))
        assert self._mac is not None
        line = raw.replace(b"\n", b" ")
        mac = self._sign(self._mac, line)
        self._write(mac.hex().encode() + b" " + line + b"\n", fresh=False)
        self._mac = mac

    def _verified(self, now: datetime) -> _Chain | None:
        """The lines of the file that verify, in order; None when its header does not (or it
        belongs to another chain or tenant, or is too old)."""
        lines = self._read()
        header = self._header(lines[0] if lines else None, now)
        if header is None:
            return None
        chain = _Chain(macs=[header[0]], sizes=[header[1]])
        for line in lines[1:]:
            mac = self._verify(chain.macs[-1], line)
            if mac is None:
                break
            chain.macs.append(mac)
            chain.sizes.append(chain.sizes[-1] + len(line) + 1)
            chain.bodies.append(line[_MAC_HEX + 1 :])
        return chain

    def _keep(self, chain: _Chain, pages: int) -> None:
        """Cut the file back to its header and first ``pages`` pages; chain on from there."""
        self._truncate(chain.sizes[pages])
        self._mac = chain.macs[pages]

    def _header(self, line: bytes | None, now: datetime) -> tuple[bytes, int] | None:
        """The header's MAC and byte length when it verifies and fits this chain, else None."""
        if line is None or len(line) <= _MAC_HEX + 1 or line[_MAC_HEX : _MAC_HEX + 1] != b" ":
            return None
        body = line[_MAC_HEX + 1 :]
        mac = self._sign(b"header", body)
        if not hmac.compare_digest(mac.hex().encode(), line[:_MAC_HEX]):
            return None
        header = _parse(body)
        if header is None or header.get("url") != self.url or header.get("tenant") != self.tenant:
            return None
        try:
            created = datetime.fromisoformat(str(header.get("created")))
        except ValueError:
            return None
        if created.tzinfo is None or not timedelta(0) <= now - created <= self.max_age:
            return None
        return mac, len(line) + 1

    def _verify(self, previous: bytes, line: bytes) -> bytes | None:
        """The MAC of ``line`` when it is the page that follows ``previous``, else None."""
        if len(line) <= _MAC_HEX + 1 or line[_MAC_HEX : _MAC_HEX + 1] != b" ":
            return None
        mac = self._sign(previous, line[_MAC_HEX + 1 :])
        return mac if hmac.compare_digest(mac.hex().encode(), line[:_MAC_HEX]) else None

    def _sign(self, previous: bytes, body: bytes) -> bytes:
        if self._key is None:
            self._key = self._folder.key()
        message = len(previous).to_bytes(2, "big") + previous + body
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _read(self) -> list[bytes]:
        """The complete lines of the file (none when it is missing or not a file of ours)."""
        try:
            with self._folder.descriptor() as folder:
                fd = open_own(self.path.name, os.O_RDONLY, folder)
                if fd is None:
                    return []
                with open(fd, "rb") as fh:
                    data = fh.read()
        except OSError as exc:
            raise CollectionError(f"cannot read checkpoint {self.path}: {exc.strerror}") from exc
        return data.split(b"\n")[:-1]  # the last element is empty or a torn line

    def _truncate(self, size: int) -> None:
        try:
            with self._folder.descriptor() as folder:
                fd = open_own(self.path.name, os.O_WRONLY, folder)
                if fd is not None:
                    with open(fd, "wb", closefd=True) as fh:
                        fh.truncate(size)
        except OSError as exc:
            raise CollectionError(f"cannot write checkpoint {self.path}: {exc.strerror}") from exc

    def _write(self, data: bytes, *, fresh: bool) -> None:
        try:
            with self._folder.descriptor() as folder:
                if fresh:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.path.name, dir_fd=folder)
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW
                    fd: int | None = os.open(self.path.name, flags, 0o600, dir_fd=folder)
                else:
                    fd = open_own(self.path.name, os.O_WRONLY | os.O_APPEND, folder)
                if fd is None:
                    raise CollectionError(f"checkpoint {self.path} was removed or replaced")
                with open(fd, "ab") as fh:
                    fh.write(data)
                    fh.flush()
                    if self.durable:
                        os.fsync(fh.fileno())
        except OSError as exc:
            raise CollectionError(f"cannot write checkpoint {self.path}: {exc.strerror}") from exc


@dataclass
class _Chain:
    """The verified start of a log: the MAC of each line (header first), the file size up to
    and including it, and the page bodies."""

    macs: list[bytes]
    sizes: list[int]
    bodies: list[bytes] = field(default_factory=list)


class Checkpoint:
    """A folder of page logs for one collection.

    ``resume=False`` discards what the folder holds (a fresh collection that still checkpoints);
    logs older than ``max_age`` are never resumed, so a stale half collection is not mixed with
    fresh pages. ``durable=True`` also fsyncs each page (survives a power loss, costs a disk sync
    per page); the default survives a killed process. ``tenant`` (the configured tenant id) is
    bound into every log. :meth:`clear` removes the folder once the collection it protects has
    completed. A folder that is not private raises :class:`~audit.errors.ConfigError`.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        resume: bool = True,
        max_age: timedelta = timedelta(hours=24),
        durable: bool = False,
        tenant: str | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.max_age = max_age
        self.durable = durable
        self.tenant = tenant or ""
        if not resume:
            self.clear()

    def log(self, url: str) -> PageLog:
        """The page log of the chain that starts at ``url`` (the folder is created on demand)."""
        key = PrivateFolder(self.folder).key()
        name = hashlib.sha256(url.encode()).hexdigest()[:24] + _SUFFIX
        return PageLog(
            self.folder / name,
            url,
            max_age=self.max_age,
            durable=self.durable,
            key=key,
            tenant=self.tenant,
        )

    def logs(self) -> list[Path]:
        """The page logs currently in the folder."""
        if self.folder.is_symlink() or not self.folder.is_dir():
            return []
        return sorted(self.folder.glob(f"*{_SUFFIX}"))

    def clear(self) -> None:
        """Remove the checkpoint folder (nothing to resume any more); a symlink is not followed."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _parse(line: bytes) -> JSON | None:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def _take(point: ResumePoint, page: JSON) -> None:
    point.items.extend(v for v in page["value"] if isinstance(v, dict))
    link = page.get("@odata.nextLink")
    point.next_link = str(link) if link else None
    delta = page.get("@odata.deltaLink")
    point.delta_link = str(delta) if delta else None
    point.pages += 1
