"""Small vectorised helpers shared by rules (no I/O, no state)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd


def known(values: pd.Series) -> pd.Series:
    """True where a value is present and not empty."""
    text = values.astype("str")
    return (text.notna() & (text.str.strip() != "")).fillna(False).astype(bool)


def tri(flag: pd.Series, evaluable: pd.Series) -> pd.Series:
    """A nullable boolean: ``flag`` where ``evaluable``, NA (not evaluated) elsewhere."""
    out = flag.fillna(False).astype("boolean")
    return out.mask(~evaluable.fillna(False).astype(bool), pd.NA)


def any_address(
    frame: pd.DataFrame, fields: tuple[str, ...], test: Callable[[pd.Series], pd.Series]
) -> pd.DataFrame:
    """Apply an address test to scalar and list columns; one boolean column per field."""
    out = {}
    for name in fields:
        col = frame[name]
        if col.dtype == object and col.map(lambda v: isinstance(v, list)).any():
            exploded = col.explode()
            values = exploded.astype("str")
            present = known(values)
            hit = (test(values) & present).groupby(level=0).any()
            out[name] = hit.reindex(frame.index, fill_value=False)
        else:
            out[name] = test(col) & known(col)
    return pd.DataFrame(out, index=frame.index)


def describe(hits: pd.DataFrame, frame: pd.DataFrame, label: str) -> pd.Series:
    """``"<label>: field=value; ..."`` for each row, naming the fields that hit."""

    def one(idx: object) -> str:
        parts = []
        for name in hits.columns:
            if hits.at[idx, name]:
                value = frame.at[idx, name]
                shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
                parts.append(f"{name}={shown[:300]}")
        return f"{label}: " + "; ".join(parts)

    return pd.Series([one(i) for i in hits.index], index=hits.index, dtype="str")
