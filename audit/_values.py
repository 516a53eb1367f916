"""Plain values from pandas columns: NA as None, datetimes as UTC, arrays as lists.

Shared by the analysis (diffs) and every renderer, so all outputs convert values the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from audit._text import is_arrow_lists, list_objects

__all__ = ["column", "iso_utc", "joined", "naive_utc", "py_values", "records"]


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or an all-NA column when the frame lacks it (older or partial results)."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def py_values(series: pd.Series) -> list[Any]:
    """The column as plain Python values: NA → None, datetimes tz-aware UTC, arrays → lists."""
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        return list(_datetimes(series))
    if is_arrow_lists(series):  # lists held in Arrow: as Python lists
        return list(list_objects(series))
    values = series.astype(object).where(series.notna(), None).tolist()
    if series.dtype == object:
        return [_plain(v) for v in values]
    return values


def _datetimes(series: pd.Series) -> list[datetime | None]:
    """Datetimes as tz-aware UTC ``datetime`` objects (naive input is taken as UTC)."""
    stamps = pd.to_datetime(series, utc=True)
    values = stamps.array.to_pydatetime()  # one vectorised conversion; NaT stays NaT
    return [v if present else None for v, present in zip(values, stamps.notna(), strict=True)]


def _plain(value: Any) -> Any:
    """One object-column value as a JSON/Excel-friendly Python value."""
    if isinstance(value, np.ndarray | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix; naive datetimes are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def naive_utc(value: datetime | None) -> datetime | None:
    """A timezone-naive UTC datetime (Excel has no time zones)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def joined(value: Any, sep: str = ";") -> str:
    """A list cell as ``sep``-joined text; scalars as text, None as ""."""
    if value is None:
        return ""
    if isinstance(value, list):
        return sep.join("" if v is None else str(v) for v in value)
    return str(value)


def records(frame: pd.DataFrame, fields: Sequence[str]) -> list[dict[str, Any]]:
    """One dict per row with exactly ``fields``, built from whole columns."""
    columns = [py_values(column(frame, name)) for name in fields]
    return [dict(zip(fields, row, strict=True)) for row in zip(*columns, strict=True)]
