"""Checkpoints of paged Graph reads, so an interrupted collection resumes instead of starting over.

A checkpoint is a folder holding one *page log* per request chain (the guests query, each partition
of it, the delta round), named by a hash of the chain's first URL. A log is JSON lines: a header
(``{"url": ..., "created": ...}``), then every page exactly as Graph returned it, one per line. A page
carries its own ``@odata.nextLink``, so the last complete line says where the chain goes on; a page
without one ends the chain. Each page is written with a single ``write`` and flushed, so a kill (or a
lost network, which only fails the collection) leaves at most a torn last line, which loading drops.

Pages are stored raw, not re-encoded: a page is JSON, and a literal line feed in JSON can only be
insignificant whitespace (inside strings it must be escaped), so replacing it with a space keeps the
page intact and makes it one line. Skip tokens expire: the collector restarts a chain from its first
page when a resumed ``nextLink`` is refused (see :mod:`audit.collectors.graph`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from audit.errors import CollectionError

__all__ = ["Checkpoint", "PageLog", "ResumePoint"]

JSON = dict[str, Any]
_SUFFIX = ".pages.jsonl"


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
    """The page log of one request chain; see the module docstring for the format."""

    def __init__(self, path: Path, url: str, *, max_age: timedelta, durable: bool) -> None:
        self.path = path
        self.url = url
        self.max_age = max_age
        self.durable = durable

    def resume(self, *, now: datetime | None = None) -> ResumePoint | None:
        """The stored progress of this chain, or None (and a fresh log) when there is none to use.

        A log for another URL, older than ``max_age`` or with an unreadable header starts over; a
        torn or corrupt line ends what is kept, and the file is cut back to the last good page.
        """
        lines, good = self._read()
        header = _parse(lines[0]) if lines else None
        if not self._usable(header, now or datetime.now(UTC)):
            self.start(now=now)
            return None
        point = ResumePoint()
        for line in lines[1:]:
            page = _parse(line)
            if page is None or not isinstance(page.get("value"), list):
                break
            _take(point, page)
            good += len(line) + 1
        self._truncate(good)
        return point if point.pages else None

    def start(self, *, now: datetime | None = None) -> None:
        """Begin (or begin again) an empty log for this chain."""
        stamp = (now or datetime.now(UTC)).isoformat()
        header = orjson.dumps({"url": self.url, "created": stamp}) + b"\n"
        self._write(header, mode="wb")

    def append(self, raw: bytes) -> None:
        """Store one page as Graph returned it (one line, one ``write``, flushed)."""
        self._write(raw.replace(b"\n", b" ") + b"\n", mode="ab")

    def _read(self) -> tuple[list[bytes], int]:
        """The complete lines of the file, and the byte length of its header line."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return [], 0
        except OSError as exc:
            raise CollectionError(f"cannot read checkpoint {self.path}: {exc}") from exc
        lines = data.split(b"\n")[:-1]  # the last element is empty or a torn line
        return lines, (len(lines[0]) + 1 if lines else 0)

    def _usable(self, header: JSON | None, now: datetime) -> bool:
        if header is None or header.get("url") != self.url:
            return False
        try:
            created = datetime.fromisoformat(str(header.get("created")))
        except ValueError:
            return False
        return created.tzinfo is not None and timedelta(0) <= now - created <= self.max_age

    def _truncate(self, size: int) -> None:
        try:
            with open(self.path, "r+b") as fh:
                fh.truncate(size)
        except OSError as exc:
            raise CollectionError(f"cannot write checkpoint {self.path}: {exc}") from exc

    def _write(self, data: bytes, *, mode: str) -> None:
        try:
            with open(self.path, mode) as fh:
                fh.write(data)
                fh.flush()
                if self.durable:
                    os.fsync(fh.fileno())
        except OSError as exc:
            raise CollectionError(f"cannot write checkpoint {self.path}: {exc}") from exc


class Checkpoint:
    """A folder of page logs for one collection.

    ``resume=False`` discards what the folder holds (a fresh collection that still checkpoints);
    logs older than ``max_age`` are never resumed, so a stale half collection is not mixed with
    fresh pages. ``durable=True`` also fsyncs each page (survives a power loss, costs a disk sync
    per page); the default survives a killed process. :meth:`clear` removes the folder once the
    collection it protects has completed.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        resume: bool = True,
        max_age: timedelta = timedelta(hours=24),
        durable: bool = False,
    ) -> None:
        self.folder = Path(folder)
        self.max_age = max_age
        self.durable = durable
        if not resume:
            self.clear()

    def log(self, url: str) -> PageLog:
        """The page log of the chain that starts at ``url`` (the folder is created on demand)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CollectionError(f"cannot create checkpoint folder {self.folder}: {exc}") from exc
        name = hashlib.sha256(url.encode()).hexdigest()[:24] + _SUFFIX
        return PageLog(self.folder / name, url, max_age=self.max_age, durable=self.durable)

    def logs(self) -> list[Path]:
        """The page logs currently in the folder."""
        return sorted(self.folder.glob(f"*{_SUFFIX}")) if self.folder.is_dir() else []

    def clear(self) -> None:
        """Remove the checkpoint folder (nothing to resume any more)."""
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
