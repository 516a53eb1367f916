"""report.xlsx's cells as XML text: a column chunk at a time, or one value at a time.

A 100,000-guest tenant makes over four million cells; a cell object per value (openpyxl's model)
takes about 45 s for that. Here each column of a chunk of rows becomes a list of ready ``<c>``
strings in one comprehension: over a million cells a second. Cells are inline strings, numbers
and booleans typed, datetimes as Excel serial numbers with the date format, and no element at
all for an empty cell (filters then show it as "(Blanks)").

Safety: every value that is not plainly harmless takes the exact path (:func:`exact_cell`):
illegal XML characters become U+FFFD and text is capped at 32,767 characters
(:func:`~audit.render.safe.excel_text`); formula-like text (and Excel's error literals) is a
string cell with the ``quotePrefix`` format, never a formula (there is no way to write an
``<f>`` element here at all); ``&``, ``<``, ``>`` and CR are escaped. The fast paths only accept
strings that none of those rules would touch, and tests hold them equal to the exact path.

Cell XML: ECMA-376 Part 1, 18.3.1.4 (c), 18.18.11 (ST_CellType); dates 18.17.4.1.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from audit._values import joined, naive_utc, py_values
from audit.render.safe import EXCEL_MAX_CHARS, excel_text, is_formula_like
from audit.render.xlsx_styles import CellStyles

__all__ = [
    "ENCODERS",
    "ERROR_CODES",
    "KINDS",
    "exact_cell",
    "excel_serial",
    "few_distinct",
    "list_texts",
    "plain_value",
    "raw_values",
    "text_cells",
]

KINDS = ("text", "list", "styled", "json", "int", "bool", "datetime")
"""Cell kinds of a table column: ``text``, ``list`` (joined with "; "), ``styled`` (coloured
by value), ``json`` (compact JSON text), ``int``, ``bool``, ``datetime``."""

ERROR_CODES = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})
"""Excel's error literals: written as quote-prefixed text, never as error cells."""

Encoder = Callable[[pd.Series, str, list[str], CellStyles], list[str]]
"""Cells of a column chunk: ``(values, '<c r="' + column letters, row numbers, formats)``."""

_RISKY_FIRST = frozenset("=+-@# \uff1d\uff0b\uff0d\uff20") | {""}
_SAMPLE = 256  # values looked at before counting a column chunk's distinct values
_STR_OR_NONE = frozenset({str, type(None)})
_SEQUENCES = frozenset({list, np.ndarray})
_EPOCH = np.datetime64("1899-12-30T00:00:00", "us")  # Excel's (Windows, 1900 system) day 0
_US_PER_DAY = 86_400_000_000


# ---- the exact path: one value at a time ----------------------------------------------------------


def exact_cell(pre: str, num: str, kind: str, value: Any, styles: CellStyles) -> str:
    """One cell of any kind and value (``pre`` is ``<c r="`` and the column letters)."""
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
    return f'{pre}{num}" s="{styles.datetime}" t="n"><v>{excel_serial(stamp)}</v></c>'


def _text_cell(pre: str, num: str, value: Any, styles: CellStyles) -> str:
    """A text cell: cleaned, capped, quote-prefixed when formula-like; empty text is no cell."""
    text = excel_text(value if isinstance(value, str) else joined(value, "; "))
    if not text:
        return ""
    risky = is_formula_like(text) or text in ERROR_CODES
    return _string(pre, num, text, styles.quoted if risky else styles.text)


def _string(pre: str, num: str, text: str, style: int | None) -> str:
    """An inline string cell; ``xml:space="preserve"`` keeps leading and trailing blanks."""
    attrs = "" if style is None else f' s="{style}"'
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'{pre}{num}"{attrs} t="inlineStr"><is><t{space}>{_escape(text)}</t></is></c>'


def _escape(text: str) -> str:
    """Text content escaped for XML (CR too, or XML readers would turn it into LF)."""
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
    """A number with 16 significant digits (Excel keeps 15; integers above 10**16 round)."""
    return f"{value:.16g}"


def excel_serial(stamp: datetime) -> str:
    """A naive datetime as an Excel serial number (days since 1899-12-30, 1900 date system).

    Excel counts a fictitious 1900-02-29 (day 60), so dates before 1900-03-01 are one day less.
    Spreadsheet dates: ECMA-376 Part 1, 18.17.4.1.
    """
    delta = stamp - datetime(1899, 12, 30)
    days = delta.days - (0 < delta.days <= 60)
    return _number(days + (delta.seconds + delta.microseconds / 10**6) / 86_400)


# ---- the fast paths: a column chunk at a time ----------------------------------------------------


def _texts(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """Text cells."""
    return text_cells(raw_values(series), pre, nums, styles)


def _lists(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """List cells: lists (or arrays) of strings joined with "; ", then as text."""
    return text_cells(list_texts(series), pre, nums, styles)


def list_texts(series: pd.Series) -> list[Any]:
    """A list column's values joined with "; " where they are lists of strings.

    Anything else (None, a string, a list holding a non-string) is left for the exact path.
    """
    values = raw_values(series)
    try:
        return ["; ".join(v) if type(v) in _SEQUENCES else v for v in values]
    except TypeError:  # an element that is not a string: the exact path joins those lists
        return [_join(v) for v in values]


def text_cells(values: list[Any], pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """Text cells, made the cheapest way that gives the exact path's result.

    A column chunk with few distinct strings (rule ids, states, domains) makes each distinct
    value's cell once; otherwise plain printable strings without markup characters skip the exact
    path, and everything else (empty, risky, long, odd characters, non-strings) takes it.
    """
    if few_distinct(values):
        return _by_value(values, pre, nums, "text", styles)
    head = "" if styles.text is None else f' s="{styles.text}"'
    return [
        f'{pre}{n}"{head} t="inlineStr"><is><t>{v}</t></is></c>'
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
        else exact_cell(pre, n, "text", plain_value(v), styles)
        for n, v in zip(nums, values, strict=True)
    ]


def _styled(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """Coloured status cells (few distinct values: each one's cell is made once)."""
    values = raw_values(series)
    if not set(map(type, values)) <= _STR_OR_NONE:  # odd values: every cell the exact way
        return [
            exact_cell(pre, n, "styled", plain_value(v), styles)
            for n, v in zip(nums, values, strict=True)
        ]
    return _by_value(values, pre, nums, "styled", styles)


def few_distinct(values: list[Any]) -> bool:
    """Strings (or None) with at most one distinct value in four, judged on a sample first."""
    sample = values[:_SAMPLE]
    if not set(map(type, sample)) <= _STR_OR_NONE or len(set(sample)) * 4 > len(sample):
        return False
    return set(map(type, values)) <= _STR_OR_NONE and len(set(values)) * 4 <= len(values)


def _by_value(
    values: list[str | None], pre: str, nums: list[str], kind: str, styles: CellStyles
) -> list[str]:
    """Cells made once per distinct value (the exact way) and numbered per row."""
    tails = {v: exact_cell("", "", kind, v, styles) for v in set(values)}
    return [
        f"{pre}{n}{tail}" if (tail := tails[v]) else "" for n, v in zip(nums, values, strict=True)
    ]


def _json(series: pd.Series, pre: str, nums: list[str], styles: CellStyles) -> list[str]:
    """JSON cells (a handful of rows: the Sources sheet) the exact way."""
    values = py_values(series)
    return [exact_cell(pre, n, "json", v, styles) for n, v in zip(nums, values, strict=True)]


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
    """Datetime cells as Excel serials, computed for the whole chunk at once."""
    if not pd.api.types.is_datetime64_any_dtype(series):
        return [
            exact_cell(pre, n, "datetime", v, styles)
            for n, v in zip(nums, py_values(series), strict=True)
        ]
    serials = _serials(series)
    head = f'" s="{styles.datetime}" t="n"><v>'
    return [
        "" if s is None else f"{pre}{n}{head}{s}</v></c>"
        for n, s in zip(nums, serials, strict=True)
    ]


def _serials(series: pd.Series) -> list[str | None]:
    """Excel serial numbers of a datetime column, the digits of :func:`excel_serial`; NaT → None.

    The same float operations on whole arrays: days since 1899-12-30 (one less for the dates
    before Excel's fictitious 1900-02-29) plus the seconds of the day over 86,400.
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


def raw_values(series: pd.Series) -> list[Any]:
    """Column values with NA as None; object values unconverted (see :func:`plain_value`)."""
    if series.dtype == object:
        values: list[Any] = series.astype(object).where(series.notna(), None).tolist()
        return values
    if pd.api.types.is_string_dtype(series.dtype):  # Python strings already: half the cost
        strings: Any = series  # (pandas-stubs do not admit na_value=None, pandas does)
        texts: list[Any] = strings.to_numpy(dtype=object, na_value=None).tolist()
        return texts
    return py_values(series)


def plain_value(value: Any) -> Any:
    """A raw object value converted as :func:`~audit._values.py_values` converts it."""
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


ENCODERS: dict[str, Encoder] = {
    "text": _texts,
    "list": _lists,
    "styled": _styled,
    "json": _json,
    "int": _ints,
    "bool": _bools,
    "datetime": _datetimes,
}
