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

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

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


@dataclass
class MailUsers:
    """The parsed export: one row per mail user, its source status, and the rows that were skipped."""

    table: pd.DataFrame
    status: SourceStatus
    problems: list[str] = field(default_factory=list)


def read_mailusers(path: str | Path) -> MailUsers:
    """Parse the CSV at ``path``; raises InputError when it cannot be read as a MailUser export."""
    file = Path(path)
    text = _decode(file)
    body, offset = _skip_type_line(text)
    reader = csv.reader(io.StringIO(body, newline=""))
    header = _header(reader, file)
    rows, problems = _rows(reader, header, file, offset)
    table = _table(rows)
    state = SourceState.PARTIAL if problems else SourceState.OK
    detail = {"file": file.name, "skipped_rows": len(problems)}
    status = SourceStatus("mailusers", state, rows=len(table), detail=detail)
    return MailUsers(table, status, problems)


def _decode(file: Path) -> str:
    try:
        if file.stat().st_size > MAX_BYTES:
            raise InputError(file, f"file is larger than {MAX_BYTES // 2**20} MiB")
        raw = file.read_bytes()
    except OSError as exc:
        raise InputError(file, f"cannot read ({exc.strerror})") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    body = raw.removeprefix(b"\xef\xbb\xbf")  # error positions count from after the BOM
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise InputError(
            file, "not UTF-8 or UTF-16 text; export with -Encoding UTF8", line=line
        ) from None


def _skip_type_line(text: str) -> tuple[str, int]:
    """Drop the ``#TYPE`` line Export-Csv writes without -NoTypeInformation; returns the line offset."""
    if text.startswith("#TYPE"):
        return (text.split("\n", 1)[1] if "\n" in text else ""), 1
    return text, 0


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
) -> tuple[list[dict[str, str]], list[str]]:
    rows, problems = [], []
    wanted = [c for c in (*REQUIRED, *OPTIONAL) if c in header]
    pos = {c: header.index(c) for c in wanted}
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"{file.name}:{reader.line_num + offset}: unreadable row ({exc})")
            continue
        if not any(f.strip() for f in fields):
            continue
        problem = _row_problem(fields, header, pos)
        if problem:
            problems.append(f"{file.name}:{reader.line_num + offset}: {problem}")
            continue
        rows.append({c: fields[i] for c, i in pos.items()})
    return rows, problems


def _row_problem(fields: list[str], header: list[str], pos: dict[str, int]) -> str | None:
    if len(fields) < len(header):
        return f"{len(fields)} fields, header has {len(header)}"
    object_id = fields[pos["ExternalDirectoryObjectId"]].strip()
    try:
        uuid.UUID(object_id)
    except ValueError:
        return f"ExternalDirectoryObjectId {object_id[:60]!r} is not a GUID"
    return None


_SPLIT = re.compile(r"[;,]\s*")


def _addresses(value: str) -> list[str]:
    inner = value.strip().removeprefix("{").removesuffix("}")
    return [a.strip() for a in _SPLIT.split(inner) if a.strip()]


def _table(rows: list[dict[str, str]]) -> pd.DataFrame:
    columns = [*REQUIRED, *OPTIONAL]
    df = pd.DataFrame(rows, columns=columns, dtype=object)
    df["EmailAddresses"] = df["EmailAddresses"].map(
        lambda v: _addresses(v) if isinstance(v, str) else []
    )
    for col in columns:
        if col != "EmailAddresses":
            df[col] = df[col].map(lambda v: v.strip() if isinstance(v, str) else v).astype("str")
    df["ExternalDirectoryObjectId"] = df["ExternalDirectoryObjectId"].str.lower()
    return df
