"""Columns made one Arrow chunk keep their values, dtypes and sharing."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from audit._text import TEXT_LISTS
from audit.analysis.contiguous import make_contiguous


def _chunks(series: pd.Series) -> int:
    data = pa.array(series.array)
    return data.num_chunks if isinstance(data, pa.ChunkedArray) else 1


def test_text_and_list_columns_become_one_chunk_with_the_same_values() -> None:
    texts = pa.chunked_array([pa.array(["a", None]), pa.array(["c"])])
    lists = pa.chunked_array(
        [pa.array([["x"], []], TEXT_LISTS), pa.array([["y", "z"]], TEXT_LISTS)]
    )
    frame = pd.DataFrame(
        {
            "text": pd.array(texts, dtype="str"),
            "lists": pd.array(lists, dtype=pd.ArrowDtype(TEXT_LISTS)),
            "number": [1, 2, 3],
        }
    )
    before = frame.copy(deep=True)
    assert _chunks(frame["text"]) == 2
    assert _chunks(frame["lists"]) == 2
    make_contiguous(frame)
    assert _chunks(frame["text"]) == 1
    assert _chunks(frame["lists"]) == 1
    pd.testing.assert_frame_equal(frame, before)


def test_columns_sharing_data_go_on_sharing_one_copy() -> None:
    texts = pa.chunked_array([pa.array(["a", "b"]), pa.array(["c"])])
    frame = pd.DataFrame({"upn": pd.array(texts, dtype="str")})
    frame["original_upn"] = frame["upn"]
    frame["other"] = pd.array(
        pa.chunked_array([pa.array(["a", "b"]), pa.array(["c"])]), dtype="str"
    )
    make_contiguous(frame)
    one, two, three = (pa.array(frame[c].array) for c in ("upn", "original_upn", "other"))
    address = [a.buffers()[2].address for a in (_one(one), _one(two), _one(three))]
    assert address[0] == address[1]  # shared before, shared after
    assert address[2] != address[0]  # equal values in other memory are not merged


def _one(data: pa.Array | pa.ChunkedArray) -> pa.Array:
    return data.chunk(0) if isinstance(data, pa.ChunkedArray) else data
