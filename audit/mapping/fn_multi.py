"""Multi-valued functions: Split, Item, Join, Count, RemoveDuplicates.

A single value passed where a multi-valued one is expected counts as a list of one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.mapping import _arrow as ar
from audit.mapping._args import Args

__all__ = ["MULTI_FUNCTIONS", "item_of"]


def split(a: Args) -> ar.Array:
    """``Split(source, delimiter)``: "Splits a string into a multi-valued array, using the
    specified delimiter". Pieces are not trimmed (the doc's example output omits the blank after
    the comma; .NET String.Split keeps it). An empty delimiter gives the whole string as one item.
    """
    source, delimiter = a[0].text(), a[1].constant_text()
    if not delimiter:
        return a[0].values()
    return pc.split_pattern(source, delimiter)


def item(a: Args) -> ar.Array:
    """``Item(attribute, index)``: "returns one item from a multi-valued string/attribute", 1-based
    ("Index 0 shouldn't be used"). An index outside the list gives null.
    """
    return item_of(a[0].values(), a[1].constant_int())


def item_of(lists: ar.Array, index: int) -> ar.Array:
    """The ``index``-th (1-based) element of each list, null where there is none."""
    if index < 1:
        return ar.nulls(len(lists))
    offsets = lists.offsets.to_numpy()
    starts = offsets[:-1]
    valid = lists.is_valid().to_numpy(zero_copy_only=False)
    present = valid & (offsets[1:] - starts >= index)
    positions = pa.array(starts + (index - 1), mask=~present)
    return pc.take(lists.values, positions)


def join(a: Args) -> ar.Array:
    """``Join(separator, source1, source2, ...)``: the sources joined by the separator; "If one of
    the source values is a multi-value attribute, then every value in that attribute is joined".
    Null and empty sources are skipped: the doc's ``Join(", ", "", [surname], [givenName])``
    gives "Doe, John". All sources null gives null; some present but all empty gives "".
    """
    separator = pc.fill_null(a[0].text(), ar.scalar(""))
    result = ar.nulls(a.size)
    any_valid = pa.array(np.zeros(a.size, dtype=bool))
    for arg in list(a)[1:]:
        part = _flat(arg.value(), separator)
        joined = pc.binary_join_element_wise(result, part, separator)
        grown = pc.if_else(pc.is_null(result), part, joined)
        result = pc.if_else(ar.blank(part), result, grown)
        any_valid = pc.or_(any_valid, pc.is_valid(part))
    empty = pc.and_(pc.is_null(result), any_valid)
    return pc.if_else(empty, ar.scalar(""), result)


def _flat(value: ar.Array, separator: ar.Array) -> ar.Array:
    return pc.binary_join(value, separator) if ar.is_multi(value) else value


def count(a: Args) -> ar.Array:
    """``Count(attribute)``: "the number of elements in a multi-valued attribute"; an absent
    attribute has ``"0"``, a single value ``"1"``.
    """
    lengths = pc.fill_null(pc.list_value_length(a[0].values()), 0)
    return pc.cast(lengths, ar.STR)


def remove_duplicates(a: Args) -> ar.Array:
    """``RemoveDuplicates(attribute)``: "make sure each value is unique" (exact, case-sensitive
    match; the first occurrence keeps its place). A single value is returned as is.
    """
    value = a[0].value()
    if not ar.is_multi(value):
        return value
    unique = [None if v is None else list(dict.fromkeys(v)) for v in value.to_pylist()]
    return pa.array(unique, ar.LIST)


MULTI_FUNCTIONS: dict[str, Callable[[Args], ar.Array]] = {
    "Split": split,
    "Item": item,
    "Join": join,
    "Count": count,
    "RemoveDuplicates": remove_duplicates,
}
