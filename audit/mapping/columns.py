"""Where the provisioning service's source attributes live in the guests frame.

The provisioning service sees a guest differently from Graph: its ``userPrincipalName`` is the
de-mangled address (``alias@theirdomain``) and ``originalUserPrincipalName`` is the stored
``#EXT#`` UPN (see audit/COLUMNS.md). Attribute names are matched case-insensitively.

Reading a column applies Entra's notion of null: "For an attribute, a Null is expressed by the
absence of the attribute" (IsNull in the expression reference). Graph does not store empty strings
or empty collections, so an empty string or an empty list in the frame is read as null.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.errors import ExpressionError
from audit.mapping import _arrow as ar

__all__ = ["DEFAULT_ATTRIBUTE_COLUMNS", "MULTI_VALUED_ATTRIBUTES", "FrameColumns"]

#: Provisioning-service source attribute -> guests-frame column.
DEFAULT_ATTRIBUTE_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "userPrincipalName": "provisioning_upn",
        "originalUserPrincipalName": "original_upn",
        "mail": "mail",
        "objectId": "object_id",
        "displayName": "display_name",
        "givenName": "given_name",
        "surname": "surname",
        "mailNickname": "mail_nickname",
        "userType": "user_type",
        "accountEnabled": "account_enabled",
        "otherMails": "other_mails",
        "proxyAddresses": "proxy_addresses",
    }
)

#: Attributes read as multi-valued even when their column holds no list yet.
MULTI_VALUED_ATTRIBUTES = frozenset({"othermails", "proxyaddresses"})


class FrameColumns:
    """Resolve attribute names to frame columns and read them as Arrow arrays, once each."""

    def __init__(self, frame: pd.DataFrame, attribute_columns: Mapping[str, str], text: str):
        self._frame = frame
        self._columns = {name.casefold(): column for name, column in attribute_columns.items()}
        self._text = text
        self._cache: dict[str, ar.Array] = {}

    def check(self, name: str) -> str:
        """The frame column holding attribute ``name``; ExpressionError when there is none."""
        column = self._columns.get(name.casefold())
        if column is None:
            known = ", ".join(sorted(self._columns)) or "none"
            raise self._fail(f"attribute [{name}] has no column (mapped attributes: {known})")
        if column not in self._frame.columns:
            raise self._fail(f"attribute [{name}] maps to column {column!r}, absent from the frame")
        return column

    def read(self, name: str) -> ar.Array:
        """The attribute's values for every row (single or multi-valued)."""
        folded = name.casefold()
        if folded not in self._cache:
            series = self._frame[self.check(name)]
            multi = folded in MULTI_VALUED_ATTRIBUTES or _holds_lists(series)
            self._cache[folded] = _lists(series) if multi else _texts(series)
        return self._cache[folded]

    def _fail(self, message: str) -> ExpressionError:
        return ExpressionError(message, expression=self._text)


def _holds_lists(series: pd.Series) -> bool:
    if series.dtype != object:
        return isinstance(series.dtype, pd.ArrowDtype) and pa.types.is_list(
            series.dtype.pyarrow_dtype
        )
    first = series.dropna().head(1)
    return bool(len(first)) and isinstance(first.iloc[0], list | tuple | np.ndarray)


def _texts(series: pd.Series) -> ar.Array:
    """A single-valued column as ``large_string``; booleans become ``"True"``/``"False"``."""
    if not isinstance(series.dtype, pd.StringDtype):
        series = series.astype("string")
    array = pa.array(series.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(ar.STR)
    return ar.null_if(pc.equal(array, ar.scalar("")), array)


def _lists(series: pd.Series) -> ar.Array:
    """A multi-valued column as a list array; NA, a missing or an empty list become null."""
    array = _lists_fast(series)
    if array is None:
        array = pa.array([_as_list(value) for value in series], type=ar.LIST)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return ar.null_if(pc.equal(pc.list_value_length(array), 0), array)


def _lists_fast(series: pd.Series) -> ar.Array | None:
    """Arrow's own conversion, unless a cell would be misread (it splits plain strings)."""
    if isinstance(series.dtype, pd.ArrowDtype):
        return pa.array(series.array).cast(ar.LIST)
    if any(isinstance(value, str) for value in series.array):
        return None
    try:
        return pa.array(series, type=ar.LIST, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return None


def _as_list(value: Any) -> list[str] | None:
    """One cell of a multi-valued column, tolerant of scalars and non-string items."""
    if isinstance(value, list | tuple | np.ndarray):
        return [str(item) for item in value if item is not None and item is not pd.NA]
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return [str(value)]
