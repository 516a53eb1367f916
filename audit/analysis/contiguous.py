"""Columns in one piece: Arrow-held columns (text, lists of addresses) of several chunks made
contiguous.

The users table arrives in blocks (the collector turns each Graph page into Arrow arrays and
compacts them into blocks of 65,536 rows), and the findings are one piece per rule, so their text
columns are Arrow arrays of many chunks. Picking rows from such a column (``iloc`` with positions,
as a sorted report sheet does a few thousand rows at a time) makes Arrow join the chunks first,
every time: at a million guests that was 8 ms a pick, 50 s of report.xlsx's 92 s. Joined once
here, each pick takes a fraction of a millisecond. The values do not change.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

__all__ = ["make_contiguous"]


def make_contiguous(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each Arrow-held column of several chunks replaced by one chunk (in
    place: a column at a time; returns ``frame``). Columns that hold the same data (one made
    from another, e.g. ``original_upn`` from ``user_principal_name``) go on sharing one copy."""
    joined: dict[tuple[int, ...], pd.api.extensions.ExtensionArray] = {}
    for name in list(frame.columns):
        series = frame[name]
        if not isinstance(series, pd.Series):  # a repeated column name: left as it is
            continue
        dtype = series.dtype
        arrow_text = isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
        if not (arrow_text or isinstance(dtype, pd.ArrowDtype)):
            continue
        data = pa.array(series.array)
        if not isinstance(data, pa.ChunkedArray) or data.num_chunks < 2:
            continue
        key = _identity(data)
        if key not in joined:
            joined[key] = pd.array(data.combine_chunks(), dtype=dtype)
        frame[name] = pd.Series(joined[key], index=frame.index, name=name)
    return frame


def _identity(data: pa.ChunkedArray) -> tuple[int, ...]:
    """Where the chunks' data lies (buffer addresses, offsets and lengths): equal for columns
    sharing their memory."""
    key: list[int] = []
    for chunk in data.chunks:
        key += [chunk.offset, len(chunk)]
        key += [buffer.address if buffer is not None else 0 for buffer in chunk.buffers()]
    return tuple(key)
