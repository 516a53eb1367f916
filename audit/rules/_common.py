"""Small vectorised helpers shared by rules (no I/O, no state)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from audit._text import is_arrow_lists, list_items, list_objects, text_series
from audit.targets import Target


def domain_rule_applies(target: Target) -> bool | str:
    """Whether a rule about e-mail domains verified in the target runs for ``target``: not where
    domains are never verified there, and not where an unverified domain makes the key invalid
    (``target-key-invalid`` reports it, as the rejection it is)."""
    if target.verifies_domains is False:
        return False
    if target.key_rules.on_verified_domain:
        return f"does not apply: {target.title} rejects such a key (target-key-invalid reports it)"
    return True


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
        if is_arrow_lists(col) or (
            col.dtype == object and any(isinstance(v, list) for v in col.to_numpy())
        ):
            out[name] = _any_item(col, test)
        else:
            out[name] = test(col) & known(col)
    return pd.DataFrame(out, index=frame.index)


def _any_item(col: pd.Series, test: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Per row of a list column: does any present item pass ``test`` (an element-wise test)."""
    items = list_items(col)
    if items is None:  # not plain lists of strings: let pandas explode whatever is there
        values = col.explode().astype("str")
        hit = (test(values) & known(values)).groupby(level=0).any()
        return hit.reindex(col.index, fill_value=False)
    values = text_series(items[0], pd.RangeIndex(len(items[0])))
    found = np.zeros(len(col), dtype=bool)
    found[items[1][(test(values) & known(values)).to_numpy()]] = True
    return pd.Series(found, index=col.index)


def describe(hits: pd.DataFrame, frame: pd.DataFrame, label: str) -> pd.Series:
    """``"<label>: field=value; ..."`` for each row, naming the fields that hit."""
    fields = [
        (name, hits[name].to_numpy(), list_objects(frame[name]).to_numpy()) for name in hits.columns
    ]
    texts = []
    for i in range(len(hits)):
        parts = [f"{name}={_shown(values[i])[:300]}" for name, hit, values in fields if hit[i]]
        texts.append(f"{label}: " + "; ".join(parts))
    return pd.Series(texts, index=hits.index, dtype="str")


def _shown(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
