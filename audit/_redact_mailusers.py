"""A Get-MailUser CSV copied with names and addresses pseudonymised (``collect --save-raw --redact``).

The copy must read back as the original does (:mod:`audit.collectors.mailusers`), so a redacted
export gives the same analysis: rows are read with the same strict quoting, every row that reads
is written again (UTF-8 with BOM, all fields quoted) with its cells redacted, and a row that does
not read (a field with a missing closing quote, which would swallow the rows after it) is copied
line by line with every word replaced except object ids, so it stays broken in the same way and
its ids still name the guests whose Exchange checks it makes unknown. Identifiers and flags are
kept only when they look like one (a GUID, ``True``, ``GuestMailUser``); anything else in them,
such as a row swallowed by a broken one, is redacted like a name.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from audit._files import write_private
from audit._pseudonym import Pseudonymiser

__all__ = ["redact_mailusers_csv"]

NAMES = frozenset(
    {"DisplayName", "UserPrincipalName", "PrimarySmtpAddress", "ExternalEmailAddress",
     "EmailAddresses"}
)  # fmt: skip
"""Columns holding guest names and addresses."""
_PLAIN = re.compile(r"\s*(?:[0-9A-Fa-f-]{32,38}|\{[0-9A-Fa-f-]{32,36}\}|[A-Za-z]{0,40})\s*")
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_IDS_AND_FLAGS = frozenset(
    {"ExternalDirectoryObjectId", "HiddenFromAddressListsEnabled", "RecipientTypeDetails"}
)


def redact_mailusers_csv(
    source: str | Path, target: str | Path, pseudonymiser: Pseudonymiser
) -> Path:
    """Copy a Get-MailUser CSV with names and addresses redacted (see the module docstring)."""
    raw = Path(source).read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace")
    lines = _Lines(io.StringIO(text, newline=""))
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    first = next(lines, None)
    if first is not None and first.startswith("#TYPE"):
        out.write(first)
        first = None
    lines.held.clear()
    reader = csv.reader(_again(first, lines), strict=True)
    header: list[str] | None = None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            out.write("".join(_raw_line(line, pseudonymiser) for line in lines.take()))
            continue
        lines.take()
        if header is None:
            header = [h.strip() for h in row]
            writer.writerow(header)
            continue
        named = [_cell(name, cell, pseudonymiser) for name, cell in zip(header, row, strict=False)]
        writer.writerow(named + [pseudonymiser.text(cell) for cell in row[len(header) :]])
    return write_private(target, b"\xef\xbb\xbf" + out.getvalue().encode("utf-8", "replace"))


def _cell(name: str, cell: str, p: Pseudonymiser) -> str:
    """Names and addresses redacted; ids and flags kept when they are plain; any other column
    gets the names and addresses the pseudonymiser learned replaced."""
    if name in NAMES:
        return p.text(cell)
    if name in _IDS_AND_FLAGS:
        return cell if _PLAIN.fullmatch(cell) else p.text(cell)
    return p.known_text(cell)


def _raw_line(line: str, p: Pseudonymiser) -> str:
    """A line of a row that does not read: every word replaced but the object ids in it."""
    pieces, done = [], 0
    for guid in _GUID.finditer(line):
        pieces += [p.text(line[done : guid.start()]), guid.group()]
        done = guid.end()
    return "".join(pieces) + p.text(line[done:])


class _Lines:
    """The lines of a text, remembering those handed out since :meth:`take`."""

    def __init__(self, source: io.StringIO) -> None:
        self.source = source
        self.held: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self.source)
        self.held.append(line)
        return line

    def take(self) -> list[str]:
        held, self.held = self.held, []
        return held


def _again(first: str | None, lines: _Lines) -> Iterator[str]:
    """``lines``, with ``first`` (already read) in front again."""
    if first is not None:
        lines.held.append(first)
        yield first
    yield from lines
