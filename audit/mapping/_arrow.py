"""Small pyarrow helpers shared by the function implementations.

Values are Arrow arrays of the frame's length: ``large_string`` for single values, a list of
``large_string`` for multi-valued ones; null is Entra's null ("the attribute is absent"). Pyarrow
compute kernels keep the common paths vectorised; per-row Python is used only where no kernel
exists (regular expressions in .NET dialect, PCase, Word, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "LIST",
    "STR",
    "Array",
    "blank",
    "broadcast",
    "from_texts",
    "is_multi",
    "map_rows",
    "map_text",
    "null_if",
    "nulls",
    "scalar",
    "texts_of_bools",
    "to_series",
]

#: pyarrow has no type stubs; arrays are passed around as this alias.
Array = Any

STR = pa.large_string()
LIST = pa.list_(STR)


def scalar(value: str | None) -> Any:
    """A ``large_string`` scalar, as kernels need matching types."""
    return pa.scalar(value, STR)


def nulls(size: int) -> Array:
    """An all-null single-valued array."""
    return pa.nulls(size, STR)


def from_texts(values: Sequence[str | None]) -> Array:
    """A single-valued array from Python strings."""
    return pa.array(values, STR)


def broadcast(array: Array, size: int) -> Array:
    """Repeat the one value of a length-1 array ``size`` times."""
    return pc.take(array, pa.array(np.zeros(size, dtype=np.int64)))


def is_multi(array: Array) -> bool:
    """Whether ``array`` holds multi-valued (list) values."""
    return bool(pa.types.is_list(array.type))


def blank(array: Array) -> Array:
    """Boolean mask without nulls: the value is null, an empty string or an empty list."""
    size = pc.list_value_length(array) if is_multi(array) else pc.utf8_length(array)
    return pc.fill_null(pc.equal(size, 0), True)


def null_if(mask: Array, array: Array) -> Array:
    """``array`` with null where ``mask`` is true (a null mask leaves the value alone)."""
    return pc.if_else(pc.fill_null(mask, False), pa.nulls(len(array), array.type), array)


def texts_of_bools(mask: Array) -> Array:
    """``"True"``/``"False"`` strings from a boolean array, keeping nulls."""
    return pc.if_else(mask, scalar("True"), scalar("False"))


def map_text(array: Array, func: Callable[[str], str | None]) -> Array:
    """Apply ``func`` to each non-null single value in Python; nulls stay null."""
    return from_texts([None if value is None else func(value) for value in array.to_pylist()])


def map_rows(func: Callable[..., str | None], *arrays: Array) -> Array:
    """Apply ``func`` row by row to the Python values of several arrays (nulls as ``None``)."""
    columns = [array.to_pylist() for array in arrays]
    return from_texts([func(*row) for row in zip(*columns, strict=True)])


def to_series(array: Array, index: pd.Index) -> pd.Series:
    """The result as pandas: dtype ``string``, or object lists for multi-valued results."""
    if is_multi(array):
        values = [pd.NA if value is None else value for value in array.to_pylist()]
        return pd.Series(values, index=index, dtype=object)
    mapper = {STR: pd.StringDtype()}.get
    series: pd.Series = array.to_pandas(types_mapper=mapper)
    return series.set_axis(index)
