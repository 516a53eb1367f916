"""Arrow-backed text kernels for the guests frame: conversions, membership, per-distinct lookups.

pandas' ``str`` dtype stores text in Arrow, but some of its operations leave Arrow for Python objects
(``isin``, ``map`` and index lookups hash Python strings, one per row). These helpers keep that work
in Arrow's compute kernels, or do it once per distinct value, with pandas' results and semantics.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

STR = pd.StringDtype("pyarrow", na_value=np.nan)


def text_array(values: pd.Series) -> Any:
    """The values as one Arrow ``large_string`` array, after pandas' ``astype("str")``."""
    array = pa.array(values.astype("str").array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string())


def text_series(array: Any, index: pd.Index, name: Hashable = None) -> pd.Series:
    """An Arrow string array as a pandas ``str`` Series on ``index`` (nulls become NaN)."""
    return pd.Series(array.cast(pa.large_string()), index=index, name=name, dtype=STR)


def bool_series(array: Any, index: pd.Index) -> pd.Series:
    """An Arrow boolean array as a plain bool Series (null read as False)."""
    values = pc.fill_null(array, False).to_numpy(zero_copy_only=False)
    return pd.Series(values, index=index, dtype=bool)


def text_isin(values: pd.Series, candidates: Iterable[Any]) -> pd.Series:
    """``values.isin(candidates)`` for text, as one Arrow hash lookup.

    pandas' own ``isin`` on Arrow-backed text turns every candidate into an Arrow scalar in Python,
    which dominates for large candidate sets. The semantics are pandas': only string candidates
    count, and a missing candidate matches missing values.
    """
    if values.dtype != STR:
        return values.isin(list(candidates))
    pool, with_null = _text_pool(candidates)
    if not len(pool) and not with_null:
        return pd.Series(False, index=values.index, name=values.name)
    if with_null:
        pool = pa.concat_arrays([pool, pa.nulls(1, pa.large_string())])
    hit = pc.fill_null(pc.is_in(text_array(values), value_set=pool), False)
    return pd.Series(numpy_bools(hit), index=values.index, name=values.name)


def _text_pool(candidates: Iterable[Any]) -> tuple[Any, bool]:
    """The distinct string candidates as an Arrow array, and whether a missing value is among them."""
    if isinstance(candidates, pd.Series | pd.Index) and candidates.dtype == STR:
        array = text_array(pd.Series(candidates))
        return pc.unique(array.drop_null()), array.null_count > 0
    items = list(candidates)
    pool = pa.array([v for v in items if isinstance(v, str)], pa.large_string())
    return pc.unique(pool), any(_missing(v) for v in items)


def _missing(value: Any) -> bool:
    """What Arrow reads as null from pandas: None, NA, NaT and NaN."""
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )


def text_codes(values: pd.Series) -> tuple[np.ndarray, Any]:
    """Each value's position among the distinct values (-1 where missing), and those values.

    One Arrow hash pass, for work that is done once per distinct value and then mapped back.
    """
    encoded = pc.dictionary_encode(text_array(values))
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return np.asarray(codes, dtype=np.int64), encoded.dictionary


def map_text(values: pd.Series, mapper: pd.Series) -> pd.Series:
    """``values.map(mapper)``, looked up once per distinct value (a missing value is looked up too).

    Only for text values and non-empty extension-typed mappers, whose results keep the mapper's
    dtype; other cases are left to pandas, whose result type may depend on the values.
    """
    typed = isinstance(mapper.dtype, pd.api.extensions.ExtensionDtype)
    if values.dtype != STR or not typed or not len(mapper) or not len(values):
        return values.map(mapper)
    codes, distinct = text_codes(values)
    mapped = text_series(distinct, pd.RangeIndex(len(distinct))).map(mapper)
    missing = pd.Series([np.nan], dtype=STR).map(mapper)
    looked_up = pd.concat([mapped, missing], ignore_index=True).array
    taken = looked_up.take(np.where(codes < 0, len(distinct), codes))
    return pd.Series(taken, index=values.index, name=values.name)


def numpy_bools(mask: Any) -> np.ndarray:
    """A boolean Arrow array (without nulls) as numpy."""
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def first_rows(keys: pd.Series, table_keys: pd.Series) -> np.ndarray:
    """Per key, the row of its first occurrence among ``table_keys`` (-1 when absent).

    ``table.drop_duplicates(key).set_index(key).index.get_indexer(keys)``, in original row numbers,
    with one Arrow hash pass over both; a missing key matches a missing table key, as in pandas.
    """
    if keys.dtype != STR or table_keys.dtype != STR:
        return _first_rows_pandas(keys, table_keys)
    table = text_array(table_keys)
    both = pc.dictionary_encode(pa.concat_arrays([table, text_array(keys)]))
    codes = pc.fill_null(both.indices, len(both.dictionary)).to_numpy(zero_copy_only=False)
    codes = np.asarray(codes, dtype=np.int64)
    found, first = np.unique(codes[: len(table)], return_index=True)
    rows = np.full(len(both.dictionary) + 1, -1, dtype=np.int64)
    rows[found] = first
    result: np.ndarray = rows[codes[len(table) :]]
    return result


def _first_rows_pandas(keys: pd.Series, table_keys: pd.Series) -> np.ndarray:
    positions = pd.Series(np.arange(len(table_keys)), index=pd.Index(table_keys))
    positions = positions[~positions.index.duplicated()]
    found = positions.index.get_indexer(pd.Index(keys))
    result: np.ndarray = np.append(positions.to_numpy(), -1)[found]  # -1: not found
    return result


TEXT_LISTS = pa.list_(pa.large_string())
"""The Arrow type of a column of lists of strings (``otherMails``, ``proxyAddresses``...)."""


def arrow_lists(cells: pd.Series) -> pa.Array | None:
    """A column held as an Arrow list array, its items cast to :data:`TEXT_LISTS`' strings
    (None when they are not text)."""
    lists = pa.array(cells.array)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    value_type = lists.type.value_type
    if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
        return None
    return lists.cast(TEXT_LISTS)


def is_arrow_lists(cells: pd.Series) -> bool:
    """True for a column of lists held in Arrow."""
    return isinstance(cells.dtype, pd.ArrowDtype) and pa.types.is_list(cells.dtype.pyarrow_dtype)


def list_objects(cells: pd.Series) -> pd.Series:
    """A column of lists as an object column of Python lists, whether it holds them so or in
    Arrow (the collected tables and the guests frame keep ``otherMails``-like columns in Arrow:
    a Python list per user and column cost ~220 MB at a million guests). NA stays None."""
    if is_arrow_lists(cells):
        values = pa.array(cells.array).to_pylist()
        return pd.Series(values, index=cells.index, name=cells.name, dtype=object)
    return cells


def text_lists(values: list[Any], index: pd.Index) -> pd.Series:
    """Python lists of strings (one per row) as an Arrow list column on ``index``; an object
    column of them when an item is not a string (kept as it is)."""
    try:
        lists = pa.array(values, type=TEXT_LISTS)
    except (pa.ArrowException, TypeError, ValueError):
        return pd.Series(values, index=index, dtype=object)
    return pd.Series(pd.array(lists, dtype=pd.ArrowDtype(TEXT_LISTS)), index=index)


def _object_lists(cells: pd.Series) -> pa.Array | None:
    """A column of Python lists of strings as an Arrow list array (None for anything else)."""
    values = cells.to_numpy()
    kinds = set(map(type, values))
    if not kinds <= {list, float, type(None), type(pd.NA)}:  # Arrow would split a string cell
        return None
    if float in kinds and not all(_missing(v) for v in values if type(v) is float):
        return None
    try:
        return pa.array(values, type=TEXT_LISTS, from_pandas=True)
    except (pa.ArrowException, ValueError, TypeError):
        return None


def list_items(cells: pd.Series) -> tuple[Any, np.ndarray] | None:
    """Every item of a column of lists of strings, with the row position it came from.

    One Arrow conversion instead of a Python loop; None when a cell is neither a list nor missing,
    or an item is not a string, so that callers keep their own semantics for such data.
    """
    lists = arrow_lists(cells) if is_arrow_lists(cells) else _object_lists(cells)
    if lists is None:
        return None
    items = pc.list_flatten(lists)
    if items.null_count:
        return None
    owners = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    return items, np.asarray(owners, dtype=np.int64)
