"""Whole-column helpers for the flat writers (CSV, JSON): format a column once, not cell by cell.

At 100,000 guests a Python call per cell dominates the writers, yet most values are either plain
strings pandas keeps in Arrow (scanned and formatted vectorised; only the rare cells that need
work go through Python) or repeat (rule ids, reasons: formatted once per distinct value). Every
helper gives exactly what the per-value code gives: :func:`map_values` calls the caller's
conversion on the very values :func:`audit.render._common.py_values` yields, :func:`flag_rows`
only narrows down which cells need the per-value function, and :func:`concat_rows` only
concatenates text.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit._values import py_values

__all__ = [
    "TEXT",
    "ByteSet",
    "arrow_strings",
    "byte_set",
    "concat_rows",
    "flag_rows",
    "map_values",
    "replace_where",
    "text_scalar",
]

T = TypeVar("T")
Flags = npt.NDArray[np.bool_]
ByteSet = tuple[tuple[int, int], ...]
"""Byte values as sorted inclusive ranges (see :func:`byte_set`)."""

TEXT = pa.large_string()
"""The Arrow type every formatted column is built as (one type, so columns can be joined)."""


def text_scalar(text: str) -> pa.Scalar:
    """``text`` as an Arrow scalar of :data:`TEXT` (for joining with columns)."""
    return pa.scalar(text, type=TEXT)


def arrow_strings(series: pd.Series) -> pa.Array | None:
    """The column as an Arrow :data:`TEXT` array (NA → null) when pandas keeps it in Arrow.

    ``None`` for any other column (object, Python-backed strings, numbers...): those go through
    :func:`map_values`.
    """
    dtype = series.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    values = pa.array(series.array)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(TEXT)


def byte_set(chars: Iterable[int | str]) -> ByteSet:
    """A set of byte values (or one-byte characters) as sorted inclusive ranges, for
    :func:`flag_rows` (comparing against a few ranges is much faster than a table lookup)."""
    values = sorted({ord(c) if isinstance(c, str) else c for c in chars})
    ranges: list[tuple[int, int]] = []
    for value in values:
        if not 0 <= value <= 0xFF:
            raise ValueError(f"not a byte value: {value}")
        if ranges and ranges[-1][1] == value - 1:
            ranges[-1] = (ranges[-1][0], value)
        else:
            ranges.append((value, value))
    return tuple(ranges)


def flag_rows(texts: pa.Array, *, anywhere: ByteSet, first: ByteSet = ()) -> Flags:
    """Per string of a :data:`TEXT` array: does it hold a byte of ``anywhere``, or start with a
    byte of ``first``? Nulls are never flagged.

    Works on the UTF-8 bytes, where every byte below 0x80 is that ASCII character and every
    non-ASCII character consists of bytes from 0x80 up, so byte sets express "contains one of
    these ASCII characters" and "starts with a non-ASCII character" exactly.
    """
    n = len(texts)
    flags = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return flags
    _, offsets_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[texts.offset : texts.offset + n + 1]
    if data_buffer is None or offsets[-1] == offsets[0]:
        return flags
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    low = int(offsets[0])
    hits = np.flatnonzero(_in(data[low : int(offsets[-1])], anywhere)) + low
    flags[np.searchsorted(offsets, hits, side="right") - 1] = True
    if first:
        starts = offsets[:-1]
        nonempty = offsets[1:] > starts
        flags[nonempty] |= _in(data[starts[nonempty]], first)
    if texts.null_count:
        flags &= texts.is_valid().to_numpy(zero_copy_only=False)
    return flags


def _in(data: npt.NDArray[np.uint8], ranges: ByteSet) -> Flags:
    """Per byte: is it in one of ``ranges``?"""
    found = np.zeros(len(data), dtype=np.bool_)
    for lo, hi in ranges:
        if lo == hi:
            found |= data == lo
        else:  # one unsigned comparison: bytes below lo wrap around to large values
            found |= (data - np.uint8(lo)) <= np.uint8(hi - lo)
    return found


def replace_where(values: pa.Array, flags: Flags, convert: Callable[[Any], Any]) -> pa.Array:
    """``values`` (:data:`TEXT`) with each flagged entry replaced by ``convert(entry)``."""
    if not flags.any():
        return values
    mask = pa.array(flags)
    fixed = [convert(v) for v in pc.filter(values, mask).to_pylist()]
    return pc.replace_with_mask(values, mask, pa.array(fixed, type=TEXT))


def map_values(series: pd.Series, convert: Callable[[Any], T]) -> list[T]:
    """``[convert(v) for v in py_values(series)]``, calling ``convert`` once per distinct value.

    Distinct values are shared only where equal keys certainly mean equal plain values: bool
    columns, and object columns holding only exact ``str`` or only lists of exact ``str`` (keyed
    by tuple). Anything else (mixed columns, arrays, numbers, NaN...) is converted value by value.
    """
    if pd.api.types.is_bool_dtype(series) and series.dtype != object:
        return _shared(py_values(series), convert)  # True, False, None
    if series.dtype == object:
        values = series.tolist()
        kinds = set(map(type, values))
        if kinds <= {str}:
            return _shared(values, convert)
        if kinds <= {list} and set(map(type, itertools.chain.from_iterable(values))) <= {str}:
            keys = list(map(tuple, values))
            return _shared(keys, lambda key: convert(list(key)))
    return [convert(v) for v in py_values(series)]


def _shared(keys: list[Any], convert: Callable[[Any], T]) -> list[T]:
    """``[convert(k) for k in keys]`` with one call per distinct (hashable) key."""
    done: dict[Hashable, T] = {key: convert(key) for key in dict.fromkeys(keys)}
    return list(map(done.__getitem__, keys))


def concat_rows(parts: Sequence[pa.Array | str], row_end: str) -> pa.Buffer:
    """Per row, the concatenation of ``parts`` (columns and constant texts) plus ``row_end``;
    all rows as one UTF-8 buffer. Columns must be null-free :data:`TEXT` arrays of one length."""
    rows = pc.binary_join_element_wise(*_merged([*parts, row_end]), text_scalar(""))
    if not isinstance(rows, pa.Array):
        raise ValueError("concat_rows needs at least one column")
    if rows.null_count:
        raise ValueError("concat_rows got a null cell")
    if len(rows) == 0:
        return pa.py_buffer(b"")
    _, offsets_buffer, data = rows.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)
    start, end = int(offsets[rows.offset]), int(offsets[rows.offset + len(rows)])
    return data.slice(start, end - start)


def _merged(parts: Sequence[pa.Array | str]) -> list[pa.Array | pa.Scalar]:
    """``parts`` with each run of constant texts merged into one scalar (fewer join inputs)."""
    pieces: list[pa.Array | pa.Scalar] = []
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += part
            continue
        if text:
            pieces.append(text_scalar(text))
            text = ""
        pieces.append(part)
    if text:
        pieces.append(text_scalar(text))
    return pieces
