"""The ``<row>`` elements of report.xlsx's sheets, a chunk of rows at a time.

Each column of a chunk becomes an Arrow array of ready ``<c>`` strings, made by Arrow's string
kernels for text (:mod:`audit.render.xlsx_arrow`) and in Python for the rest
(:mod:`audit.render.xlsx_cells`), and the chunk is one Arrow join of the rows. Rows with wrapped
text get a height for their longest text: neither Excel nor LibreOffice is sure to fit the
height of a row written without one (LibreOffice keeps it one line high).

Row XML: ECMA-376 Part 1, 18.3.1.73 (row).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from audit._values import joined
from audit.render.xlsx_arrow import TEXT, arrow_cells, line_counts, row_bytes, texts_of
from audit.render.xlsx_cells import (
    ENCODERS,
    exact_cell,
    few_distinct,
    list_texts,
    plain_value,
    raw_values,
    text_cells,
)
from audit.render.xlsx_styles import CellStyles

__all__ = [
    "LINE_HEIGHT",
    "MAX_HEIGHT",
    "Column",
    "column_letter",
    "row_xml",
    "rows_xml",
    "text_lines",
]

LINE_HEIGHT = 15.0
"""Points per line of 11-point text (Excel's default row height)."""

MAX_HEIGHT = 409.0
"""The tallest row Excel allows, in points."""


@dataclass(frozen=True)
class Column:
    """A table column: its values (one per table row), cell kind and formats, and wrapping.

    ``wrap`` is the column's width in characters when its text wraps (0 when it does not): rows
    get the height of their longest wrapped text, because neither Excel nor LibreOffice is
    sure to fit the height of rows written without one (LibreOffice keeps one line).
    """

    values: pd.Series
    kind: str
    styles: CellStyles
    wrap: float = 0


_CHUNK_ROWS = 4096
_CHARS_PER_UNIT = 1.1  # characters of wrapped text per unit of column width (see text_lines)
_SEQUENCES = (list, tuple, np.ndarray)
_ARROW_KINDS = frozenset({"text", "list", "styled"})


def column_letter(index: int) -> str:
    """The letters of a 1-based column index: 1 → ``A``, 27 → ``AA``."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def rows_xml(
    columns: Sequence[Column],
    *,
    positions: np.ndarray | None = None,
    first_row: int = 2,
    chunk_rows: int = _CHUNK_ROWS,
) -> Iterator[tuple[int, bytes]]:
    """``(rows, UTF-8 XML)`` per chunk of the columns' rows, numbered from ``first_row``.

    ``columns`` are in sheet order (column A first), their values all of the same length.
    ``positions`` picks and orders the rows (all rows in order by default), a chunk at a time,
    so a sorted sheet never copies its columns whole. A row with wrapped text gets the height of
    its tallest cell (:func:`text_lines`). Kinds: ``text``, ``list`` (joined with "; "),
    ``styled`` (coloured by value), ``json`` (compact JSON text), ``int``, ``bool``,
    ``datetime``.
    """
    unknown = [c.kind for c in columns if c.kind not in ENCODERS]
    if unknown:
        raise ValueError(f"unknown cell kind(s) {unknown}")
    total = len(positions) if positions is not None else len(columns[0].values) if columns else 0
    for start in range(0, total, chunk_rows):
        stop = min(start + chunk_rows, total)
        rows = slice(start, stop) if positions is None else positions[start:stop]
        nums = [str(n) for n in range(first_row + start, first_row + stop)]
        numbers = pa.array(nums, TEXT)
        lines = np.ones(len(nums), dtype=np.int64)
        cells = [
            _column_cells(
                c, c.values.iloc[rows], f'<c r="{column_letter(index)}', nums, numbers, lines
            )
            for index, c in enumerate(columns, 1)
        ]
        yield len(nums), row_bytes(_row_heads(nums, lines), cells, "</row>")


def _column_cells(
    column: Column,
    values: pd.Series,
    pre: str,
    nums: list[str],
    numbers: pa.Array,
    lines: np.ndarray,
) -> pa.Array:
    """A column chunk's cells, with Arrow's kernels for text (:mod:`audit.render.xlsx_arrow`),
    else the Python way; a wrapped column raises ``lines`` to its texts' line counts."""
    texts = texts_of(values, column.kind) if column.kind in _ARROW_KINDS else None
    if texts is None:
        return pa.array(_python_cells(column, values, pre, nums, lines), TEXT)
    if column.wrap:
        np.maximum(lines, line_counts(texts, _per_line(column.wrap)), out=lines)
    return arrow_cells(texts, column.kind, pre, nums, numbers, column.styles)


def _python_cells(
    column: Column, values: pd.Series, pre: str, nums: list[str], lines: np.ndarray
) -> list[str]:
    """A column chunk's cells made in Python (:mod:`audit.render.xlsx_cells`); a wrapped column
    raises ``lines`` to its texts' line counts."""
    if not column.wrap:
        return ENCODERS[column.kind](values, pre, nums, column.styles)
    if column.kind in ("text", "list"):  # the texts serve both the cells and the line counts
        texts = list_texts(values) if column.kind == "list" else raw_values(values)
        cells = text_cells(texts, pre, nums, column.styles)
    else:
        texts = raw_values(values)
        cells = ENCODERS[column.kind](values, pre, nums, column.styles)
    np.maximum(lines, _line_counts(texts, column.wrap), out=lines)
    return cells


def row_xml(number: int, cells: Sequence[tuple[Any, str, CellStyles]], lines: int = 1) -> str:
    """One ``<row>`` of single values (headers, the Summary sheet): ``(value, kind, formats)``.

    ``lines`` gives the row the height of that many lines of text.
    """
    num = str(number)
    xml = "".join(
        exact_cell(f'<c r="{column_letter(index)}', num, kind, value, styles)
        for index, (value, kind, styles) in enumerate(cells, 1)
    )
    return f"{_row_heads([num], np.array([lines]))[0]}{xml}</row>"


def text_lines(text: str, width: float) -> int:
    """Lines that ``text`` takes wrapped in a column ``width`` characters wide.

    An estimate on the safe side: a column's width counts digits of the default font, and text
    is narrower; LibreOffice (DejaVu Sans standing in for Calibri) fitted 1.22-1.27 characters
    of wrapped prose per width unit, words kept whole, and Excel's Calibri is narrower still.
    A line is taken to hold 1.1 characters per unit, and every line break adds a line.
    """
    return max(1, -(-len(text) // _per_line(width))) + text.count("\n")


def _per_line(width: float) -> int:
    """Characters a wrapped line holds in a column ``width`` units wide (see text_lines)."""
    return max(1, int(width * _CHARS_PER_UNIT))


def _line_counts(values: list[Any], width: float) -> np.ndarray:
    """:func:`text_lines` of each value of a column chunk, once per value when few differ."""
    per_line = _per_line(width)
    if few_distinct(values):
        counts = {v: _lines(v, width) for v in set(values)}
        return np.fromiter(map(counts.__getitem__, values), dtype=np.int64, count=len(values))
    return np.fromiter(
        (
            max(1, -(-len(v) // per_line)) + v.count("\n") if type(v) is str else _lines(v, width)
            for v in values
        ),
        dtype=np.int64,
        count=len(values),
    )


def _lines(value: Any, width: float) -> int:
    """:func:`text_lines` of any value: lists joined, JSON as JSON text, None one line."""
    if value is None:
        return 1
    if isinstance(value, str):
        text = value
    elif isinstance(value, _SEQUENCES):
        text = joined([plain_value(v) for v in value], "; ")
    elif isinstance(value, dict):
        text = orjson.dumps(value, default=str).decode()
    else:
        text = str(value)
    return text_lines(text, width)


def _row_heads(nums: list[str], lines: np.ndarray) -> list[str]:
    """``<row>`` start tags; rows of more than one line get a fixed height."""
    heights = np.minimum(lines * LINE_HEIGHT, MAX_HEIGHT).tolist()
    return [
        f'<row r="{n}">' if count == 1 else f'<row r="{n}" ht="{h:g}" customHeight="1">'
        for n, count, h in zip(nums, lines.tolist(), heights, strict=True)
    ]
