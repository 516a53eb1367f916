"""Read a ``Get-MailUser`` CSV export (Exchange Online guest mail users).

Export it with (Exchange Online PowerShell)::

    Get-MailUser -ResultSize Unlimited -Filter "RecipientTypeDetails -eq 'GuestMailUser'" |
      Select-Object DisplayName,UserPrincipalName,ExternalDirectoryObjectId,PrimarySmtpAddress,
        ExternalEmailAddress,@{n='EmailAddresses';e={$_.EmailAddresses -join ';'}},
        HiddenFromAddressListsEnabled,RecipientTypeDetails |
      Export-Csv mailusers.csv -NoTypeInformation -Encoding UTF8

Tolerates a BOM, UTF-16, a ``#TYPE`` first line, any column order, extra columns, CRLF,
``EmailAddresses`` joined with ``;`` or ``,`` or printed as ``{a, b}``, and object ids written as
``{GUID}``, ``urn:uuid:`` or without hyphens (normalised to the plain lower-case form Graph uses).
Bad rows are skipped and reported with their file and line numbers; a missing required column is an
:class:`InputError`. Only a regular file is read (a FIFO named like the export never hangs a run).

Quoting is read strictly: a field with a missing closing quote would otherwise swallow the rows
after it (and their guests would silently lose their MailUser rows). A row that cannot be read
(broken quoting, too few fields, a field over the size limit) is never taken for "no mail user":
the object ids found in its lines are kept as rows marked :data:`UNREADABLE`, and the analysis
makes those guests' Exchange checks *not evaluated*. An unreadable row naming no object id could
belong to any guest, so it makes the Exchange checks of every guest without a readable row not
evaluated.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import os
import re
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import pyarrow as pa

from audit._files import open_regular
from audit.collectors.tables import gc_paused
from audit.errors import InputError
from audit.models import SourceState, SourceStatus

REQUIRED = (
    "ExternalDirectoryObjectId",
    "PrimarySmtpAddress",
    "ExternalEmailAddress",
    "EmailAddresses",
)
OPTIONAL = (
    "DisplayName",
    "UserPrincipalName",
    "HiddenFromAddressListsEnabled",
    "RecipientTypeDetails",
)
MAX_BYTES = 512 * 1024 * 1024
ROWS_PER_STEP = 100
"""Rows :func:`mailusers_steps` reads between pauses (a few milliseconds of work)."""


UNREADABLE = "_unreadable"
"""Column of the table: True on the rows that stand for an unreadable row of the file (their
``ExternalDirectoryObjectId`` is an id found in its lines, or missing when none was)."""


@dataclass
class MailUsers:
    """The parsed export: one row per mail user, its source status, and the rows that were skipped."""

    table: pd.DataFrame
    status: SourceStatus
    problems: list[str] = field(default_factory=list)


def read_mailusers(path: str | Path) -> MailUsers:
    """Parse the CSV at ``path``; raises InputError when it cannot be read as a MailUser export.

    The file is streamed (never held whole in memory, as bytes or text) and its columns turned
    into Arrow chunk by chunk: a million-row export is about 340 MB, and holding it whole,
    decoded, and split into per-row dicts cost several GB.
    """
    steps = mailusers_steps(path)
    while (parsed := _step(steps)) is None:
        pass
    return parsed


async def read_mailusers_async(path: str | Path) -> MailUsers:
    """:func:`read_mailusers`, yielding to the running event loop between steps (DNS answers
    keep being read meanwhile); cancelled mid-file, it closes the file at once."""
    steps = mailusers_steps(path)
    try:
        while (parsed := _step(steps)) is None:
            await asyncio.sleep(0)
        return parsed
    finally:
        steps.close()  # also resumes the GC the steps paused


def _step(steps: Generator[None, None, MailUsers]) -> MailUsers | None:
    """Run one step of :func:`mailusers_steps`: its result once it is done, else None."""
    try:
        next(steps)
    except StopIteration as done:
        parsed: MailUsers = done.value
        return parsed
    return None


def mailusers_steps(
    path: str | Path, *, rows_per_step: int = ROWS_PER_STEP
) -> Generator[None, None, MailUsers]:
    """:func:`read_mailusers` as a generator that pauses (yields) every ``rows_per_step`` rows
    and returns the result: an event loop can drive it between other work, such as DNS
    answers, without a thread competing with the loop for the GIL."""
    file = Path(path)
    try:
        with _open_text(file) as text:
            lines, offset = _skip_type_line(text)
            reader = csv.reader(lines, strict=True)
            header = _header(reader, file)
            with gc_paused():  # the address lists hold no cycles
                columns, problems = yield from _rows(reader, header, file, offset, rows_per_step)
            if columns.broken:
                columns.unreadable += _ids_in_lines(file, columns.broken)
            table = columns.table()
    except UnicodeDecodeError as exc:
        raise _decode_error(file, exc) from None
    except OSError as exc:  # the file went away or failed while it was read
        raise InputError(file, f"cannot read ({exc.strerror})") from None
    state = SourceState.PARTIAL if problems else SourceState.OK
    detail = {
        "file": file.name,
        "skipped_rows": len(problems),
        "unreadable_rows": len(columns.unreadable),
    }
    status = SourceStatus("mailusers", state, rows=columns.rows, detail=detail)
    return MailUsers(table, status, problems)


def _open_text(file: Path) -> TextIO:
    """The file as text: UTF-16 when it starts with a UTF-16 BOM, else UTF-8 without its BOM."""
    try:
        raw = open_regular(file)
        if os.fstat(raw.fileno()).st_size > MAX_BYTES:
            raw.close()
            raise InputError(file, f"file is larger than {MAX_BYTES // 2**20} MiB")
        head = raw.read(2)
        raw.seek(0)
        encoding = "utf-16" if head in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
        return io.TextIOWrapper(raw, encoding=encoding, newline="")
    except OSError as exc:
        raise InputError(file, f"cannot read ({exc.strerror})") from None


def _decode_error(file: Path, exc: UnicodeDecodeError) -> InputError:
    """The error for a file that is not UTF-8 (nor UTF-16), with the line of the first bad byte
    when it can be found (the file is read again whole: this is the failure path only)."""
    message = "not UTF-8 or UTF-16 text; export with -Encoding UTF8"
    if exc.encoding.lower().startswith("utf-16"):
        return InputError(file, message)
    body = file.read_bytes().removeprefix(b"\xef\xbb\xbf")  # positions count after the BOM
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as found:
        return InputError(file, message, line=body[: found.start].count(b"\n") + 1)
    return InputError(file, message)


def _skip_type_line(text: TextIO) -> tuple[Iterator[str], int]:
    """The lines after the ``#TYPE`` line Export-Csv writes without -NoTypeInformation, and the
    line offset (1 when it was there)."""
    first = text.readline()
    if first.startswith("#TYPE"):
        return iter(text), 1
    return itertools.chain((first,), text), 0


def _header(reader: csv.Reader, file: Path) -> list[str]:  # type: ignore[name-defined]
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(file, "empty file: expected a Get-MailUser CSV header", line=1) from None
    except csv.Error as exc:
        raise InputError(file, f"unreadable header ({exc})", line=1) from None
    names = [h.strip().strip("\ufeff") for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InputError(file, f"missing column(s) {', '.join(missing)}", line=1)
    return names


def _rows(
    reader: csv.Reader,  # type: ignore[name-defined]
    header: list[str],
    file: Path,
    offset: int,
    rows_per_step: int,
) -> Generator[None, None, tuple[_Columns, list[str]]]:
    """The accepted rows' wanted fields, and the skipped rows (file:line: why); pauses every
    ``rows_per_step`` rows read."""
    problems: list[str] = []
    columns = _Columns(header)
    id_at, width = header.index("ExternalDirectoryObjectId"), len(header)
    step = max(rows_per_step, 1)
    read, end = 0, reader.line_num
    while True:
        try:
            for fields in reader:
                start, end = end + 1, reader.line_num
                read += 1
                if read % step == 0:
                    yield
                if len(fields) >= width and _GUID.fullmatch(fields[id_at].strip()):
                    columns.add(fields)  # the usual row: complete, with a plain GUID
                    continue
                if not any(f.strip() for f in fields):
                    continue
                problem = _row_problem(fields, width, id_at)
                if problem is None:
                    columns.add(fields, object_id=str(uuid.UUID(fields[id_at].strip())))
                    continue
                problems.append(f"{file.name}:{start + offset}: {problem}")
                if len(fields) < width:  # cut short: its id, if any, is somewhere in it
                    columns.unreadable += _ids_in(fields) or [None]
            break
        except csv.Error as exc:  # the reader goes on with the next line
            start, end = end + 1, reader.line_num
            span = (
                f"line {start + offset}"
                if start >= end
                else f"lines {start + offset}-{end + offset}"
            )
            problems.append(
                f"{file.name}:{start + offset}: unreadable row ({exc}; {span} not read)"
            )
            columns.broken.append((start, end))
    return columns, problems


_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _row_problem(fields: list[str], width: int, id_at: int) -> str | None:
    if len(fields) < width:
        return f"{len(fields)} fields, header has {width}"
    object_id = fields[id_at].strip()
    try:
        uuid.UUID(object_id)  # also braces, urn:uuid: prefixes, no hyphens
    except ValueError:
        return f"ExternalDirectoryObjectId {object_id[:60]!r} is not a GUID"
    return None


def _ids_in(texts: list[str]) -> list[str | None]:
    """The object ids (GUIDs, as Graph writes them) found in ``texts``."""
    found = (m.group().lower() for text in texts for m in _GUID.finditer(text))
    return list(dict.fromkeys(found))


def _ids_in_lines(file: Path, spans: list[tuple[int, int]]) -> list[str | None]:
    """Per unreadable row (lines ``start``..``end`` as the reader counted them), the object ids
    in its lines, or None for a row that names none (read again: the failure path only)."""
    wanted = {n for start, end in spans for n in range(start, max(start, end) + 1)}
    text: dict[int, str] = {}
    with _open_text(file) as handle:
        lines, _ = _skip_type_line(handle)
        for number, line in enumerate(lines, start=1):
            if number in wanted:
                text[number] = line
            if number >= max(wanted):
                break
    found: list[str | None] = []
    for start, end in spans:
        ids = _ids_in([text.get(n, "") for n in range(start, max(start, end) + 1)])
        found += ids or [None]
    return found


_SPLIT = re.compile(r"[;,]\s*")


def _addresses(value: str) -> list[str]:
    inner = value.strip().removeprefix("{").removesuffix("}")
    return [a.strip() for a in _SPLIT.split(inner) if a.strip()]


_CHUNK = 16_384
"""Rows held as Python strings before they are converted into Arrow columns."""


class _Columns:
    """The wanted fields of accepted rows, stripped (object ids lower-cased), converted to Arrow
    every :data:`_CHUNK` rows so a million rows of Python strings never pile up."""

    def __init__(self, header: list[str]) -> None:
        self.positions = {c: header.index(c) for c in (*REQUIRED, *OPTIONAL) if c in header}
        self.pending: dict[str, list[str]] = {c: [] for c in self.positions}
        self.chunks: dict[str, list[pa.Array]] = {c: [] for c in self.positions}
        self.addresses: list[list[str]] = []
        self.rows = 0
        self.unreadable: list[str | None] = []  # object ids of unreadable rows (None: unknown)
        self.broken: list[tuple[int, int]] = []  # line spans the CSV reader could not read

    def add(self, fields: list[str], *, object_id: str | None = None) -> None:
        """Take a row; ``object_id`` replaces its id when it had to be normalised."""
        for name, at in self.positions.items():
            self.pending[name].append(fields[at])
        if object_id is not None:
            self.pending["ExternalDirectoryObjectId"][-1] = object_id
        self.rows += 1
        if self.rows % _CHUNK == 0:
            self.flush()

    def flush(self) -> None:
        for name, values in self.pending.items():
            if name == "EmailAddresses":
                self.addresses.extend([_addresses(v) for v in values])
            elif name == "ExternalDirectoryObjectId":
                stripped = [v.strip().lower() for v in values]
                self.chunks[name].append(pa.array(stripped, type=pa.large_string()))
            else:
                stripped = [v.strip() for v in values]
                self.chunks[name].append(pa.array(stripped, type=pa.large_string()))
            values.clear()

    def table(self) -> pd.DataFrame:
        """One ``str`` column per field (absent optional ones all missing), ``EmailAddresses``
        as lists of addresses, and :data:`UNREADABLE`: the unreadable rows come last, with
        their object id when known and no other field."""
        self.flush()
        extra = len(self.unreadable)
        data: dict[str, Any] = {}
        for name in (*REQUIRED, *OPTIONAL):
            if name == "EmailAddresses":
                data[name] = pd.Series([*self.addresses, *([] for _ in range(extra))], dtype=object)
                continue
            chunks = self.chunks.pop(name, None) or [pa.nulls(self.rows, pa.large_string())]
            tail = self.unreadable if name == "ExternalDirectoryObjectId" else [None] * extra
            chunks.append(pa.array(tail, type=pa.large_string()))
            data[name] = pd.Series(pd.array(pa.chunked_array(chunks), dtype="str"))
        data[UNREADABLE] = pd.Series([False] * self.rows + [True] * extra, dtype=bool)
        return pd.DataFrame(data, index=pd.RangeIndex(self.rows + extra))
