"""The users table built page by page: each Graph page becomes Arrow column chunks as it arrives.

A page of up to 999 user objects is parsed, turned into one Arrow array per column of the users
table (the coercions of :mod:`audit.collectors.tables` applied per value) and dropped; only those
arrays accumulate. At a million guests the raw objects would be several gigabytes of Python dicts,
the arrays are a few hundred megabytes. :meth:`UserColumns.table` concatenates them column by column
into the snapshot's users table, which is exactly what :func:`audit.collectors.tables.users_table`
of the same objects gives (same rows, order, values and dtypes).

Chains are merged as the collector merged lists of objects: concatenated in order, first object of
each id kept (:meth:`UserColumns.concat`, :meth:`UserColumns.table`). With ``keep_raw`` (an export
folder is written) the objects themselves are kept too, merged the same way (:meth:`UserColumns.raw`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

JSON = dict[str, Any]

USER_STR = (
    "id",
    "displayName",
    "givenName",
    "surname",
    "userPrincipalName",
    "mail",
    "userType",
    "creationType",
    "externalUserState",
    "mailNickname",
)
USER_LIST = ("otherMails", "proxyAddresses")
USER_TIME = ("externalUserStateChangeDateTime", "createdDateTime", "lastSignInDateTime")
USER_COLUMNS = (
    *USER_STR,
    *USER_LIST,
    "identities",
    "accountEnabled",
    "licenseCount",
    *USER_TIME,
)
_SIGNED = "_signInActivity"  # the object carries the property (even as null): not a table column
_TEXT = pa.large_string()
_TEXTS = pa.list_(pa.large_string())
_NULLABLE = {pa.bool_(): pd.BooleanDtype(), pa.int64(): pd.Int64Dtype()}


class UserColumns:
    """User objects as Arrow column chunks, page after page (see the module docstring).

    Pages are compacted into blocks of about :data:`BLOCK` rows as they come (timestamps parsed
    then), so a million users are a few dozen arrays per column, not thousands of small ones; the
    table's text columns are those blocks themselves, not a copy.
    """

    def __init__(self, *, keep_raw: bool = False) -> None:
        self.keep_raw = keep_raw
        self._pages: dict[str, list[pa.Array]] = {c: [] for c in _ALL}
        self._blocks: dict[str, list[pa.Array]] = {c: [] for c in _ALL}
        self._pending = 0
        self._raw: list[list[JSON]] = []
        self.rows = 0

    def extend(self, items: Iterable[Any]) -> None:
        """Convert one page of objects (non-objects are skipped) and keep only its columns."""
        users = [u for u in items if isinstance(u, dict)]
        if not users:
            return
        for name, array in _page_columns(users).items():
            self._pages[name].append(array)
        if self.keep_raw:
            self._raw.append(users)
        self.rows += len(users)
        self._pending += len(users)
        if self._pending >= BLOCK:
            self._flush()

    @classmethod
    def concat(cls, parts: Sequence[UserColumns]) -> UserColumns:
        """The parts one after the other (their first objects of each id win in that order)."""
        merged = cls(keep_raw=any(p.keep_raw for p in parts))
        for part in parts:
            part._flush()
            for name in _ALL:
                merged._blocks[name] += part._blocks[name]
            merged._raw += part._raw
            merged.rows += part.rows
        return merged

    def members_only(self) -> UserColumns:
        """The objects whose ``userType`` is exactly ``Member``."""
        self._flush()
        kept = UserColumns(keep_raw=self.keep_raw)
        for index, types in enumerate(self._blocks["userType"]):
            mask = pc.fill_null(pc.equal(types, "Member"), False)
            count = pc.sum(mask).as_py() or 0
            if count:
                for name in _ALL:
                    kept._blocks[name].append(self._blocks[name][index].filter(mask))
                kept.rows += count
        if self.keep_raw:
            kept._raw = [[u for u in page if u.get("userType") == "Member"] for page in self._raw]
        return kept

    def __len__(self) -> int:
        """Distinct ids, as merging the objects by ``str(id)`` counts them (all id-less as one)."""
        self._flush()
        ids = pa.chunked_array(self._blocks["id"], _TEXT)
        nulls = ids.null_count
        return len(pc.unique(ids.drop_null())) + (1 if nulls else 0)

    def raw(self) -> list[JSON]:
        """The kept objects merged by id, first one winning (``keep_raw`` only)."""
        merged: dict[str, JSON] = {}
        for page in self._raw:
            for user in page:
                merged.setdefault(str(user.get("id")), user)
        return list(merged.values())

    def table(self) -> tuple[pd.DataFrame, int]:
        """The users table, and how many of its users carry ``signInActivity``.

        Rows without an id are dropped and the first row of each id is kept, as
        :func:`audit.collectors.tables.users_table` does; when nothing is dropped no column is
        copied. The blocks are let go column by column as the table is built.
        """
        self._flush()
        ids = pd.Series(pd.array(pa.chunked_array(self._blocks["id"], _TEXT), dtype="str"))
        keep = (ids.notna() & (ids != "") & ~ids.duplicated()).to_numpy(dtype=bool)
        rows = None if keep.all() else pa.array(np.flatnonzero(keep))
        del ids
        columns: dict[str, Any] = {}
        for name in _ALL:
            array = pa.chunked_array(self._blocks[name], _type_of(name))
            self._blocks[name] = []
            columns[name] = _to_pandas(name, array if rows is None else array.take(rows))
            del array
        signed = int(columns.pop(_SIGNED).sum())
        size = len(columns["id"])
        return pd.DataFrame(columns, index=pd.RangeIndex(size)), signed

    def _flush(self) -> None:
        """Compact the pages read since the last block into one block (timestamps parsed)."""
        if not self._pending:
            return
        for name in _ALL:
            pages, self._pages[name] = self._pages[name], []
            block = pa.concat_arrays(pages) if len(pages) > 1 else pages[0]
            del pages
            self._blocks[name].append(_timestamps(block) if name in USER_TIME else block)
        self._pending = 0


BLOCK = 65_536
"""Rows per compacted block of :class:`UserColumns`."""
_ALL = (*USER_COLUMNS, _SIGNED)
_TIME = pa.timestamp("us", tz="UTC")


def _type_of(name: str) -> pa.DataType:
    if name in USER_TIME:
        return _TIME
    if name in USER_LIST:
        return _TEXTS
    if name in ("accountEnabled", _SIGNED):
        return pa.bool_()
    return pa.int64() if name == "licenseCount" else _TEXT


def _page_columns(users: list[JSON]) -> dict[str, pa.Array]:
    """One page's columns, each value coerced as the users table wants it."""
    columns = {c: texts([u.get(c) for u in users]) for c in USER_STR}
    for c in USER_LIST:
        columns[c] = pa.array([_text_list(u.get(c)) for u in users], _TEXTS)
    columns["identities"] = pa.array([_json_text(u.get("identities")) for u in users], _TEXT)
    enabled = [u.get("accountEnabled") for u in users]
    columns["accountEnabled"] = pa.array(
        [v if isinstance(v, bool) else None for v in enabled], pa.bool_()
    )
    licenses = [u.get("assignedLicenses") for u in users]
    columns["licenseCount"] = pa.array(
        [len(v) if isinstance(v, list) else None for v in licenses], pa.int64()
    )
    for c in ("externalUserStateChangeDateTime", "createdDateTime"):
        columns[c] = texts([u.get(c) for u in users])
    columns["lastSignInDateTime"] = texts([_last_sign_in(u) for u in users])
    columns[_SIGNED] = pa.array(["signInActivity" in u for u in users], pa.bool_())
    return columns


def _to_pandas(name: str, array: pa.ChunkedArray) -> Any:
    """The users table's column ``name`` from its Arrow array (dtypes as ``users_table``'s)."""
    if name in USER_LIST:  # kept in Arrow: a Python list per user was ~220 MB per column at 1M
        return pd.Series(pd.array(array, dtype=pd.ArrowDtype(array.type)))
    if name == "identities":
        if array.null_count == len(array):  # no identities anywhere: an object column of None
            return pd.Series([None] * len(array), dtype=object)
        return pd.Series(pd.array(array, dtype="str"))
    if name in ("accountEnabled", _SIGNED, "licenseCount"):  # nullable: boolean, Int64
        return array.to_pandas(types_mapper=_NULLABLE.get).array
    if name in USER_TIME:
        return array.to_pandas()
    return pd.Series(pd.array(array, dtype="str"))


def _timestamps(texts: pa.Array) -> pa.Array:
    """ISO 8601 texts as UTC timestamps, parsed as :func:`times` parses them."""
    return pa.array(times(pd.Series(pd.array(texts, dtype="str"))), _TIME)


def texts(values: list[Any]) -> pa.Array:
    """Graph strings as Arrow text; other JSON types coerced as :func:`text` does.

    Arrow converts a list of str/None several times faster than pandas; it refuses numbers,
    lists and objects, which then take the coercing path.
    """
    try:
        return pa.array(values, _TEXT)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([text(v) for v in values], _TEXT)


def _last_sign_in(user: JSON) -> Any:
    sign_in = user.get("signInActivity")
    return sign_in.get("lastSignInDateTime") if isinstance(sign_in, dict) else None


def text(value: Any) -> str | None:
    """A string, or None; numbers become their text, containers are dropped."""
    if value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)


def _text_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


def _json_text(value: Any) -> str | None:
    return orjson.dumps(value).decode() if isinstance(value, list) else None  # kept as JSON text


def times(col: pd.Series) -> pd.Series:
    """ISO 8601 strings to UTC timestamps; unparseable values become NaT, never an error."""
    parsed = pd.to_datetime(col, format="ISO8601", utc=True, errors="coerce")
    return parsed.astype("datetime64[us, UTC]")
