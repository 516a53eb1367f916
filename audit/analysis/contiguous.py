"""Text columns in one piece: Arrow-held text columns of several chunks made contiguous.

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
    """``frame`` with each Arrow-held text column of several chunks replaced by one chunk (in
    place: a column at a time, so at most one column exists twice; returns ``frame``)."""
    for name in list(frame.columns):
        series = frame[name]
        if not isinstance(series, pd.Series):  # a repeated column name: left as it is
            continue
        dtype = series.dtype
        if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
            continue
        data = pa.array(series.array)
        if isinstance(data, pa.ChunkedArray) and data.num_chunks > 1:
            joined = pd.array(data.combine_chunks(), dtype=dtype)
            frame[name] = pd.Series(joined, index=frame.index, name=name)
    return frame
