"""Put streamed table sheets into a workbook that openpyxl wrote with placeholders for them.

openpyxl writes the workbook's skeleton: the Summary sheet and its chart, styles, the sheet list,
defined names (autofilter ranges, print titles) and, for each table sheet, a placeholder holding
its settings (column widths, frozen header, autofilter) and its header row. This module copies
that package part by part into the final file, and appends each table sheet's rows (from
:func:`audit.render.xlsx_sheet.rows_xml`) to its placeholder's ``<sheetData>`` on the way, so
the rows never exist as openpyxl cells.

Compression runs on a second thread: zlib releases the GIL, so deflating a chunk overlaps with
building the next one. A part carries the ZIP64 extension only when it may need it (its size is
estimated from its first chunk, and a part that outgrows the estimate is written again): readers
differ in what ZIP64 records they accept, and Excel has refused or "repaired" workbooks whose
parts carried ones they did not need. Parts are dated 1980-01-01 (zip's zero), so the same
result gives the same bytes apart from openpyxl's docProps/core.xml.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any
from xml.etree import ElementTree

__all__ = ["COMPRESS_LEVEL", "RowSource", "write_package"]

COMPRESS_LEVEL = 1
"""zlib level of the package. Measured at 100,000 guests: level 1 writes report.xlsx in 6.2 s
(46 MB), level 3 in 6.6 s (43 MB), level 6 in 8.4 s (37 MB, the size openpyxl's level 6 gave)."""

RowSource = Callable[[], Iterable[tuple[int, bytes]]]
"""Makes a fresh iterator of ``(rows, XML)`` chunks of one sheet (called again on a retry)."""

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_END = b"</sheetData>"
_MARGIN = 0.99  # of the limit, for deflate's worst-case growth of incompressible data
_QUEUE = 4  # chunks waiting for the compressor: bounds memory


class _NeedsZip64(Exception):
    """A part grew past what a zip entry without the ZIP64 extension can hold."""

    def __init__(self, part: str) -> None:
        super().__init__(part)
        self.part = part


@dataclass(frozen=True)
class _Sheet:
    """A streamed sheet: its placeholder split around the rows, and where the rows come from."""

    head: bytes
    tail: bytes
    rows: RowSource
    total: int


@dataclass
class _Plan:
    """The ZIP64 threshold, and the parts that must carry ZIP64 (an estimate was too low)."""

    limit: int
    zip64: set[str] = field(default_factory=set)


def write_package(
    skeleton: bytes,
    target: Path,
    sheets: Mapping[str, tuple[RowSource, int]],
    *,
    level: int = COMPRESS_LEVEL,
    zip64_above: int = zipfile.ZIP64_LIMIT,
) -> None:
    """Write ``skeleton`` (an .xlsx made by openpyxl) to ``target`` with the sheets' rows added.

    ``sheets`` maps a sheet title to its row source and its number of data rows. Each title's
    placeholder must end its ``<sheetData>`` exactly once (openpyxl's header row is kept).
    A part gets ZIP64 when its size, estimated from its first chunk, could pass ``zip64_above``
    bytes (zip's own limit; smaller in tests); one that passes it anyway is written again.
    """
    with zipfile.ZipFile(io.BytesIO(skeleton)) as source:
        parts = _sheet_parts(source)
        missing = sorted(set(sheets) - set(parts))
        if missing:
            raise ValueError(f"no placeholder sheet for {missing}")
        streamed = {parts[title]: _split(source, parts[title], *sheets[title]) for title in sheets}
        plan = _Plan(limit=zip64_above)
        while True:
            try:
                _write(source, streamed, target, level, plan)
                return
            except _NeedsZip64 as grown:  # estimated too small: again, with ZIP64 for that part
                plan.zip64.add(grown.part)


def _sheet_parts(source: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title → its worksheet part, read from workbook.xml and its relationships."""
    book = ElementTree.fromstring(source.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(source.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels.iter(f"{_PKG_REL}Relationship")}
    parts = {}
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets[sheet.get(f"{_REL}id")]
        path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        parts[sheet.get("name", "")] = str(PurePosixPath(path))
    return parts


def _split(source: zipfile.ZipFile, part: str, rows: RowSource, total: int) -> _Sheet:
    """The placeholder part cut where the rows go (before ``</sheetData>``)."""
    xml = source.read(part)
    if xml.count(_END) != 1:
        raise ValueError(f"{part} is not a placeholder with one <sheetData> (a header row)")
    head, tail = xml.split(_END)
    return _Sheet(head, _END + tail, rows, total)


def _write(
    source: zipfile.ZipFile, streamed: Mapping[str, _Sheet], target: Path, level: int, plan: _Plan
) -> None:
    """One attempt at the whole package: parts in the skeleton's order."""
    with (
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as out,
        _Compressor(out) as compressor,
    ):
        for info in source.infolist():
            sheet = streamed.get(info.filename)
            if sheet is None:
                compressor.put_part(info.filename, source.read(info))
            else:
                _stream_sheet(compressor, info.filename, sheet, plan)


def _stream_sheet(compressor: _Compressor, part: str, sheet: _Sheet, plan: _Plan) -> None:
    """One sheet's part: placeholder head, the rows chunk by chunk, placeholder tail."""
    chunks = iter(sheet.rows())
    first = next(chunks, (0, b""))
    zip64 = part in plan.zip64 or _estimate(sheet, first) * 1.05 > plan.limit
    compressor.open(part, zip64=zip64)
    size = 0
    for _, xml in _chain_first(first, chunks, sheet.head, sheet.tail):
        size += len(xml)
        if size > plan.limit * _MARGIN and not zip64:
            raise _NeedsZip64(part)
        compressor.put(xml)
    compressor.close()


def _estimate(sheet: _Sheet, first: tuple[int, bytes]) -> float:
    """The part's size extrapolated from its first chunk of rows."""
    rows, xml = first
    per_row = len(xml) / rows if rows else 0
    return len(sheet.head) + len(sheet.tail) + per_row * sheet.total


def _chain_first(
    first: tuple[int, bytes], rest: Iterator[tuple[int, bytes]], head: bytes, tail: bytes
) -> Iterator[tuple[int, bytes]]:
    """Head, the first chunk, the other chunks, tail."""
    yield 0, head
    yield first
    yield from rest
    yield 0, tail


class _Compressor:
    """Writes zip entries on one worker thread, at most a few chunks behind the producer.

    Only the worker touches the ``ZipFile`` while it runs. A worker's error is raised in the
    producer at its next call or on exit; leaving the ``with`` block early (an exception in the
    producer) drops the waiting chunks and closes an open entry, so the ``ZipFile`` can close.
    """

    def __init__(self, out: zipfile.ZipFile) -> None:
        self._out = out
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()
        self._entry: IO[bytes] | None = None

    def __enter__(self) -> _Compressor:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="xlsx-deflate")
        return self

    def __exit__(self, kind: object, exc: object, trace: object) -> None:
        try:
            if exc is None:
                self._wait(0)
        finally:
            assert self._pool is not None
            self._pool.shutdown(wait=True, cancel_futures=True)
            if self._entry is not None:  # only after a failure: the file is not kept
                with contextlib.suppress(Exception):
                    self._entry.close()

    def put_part(self, name: str, data: bytes) -> None:
        """A whole small part."""
        self._submit(self._part, name, data)

    def open(self, name: str, *, zip64: bool) -> None:
        """Start a streamed part."""
        self._submit(self._open, name, zip64)

    def put(self, data: bytes) -> None:
        """More bytes of the streamed part."""
        self._submit(self._write, data)

    def close(self) -> None:
        """End the streamed part."""
        self._submit(self._close)

    def _submit(self, job: Callable[..., None], *args: Any) -> None:
        assert self._pool is not None, "use _Compressor as a context manager"
        self._pending.append(self._pool.submit(job, *args))
        self._wait(_QUEUE)

    def _wait(self, keep: int) -> None:
        """Let at most ``keep`` jobs wait; raise the first error of those that finished."""
        while len(self._pending) > keep:
            self._pending.popleft().result()

    def _part(self, name: str, data: bytes) -> None:
        with self._out.open(name, "w") as entry:
            entry.write(data)

    def _open(self, name: str, zip64: bool) -> None:
        self._entry = self._out.open(name, "w", force_zip64=zip64)

    def _write(self, data: bytes) -> None:
        assert self._entry is not None
        self._entry.write(data)

    def _close(self) -> None:
        assert self._entry is not None
        self._entry.close()
        self._entry = None
