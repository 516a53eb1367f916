"""The ``<row>`` elements of report.xlsx's table sheets, built as text a column at a time.

openpyxl makes a Python object per cell and serialises it through lxml: about 100,000 cells a
second, 45 s for a 100,000-guest tenant's 4.4 million cells. Here each column of a chunk of rows
becomes a list of ready ``<c>`` strings in one comprehension, and a chunk is one ``str.join``:
over a million cells a second. The cells are those openpyxl's write-only mode wrote for the
same values: inline strings, numbers and booleans typed, datetimes as Excel serial numbers with
the workbook's date style, no element for an empty cell, ``xml:space="preserve"`` where openpyxl
set it; non-ASCII text is written as UTF-8 rather than as character references.

Safety is the same as before, because every value that is not plainly harmless takes the exact
path (:func:`_exact_cell`), which applies the rules of the openpyxl-based writer: illegal XML
characters become U+FFFD and text is capped at 32,767 characters (:func:`~audit.render.safe.
excel_text`); formula-like text (and Excel's error literals) is a string cell with the
``quotePrefix`` style, never a formula; ``&``, ``<``, ``>`` and CR are escaped as lxml does. The
fast path only accepts strings that none of those rules would touch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

from audit._values import column, joined, naive_utc, py_values
from audit.render.safe import EXCEL_MAX_CHARS, excel_text, is_formula_like

__all__ = ["KINDS", "CellStyles", "rows_xml"]

KINDS = ("text", "list", "styled", "json", "int", "bool", "datetime")
"""Cell kinds of a table column (see :func:`rows_xml`)."""

ERROR_CODES = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})
"""Excel's error literals: written as quote-prefixed text, never as error cells."""

_RISKY_FIRST = frozenset("=+-@# \uff1d\uff0b\uff0d\uff20") | {""}
_CHUNK_ROWS = 4096
_SAMPLE = 256  # values looked at before counting a column chunk's distinct values
_STR_OR_NONE = frozenset({str, type(None)})
_SEQUENCES = frozenset({list, np.ndarray})
_EPOCH = np.datetime64("1899-12-30T00:00:00", "us")  # Excel's (Windows) day 0, as openpyxl
_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class CellStyles:
    """Cell format ids (indexes of the workbook's ``cellXfs``) that streamed cells refer to.

    ``styled`` maps a cell text (``high``, ``ready``, ...) to the format of its colour;
    ``quoted`` is the plain format with ``quotePrefix``; ``datetime`` the date-and-time format.
    """

    styled: Mapping[str, int]
    quoted: int
    datetime: int


def rows_xml(
    frame: pd.DataFrame,
    columns: Sequence[tuple[str, str]],
    styles: CellStyles,
    *,
    first_row: int = 2,
    chunk_rows: int = _CHUNK_ROWS,
) -> Iterator[tuple[int, bytes]]:
    """``(rows, UTF-8 XML)`` per chunk of ``frame``'s rows, numbered from ``first_row``.

    ``columns`` are ``(column name, kind)`` pairs, in sheet order (column A first); a name the
    frame lacks gives an empty column. Kinds: ``text``, ``list`` (joined with "; "), ``styled``
    (coloured by value), ``json`` (compact JSON text), ``int``, ``bool``, ``datetime``.
    """
    unknown = [kind for _, kind in columns if kind not in _ENCODERS]
    if unknown:
        raise ValueError(f"unknown cell kind(s) {unknown}")
    for start in range(0, len(frame), chunk_rows):
        chunk = frame.iloc[start : start + chunk_rows]
        number = first_row + start
        nums = [str(n) for n in range(number, number + len(chunk))]
        cells = [
            _ENCODERS[kind](column(chunk, key), f'<c r="{get_column_letter(index)}', nums, styles)
            for index, (key, kind) in enumerate(columns, 1)
        ]
        yield len(nums), _join_rows(nums, cells).encode()


def _join_rows(nums: list[str], cells: list[list[str]]) -> str:
    """The ``<row>`` elements of a chunk, its columns' cells interleaved by slice assignment."""
    width = len(cells) + 2
    parts = [""] * (len(nums) * width)
    parts[0::width] = [f'<row r="{n}">' for n in nums]
    for index, column_cells in enumerate(cells, 1):
        parts[index::width] = column_cells
    parts[width - 1 :: width] = ["</row>"] * len(nums)
    return "".join(parts)


# ---- the exact path: one value at a time, the openpyxl-based writer's rules ----------------------


def _exact_cell(pre: str, num: str, kind: str, value: Any, styles: CellStyles) -> str:
    """One cell of any kind and value, exactly as the openpyxl-based writer stored it."""
    if value is None:
        return ""
    if kind in ("text", "list"):
        return _text_cell(pre, num, value, styles)
    if kind == "styled":
        text = excel_text(str(value))
        if text in styles.styled:
            return _string(pre, num, text, styles.styled[text])
        return _text_cell(pre, num, text, styles)
    if kind == "json":
        if isinstance(value, dict | list) and not value:
            return ""
        return _text_cell(pre, num, orjson.dumps(value, default=str).decode(), styles)
    if kind == "int":
        return f'{pre}{num}" t="n"><v>{_number(int(value))}</v></c>'
    if kind == "bool":
        return f'{pre}{num}" t="b"><v>{int(bool(value))}</v></c>'
    stamp = naive_utc(value)
    if stamp is None:
        return ""
    serial = _number(to_excel(stamp))
    return f'{pre}{num}" s="{styles.datetime}" t="n"><v>{serial}</v></c>'


def _text_cell(pre: str, num: str, value: Any, styles: CellStyles) -> str:
    """A text cell: cleaned, capped, quote-prefixed when formula-like; empty text is no cell."""
    text = excel_text(value if isinstance(value, str) else joined(value, "; "))
    if not text:
        return ""
    risky = is_formula_like(text) or text in ERROR_CODES
    return _string(pre, num, text, styles.quoted if risky else None)


def _string(pre: str, num: str, text: str, style: int | None) -> str:
    """An inline string cell; ``xml:space`` kept where lxml (so openpyxl) wrote it."""
    attrs = "" if style is None else f' s="{style}"'
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'{pre}{num}"{attrs} t="inlineStr"><is><t{space}>{_escape(text)}</t></is></c>'


def _escape(text: str) -> str:
    """Text content escaped as lxml escapes it (CR too, or XML readers would turn it into LF)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def _number(value: float) -> str:
    """A number as openpyxl formats it (``%.16g``: integers above 10**16 lose digits there too)."""
    return f"{value:.16g}"


# ---- the fast paths: a column chunk at a time ----------------------------------------------------

_Encoder = Callable[[pd.Series, str, list[str], CellStyles], list[str]]


def _texts(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """Text cells."""
    return _text_cells(_raw(series), pre, nums, styles)


def _lists(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """List cells: lists (or arrays) of strings joined with "; ", then as text."""
    values = _raw(series)
    try:
        texts = ["; ".join(v) if type(v) in _SEQUENCES else v for v in values]
    except TypeError:  # an element that is not a string: the exact path joins those lists
        texts = [_join(v) for v in values]
    return _text_cells(texts, pre, nums, styles)


def _text_cells(values: list[Any], pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """Text cells, made the cheapest way that gives the exact path's result.

    A column chunk with few distinct strings (rule ids, states, domains) makes each distinct
    value's cell once; otherwise plain printable strings without markup characters skip the exact
    path, and everything else (empty, risky, long, odd characters, non-strings) takes it.
    """
    if _few(values):
        return _by_value(values, pre, nums, "text", styles)
    return [
        f'{pre}{n}" t="inlineStr"><is><t>{v}</t></is></c>'
        if type(v) is str
        and v[:1] not in _RISKY_FIRST
        and len(v) <= EXCEL_MAX_CHARS
        and v.isprintable()  # no control, format, separator or surrogate character
        and v[-1] != " "  # (printable trailing whitespace can only be a space)
        and "&" not in v
        and "<" not in v
        and ">" not in v
        else ""
        if v is None or (type(v) is str and not v)
        else _exact_cell(pre, n, "text", _plain(v), styles)
        for n, v in zip(nums, values, strict=True)
    ]


def _styled(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """Coloured status cells (few distinct values: each one's cell is made once)."""
    values = _raw(series)
    if not set(map(type, values)) <= _STR_OR_NONE:  # odd values: every cell the exact way
        return [
            _exact_cell(pre, n, "styled", _plain(v), styles)
            for n, v in zip(nums, values, strict=True)
        ]
    return _by_value(values, pre, nums, "styled", styles)


def _few(values: list[Any]) -> bool:
    """Strings (or None) with at most one distinct value in four, judged on a sample first."""
    sample = values[:_SAMPLE]
    if not set(map(type, sample)) <= _STR_OR_NONE or len(set(sample)) * 4 > len(sample):
        return False
    return set(map(type, values)) <= _STR_OR_NONE and len(set(values)) * 4 <= len(values)


def _by_value(
    values: list[str | None], pre: str, nums: list[str], kind: str, styles: CellStyles
) -> list[str]:
    """Cells made once per distinct value (the exact way) and numbered per row."""
    tails = {v: _exact_cell("", "", kind, v, styles) for v in set(values)}
    return [
        f"{pre}{n}{tail}" if (tail := tails[v]) else "" for n, v in zip(nums, values, strict=True)
    ]


def _json(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """JSON cells (a handful of rows: the Sources sheet) the exact way."""
    values = py_values(series)
    return [_exact_cell(pre, n, "json", v, styles) for n, v in zip(nums, values, strict=True)]


def _ints(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """Integer cells."""
    return [
        "" if v is None else f'{pre}{n}" t="n"><v>{_number(int(v))}</v></c>'
        for n, v in zip(nums, py_values(series), strict=True)
    ]


def _bools(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """Boolean cells."""
    return [
        "" if v is None else f'{pre}{n}" t="b"><v>{int(bool(v))}</v></c>'
        for n, v in zip(nums, py_values(series), strict=True)
    ]


def _datetimes(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """Datetime cells as Excel serials, computed for the whole chunk like openpyxl's to_excel."""
    if not pd.api.types.is_datetime64_any_dtype(series):
        return [
            _exact_cell(pre, n, "datetime", v, styles)
            for n, v in zip(nums, py_values(series), strict=True)
        ]
    serials = _serials(series)
    head = f'" s="{styles.datetime}" t="n"><v>'
    return [
        "" if s is None else f"{pre}{n}{head}{s}</v></c>"
        for n, s in zip(nums, serials, strict=True)
    ]


def _serials(series: pd.Series) -> list[str | None]:
    """Excel serial numbers (``%.16g``) of a datetime column; NaT → None.

    The same float operations as ``openpyxl.utils.datetime.to_excel`` on a naive UTC datetime
    with microseconds, so the digits are identical: whole days since 1899-12-30 (one less for
    the dates Excel's fictitious 1900-02-29 shifts) plus the seconds of the day over 86,400.
    """
    stamps = pd.to_datetime(series, utc=True).dt.tz_localize(None)
    present = stamps.notna().to_numpy()
    micros = (stamps.to_numpy().astype("datetime64[us]") - _EPOCH).astype(np.int64)
    days, of_day = np.divmod(micros, _US_PER_DAY)
    days -= (days > 0) & (days <= 60)
    seconds, fraction = np.divmod(of_day, 1_000_000)
    serial = days + (seconds + fraction / 10**6) / 86_400
    return [
        _number(s) if ok else None for s, ok in zip(serial.tolist(), present.tolist(), strict=True)
    ]


def _raw(series: pd.Series) -> list[Any]:
    """Column values with NA as None; object values unconverted (see :func:`_plain`)."""
    if series.dtype == object:
        values: list[Any] = series.astype(object).where(series.notna(), None).tolist()
        return values
    return py_values(series)


def _plain(value: Any) -> Any:
    """A raw object value converted as :func:`~audit.render._common.py_values` converts it."""
    if value is None or type(value) is str:
        return value
    holder = np.empty(1, dtype=object)
    holder[0] = value  # (a Series built from [value] would unpack a one-element array)
    return py_values(pd.Series(holder, dtype=object))[0]


def _join(value: Any) -> Any:
    """A list (or array) of strings joined with "; "; anything else unchanged for the text path."""
    if type(value) in _SEQUENCES:
        try:
            return "; ".join(value)
        except TypeError:  # not all strings: the exact path joins the converted values
            return value
    return value


_ENCODERS: dict[str, _Encoder] = {
    "text": _texts,
    "list": _lists,
    "styled": _styled,
    "json": _json,
    "int": _ints,
    "bool": _bools,
    "datetime": _datetimes,
}
