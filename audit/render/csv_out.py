"""``findings.csv`` and ``guests.csv``: flat files for scripts and spreadsheets.

UTF-8 with a byte-order mark (so Excel detects the encoding), RFC 4180 quoting, CRLF line ends,
stable column names and order (:data:`~audit.render._common.FINDING_COLUMNS`,
:data:`~audit.render._common.GUEST_FIELDS`). Every text cell passes through
:func:`audit.render.safe.neutralise`, so a display name such as ``=HYPERLINK(...)`` arrives as
inert text. Lists are ``;``-joined, booleans ``true``/``false``, times ISO 8601 UTC, NA empty.

Columns are formatted whole (:mod:`audit.render._columns_fast`): Arrow-held text is neutralised
and quoted vectorised, repeating values once per distinct value, and the rows are joined in Arrow.
The bytes are exactly what :func:`csv.writer` (``QUOTE_MINIMAL``, ``\\r\\n`` line ends) wrote for
:func:`format_column`'s cells.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit._values import column, iso_utc, joined, py_values
from audit.analysis.findings import FINDING_COLUMNS
from audit.analysis.result import AuditResult
from audit.render._columns_fast import (
    TEXT,
    arrow_strings,
    byte_set,
    concat_rows,
    flag_rows,
    map_values,
    text_scalar,
)
from audit.render._common import GUEST_FIELDS, atomic_path, guest_views
from audit.render.safe import neutralise, neutralise_arrow

__all__ = ["write_findings_csv", "write_guests_csv"]

_NEEDS_QUOTES = byte_set(',"\r\n')
"""Characters that make csv.writer (QUOTE_MINIMAL, ``\\r\\n`` line ends) quote a field."""


def write_findings_csv(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write one row per finding (open and muted) to ``path``; return the path."""
    findings = result.findings
    blocks = (
        findings.iloc[i : i + ROWS_PER_BLOCK] for i in range(0, len(findings), ROWS_PER_BLOCK)
    )
    return _write(blocks, FINDING_COLUMNS, path)


def write_guests_csv(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write one row per guest with its predicted outcome and rule ids to ``path``."""
    return _write(guest_views(result, ROWS_PER_BLOCK), GUEST_FIELDS, path)


ROWS_PER_BLOCK = 25_000
"""Rows formatted at a time: a million guests' fields at once were over a gigabyte, and 100,000
rows about 150 MB more than a block of 25,000 (no faster)."""


def _write(
    blocks: Iterable[pd.DataFrame], fields: Sequence[str], path: str | os.PathLike[str]
) -> Path:
    """Write the header, then each block of rows: its columns formatted into CSV fields and
    joined into rows (the same bytes as all rows at once)."""
    header = ",".join(_field(name) for name in fields) + "\r\n"
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        handle.write(codecs.BOM_UTF8 + _utf8(header))
        for frame in blocks:
            handle.write(_rows(frame, fields))
    return Path(path)


def _rows(frame: pd.DataFrame, fields: Sequence[str]) -> pa.Buffer | bytes:
    """The rows of ``frame`` as CSV lines (UTF-8)."""
    columns = [_fields(column(frame, name)) for name in fields]
    if len(columns) == 1:  # csv.writer quotes a row's only field when it is empty
        columns = [pc.if_else(pc.equal(columns[0], ""), text_scalar('""'), columns[0])]
    parts: list[pa.Array | str] = []
    for cells in columns:
        parts += [",", cells]
    return concat_rows(parts[1:], "\r\n") if columns else b""


def _fields(series: pd.Series) -> pa.Array:
    """A column as CSV fields (formatted, neutralised, quoted where needed), an Arrow array."""
    texts = arrow_strings(series)
    if texts is None:
        cell = _cell_function(series)
        return _text_array(map_values(series, lambda v: _field(cell(v))))
    texts = neutralise_arrow(texts)
    quoting = flag_rows(texts, anywhere=_NEEDS_QUOTES)
    if not quoting.any():
        return texts.fill_null(text_scalar(""))
    # _field's quoting, in Arrow: the text in double quotes with its quotes doubled.
    quote = text_scalar('"')
    doubled = pc.replace_substring(texts, '"', '""')
    quoted = pc.binary_join_element_wise(quote, doubled, quote, text_scalar(""))
    return pc.if_else(pa.array(quoting), quoted, texts).fill_null(text_scalar(""))


def format_column(series: pd.Series) -> list[Any]:
    """A column as CSV cells: numbers stay numbers, everything textual is neutralised."""
    cell = _cell_function(series)
    return [cell(v) for v in py_values(series)]


def _cell_function(series: pd.Series) -> Callable[[Any], Any]:
    """How :func:`format_column` turns one plain value of ``series`` into a cell."""
    if pd.api.types.is_bool_dtype(series):
        return lambda v: _BOOL.get(v, "")
    if pd.api.types.is_numeric_dtype(series):
        return lambda v: "" if v is None else v
    return _cell


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


def _field(cell: Any) -> str:
    """A cell as :func:`csv.writer` (QUOTE_MINIMAL) writes it: text as is (floats by ``repr``,
    None empty, other values by ``str``), double-quoted with quotes doubled when it holds a
    delimiter, quote or line break."""
    if isinstance(cell, str):
        text = str.__str__(cell)
    elif cell is None:
        text = ""
    else:
        text = repr(cell) if isinstance(cell, float) else str(cell)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _text_array(fields: list[str]) -> pa.Array:
    """CSV fields as an Arrow array; text UTF-8 cannot hold becomes ``?`` (the file's
    ``errors="replace"``; :func:`neutralise` already removed it from every text cell)."""
    try:
        return pa.array(fields, type=TEXT)
    except UnicodeError:
        return pa.array([f.encode("utf-8", "replace").decode("utf-8") for f in fields], type=TEXT)


def _utf8(text: str) -> bytes:
    """``text`` encoded as the file is: UTF-8, unencodable characters as ``?``."""
    return text.encode("utf-8", "replace")
