"""Read a ``Get-MailUser`` CSV export (Exchange Online guest mail users).

Export it with (Exchange Online PowerShell)::

    Get-MailUser -ResultSize Unlimited -Filter "RecipientTypeDetails -eq 'GuestMailUser'" |
      Select-Object DisplayName,UserPrincipalName,ExternalDirectoryObjectId,PrimarySmtpAddress,
        ExternalEmailAddress,@{n='EmailAddresses';e={$_.EmailAddresses -join ';'}},
        HiddenFromAddressListsEnabled,RecipientTypeDetails |
      Export-Csv mailusers.csv -NoTypeInformation -Encoding UTF8

Tolerates a BOM, UTF-16, a ``#TYPE`` first line, any column order, extra columns, CRLF, and
``EmailAddresses`` joined with ``;`` or ``,`` or printed as ``{a, b}``. Bad rows are skipped and reported
with their line numbers; a missing required column is an :class:`InputError`.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import re
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import pyarrow as pa

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
            reader = csv.reader(lines)
            header = _header(reader, file)
            with gc_paused():  # the address lists hold no cycles
                columns, problems = yield from _rows(reader, header, file, offset, rows_per_step)
                table = columns.table()
    except UnicodeDecodeError as exc:
        raise _decode_error(file, exc) from None
    except OSError as exc:  # the file went away or failed while it was read
        raise InputError(file, f"cannot read ({exc.strerror})") from None
    state = SourceState.PARTIAL if problems else SourceState.OK
    detail = {"file": file.name, "skipped_rows": len(problems)}
    status = SourceStatus("mailusers", state, rows=len(table), detail=detail)
    return MailUsers(table, status, problems)


def _open_text(file: Path) -> TextIO:
    """The file as text: UTF-16 when it starts with a UTF-16 BOM, else UTF-8 without its BOM."""
    try:
        if file.stat().st_size > MAX_BYTES:
            raise InputError(file, f"file is larger than {MAX_BYTES // 2**20} MiB")
        with file.open("rb") as probe:
            head = probe.read(2)
        encoding = "utf-16" if head in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
        return file.open(encoding=encoding, newline="")
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
    read = 0
    while True:
        try:
            for fields in reader:
                read += 1
                if read % step == 0:
                    yield
                if len(fields) >= width and _GUID.fullmatch(fields[id_at].strip()):
                    columns.add(fields)  # the usual row: complete, with a plain GUID
                    continue
                if not any(f.strip() for f in fields):
                    continue
                problem = _row_problem(fields, width, id_at)
                if problem:
                    problems.append(f"{file.name}:{reader.line_num + offset}: {problem}")
                else:
                    columns.add(fields)
            break
        except csv.Error as exc:  # the reader goes on with the next line
            problems.append(f"{file.name}:{reader.line_num + offset}: unreadable row ({exc})")
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

    def add(self, fields: list[str]) -> None:
        for name, at in self.positions.items():
            self.pending[name].append(fields[at])
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
        """One ``str`` column per field (absent optional ones all missing) and
        ``EmailAddresses`` as lists of addresses."""
        self.flush()
        data: dict[str, Any] = {}
        for name in (*REQUIRED, *OPTIONAL):
            if name == "EmailAddresses":
                data[name] = pd.Series(self.addresses, dtype=object)
            elif name in self.chunks:
                chunks = pa.chunked_array(self.chunks.pop(name), type=pa.large_string())
                data[name] = pd.Series(pd.array(chunks, dtype="str"))
            else:
                data[name] = pd.Series([None] * self.rows, dtype="str")
        return pd.DataFrame(data, index=pd.RangeIndex(self.rows))
