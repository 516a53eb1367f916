"""``findings.csv`` and ``guests.csv``: flat files for scripts and spreadsheets.

UTF-8 with a byte-order mark (so Excel detects the encoding), RFC 4180 quoting, CRLF line ends,
stable column names and order (:data:`~audit.render._common.FINDING_FIELDS`,
:data:`~audit.render._common.GUEST_FIELDS`). Every text cell passes through
:func:`audit.render.safe.neutralise`, so a display name such as ``=HYPERLINK(...)`` arrives as
inert text. Lists are ``;``-joined, booleans ``true``/``false``, times ISO 8601 UTC, NA empty.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from audit.render._common import (
    FINDING_FIELDS,
    GUEST_FIELDS,
    atomic_path,
    column,
    guest_view,
    iso_utc,
    joined,
    py_values,
)
from audit.render.safe import neutralise
from audit.result import AuditResult

__all__ = ["write_findings_csv", "write_guests_csv"]


def write_findings_csv(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write one row per finding (open and muted) to ``path``; return the path."""
    return _write(result.findings, FINDING_FIELDS, path)


def write_guests_csv(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write one row per guest with its predicted outcome and rule ids to ``path``."""
    return _write(guest_view(result), GUEST_FIELDS, path)


def _write(frame: pd.DataFrame, fields: Sequence[str], path: str | os.PathLike[str]) -> Path:
    """Format every column, then stream the rows out."""
    columns = [format_column(column(frame, name)) for name in fields]
    # errors="replace" is a last guard: neutralise() already removed what UTF-8 cannot hold.
    with (
        atomic_path(path) as tmp,
        tmp.open("w", encoding="utf-8-sig", errors="replace", newline="") as handle,
    ):
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(fields)
        writer.writerows(zip(*columns, strict=True))
    return Path(path)


def format_column(series: pd.Series) -> list[Any]:
    """A column as CSV cells: numbers stay numbers, everything textual is neutralised."""
    values = py_values(series)
    if pd.api.types.is_bool_dtype(series):
        return [_BOOL.get(v, "") for v in values]
    if pd.api.types.is_numeric_dtype(series):
        return ["" if v is None else v for v in values]
    return [_cell(v) for v in values]


_BOOL: dict[Any, str] = {True: "true", False: "false"}


def _cell(value: Any) -> Any:
    """One value of a text or mixed column."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return _BOOL[value]
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return iso_utc(value)
    return neutralise(joined(value))
