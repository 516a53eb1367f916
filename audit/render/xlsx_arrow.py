"""report.xlsx's text cells with Arrow's string kernels: a column chunk's ``<c>`` elements at once.

At a million guests the sheets are 4.5 GB of XML, and making each cell with a Python f-string
(:mod:`audit.render.xlsx_cells`) took 60 of report.xlsx's 72 s. Here text, list and coloured
cells are joined by Arrow kernels in C++ (``binary_join_element_wise``), about 0.06 s per million
cells, and the rows of a chunk are one more join whose data buffer is the chunk's XML.

Same bytes as :mod:`audit.render.xlsx_cells`, by construction:

- a value goes the kernels' way only when it is plain ASCII that the fast path of
  :func:`~audit.render.xlsx_cells.text_cells` takes as it is (printable, no ``&``, ``<``, ``>``,
  no formula-like first character, no trailing space, at most 32,767 characters: :data:`_PLAIN`),
  so its cell is the fixed head, the value and the fixed tail;
- a column chunk with few distinct values (rule ids, outcomes, states) makes each distinct
  value's cell once, the exact way (:func:`~audit.render.xlsx_cells.exact_cell`), as the Python
  path does, and Arrow picks them per row;
- every other value (non-ASCII, markup, formula-like, over-long, not a string) goes through
  :func:`~audit.render.xlsx_cells.text_cells` itself, and its cell replaces the row's;
- a column that is not text (numbers, booleans, dates, JSON) or holds something Arrow cannot
  take as text returns None: the caller makes it the Python way.

Arrow compute functions: https://arrow.apache.org/docs/python/api/compute.html
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit._text import STR, arrow_lists, is_arrow_lists, text_array
from audit.render.safe import EXCEL_MAX_CHARS
from audit.render.xlsx_cells import exact_cell, list_texts, raw_values, text_cells
from audit.render.xlsx_styles import CellStyles

__all__ = ["arrow_cells", "line_counts", "row_bytes", "texts_of"]

TEXT = pa.large_string()

# Printable ASCII but & < > (anywhere), no = + - @ # or space first, no space last: the ASCII
# strings the fast path of xlsx_cells.text_cells writes unchanged (its _RISKY_FIRST and checks).
_ANY = r"\x20-\x25\x27-\x3B\x3D\x3F-\x7E"
_FIRST = r"\x21\x22\x24\x25\x27-\x2A\x2C\x2E-\x3B\x3F\x41-\x7E"
_LAST = r"\x21-\x25\x27-\x3B\x3D\x3F-\x7E"
_PLAIN = f"^[{_FIRST}](?:[{_ANY}]*[{_LAST}])?$"
_FEW = 4  # at most one distinct value in this many rows: each distinct value's cell made once
_SAMPLE = 256  # values looked at before hashing a whole column chunk
_EMPTY = pa.scalar("", TEXT)


def texts_of(values: pd.Series, kind: str) -> pa.Array | None:
    """A column chunk as the texts its cells show (lists joined with "; "), nulls for no value;
    None when some value is not text (the Python path then decides each cell)."""
    if kind == "list":
        if is_arrow_lists(values):
            lists = arrow_lists(values)
            if lists is None or pc.list_flatten(lists).null_count:  # not all text: exact path
                return None
            return pc.binary_join(lists, _scalar("; "))
        return _from_python(list_texts(values))
    if values.dtype == STR or (
        isinstance(values.dtype, pd.ArrowDtype)
        and pa.types.is_large_string(values.dtype.pyarrow_dtype)
    ):
        return text_array(values)
    if values.dtype == object:
        return _from_python(raw_values(values))
    return None


def arrow_cells(
    texts: pa.Array, kind: str, pre: str, nums: list[str], numbers: pa.Array, styles: CellStyles
) -> pa.Array:
    """The cells of a text (``text``, ``list``) or coloured (``styled``) column chunk.

    ``pre`` is ``<c r="`` and the column's letters; ``nums`` the rows' numbers, ``numbers``
    the same as an Arrow array. An empty cell is "" (no element).
    """
    if kind == "styled" or _few(texts.slice(0, _SAMPLE)):  # judged on a sample first
        encoded = pc.dictionary_encode(texts)
        if kind == "styled" or len(encoded.dictionary) * _FEW <= len(texts):
            return _by_value(encoded, kind, pre, numbers, styles)
    plain = pc.and_(
        pc.match_substring_regex(texts, _PLAIN),
        pc.less_equal(pc.binary_length(texts), EXCEL_MAX_CHARS),
    )
    plain = pc.fill_null(plain, False)
    head = "" if styles.text is None else f' s="{styles.text}"'
    cells = pc.binary_join_element_wise(
        _scalar(pre), numbers, _scalar(f'"{head} t="inlineStr"><is><t>'), texts,
        _scalar("</t></is></c>"), _EMPTY, null_handling="replace",
    )  # fmt: skip
    rest = np.flatnonzero(~plain.to_numpy(zero_copy_only=False))
    if not len(rest):
        return cells
    others = text_cells(texts.take(rest).to_pylist(), pre, [nums[i] for i in rest], styles)
    return pc.replace_with_mask(cells, pc.invert(plain), pa.array(others, TEXT))


def line_counts(texts: pa.Array, per_line: int) -> np.ndarray:
    """Lines each text takes wrapped at ``per_line`` characters, as
    :func:`~audit.render.xlsx_sheet.text_lines` counts them (no text: one line)."""
    length = pc.fill_null(pc.utf8_length(texts), 0).to_numpy(zero_copy_only=False)
    breaks = pc.fill_null(pc.count_substring(texts, "\n"), 0).to_numpy(zero_copy_only=False)
    lines: np.ndarray = np.maximum(1, -(-length.astype(np.int64) // per_line)) + breaks
    return lines


def row_bytes(heads: list[str], cells: list[pa.Array], end: str) -> bytes:
    """The rows of a chunk as UTF-8: each row's head, its cells and ``end``, row after row (the
    data buffer of the joined rows holds them end to end)."""
    rows = pc.binary_join_element_wise(
        pa.array(heads, TEXT), *cells, _scalar(end), _EMPTY, null_handling="replace"
    )
    _, offsets, data = rows.buffers()
    if data is None:
        return b""
    bounds = np.frombuffer(offsets, dtype=np.int64)[rows.offset : rows.offset + len(rows) + 1]
    xml: bytes = data[int(bounds[0]) : int(bounds[-1])].to_pybytes()
    return xml


def _by_value(
    encoded: pa.DictionaryArray, kind: str, pre: str, numbers: pa.Array, styles: CellStyles
) -> pa.Array:
    """Cells made once per distinct value (the exact way) and picked per row; none for no value."""
    tails = [exact_cell("", "", kind, v, styles) for v in encoded.dictionary.to_pylist()]
    missing = len(tails)  # no value: the "" appended below
    picked = pc.take(pa.array([*tails, ""], TEXT), pc.fill_null(encoded.indices, missing))
    cells = pc.binary_join_element_wise(_scalar(pre), numbers, picked, _EMPTY)
    return pc.if_else(pc.greater(pc.binary_length(picked), 0), cells, _EMPTY)


def _few(texts: pa.Array) -> bool:
    """At most one distinct value in :data:`_FEW`."""
    return bool(pc.count_distinct(texts).as_py() * _FEW <= len(texts))


def _from_python(values: list[Any]) -> pa.Array | None:
    """Python values as Arrow text, or None when one is not a string (or not valid UTF-8)."""
    try:
        return pa.array(values, TEXT)
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return None


def _scalar(text: str) -> pa.Scalar:
    return pa.scalar(text, TEXT)
