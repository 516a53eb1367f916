"""Vectorised building blocks of the targets' documented key normalisations.

Each profile composes its own normalisation from these (``KeyRules.normalise``); a value whose
treatment the vendor does not document becomes NA (unknown), never a guess.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = [
    "after_separator",
    "ascii_only",
    "before_at",
    "ext_alias",
    "non_empty",
    "replace_outside",
]


def _text(values: pd.Series) -> pd.Series:
    return values.astype("str")


def ascii_only(values: pd.Series) -> pd.Series:
    """The values that are plain ASCII; NA for the others (their treatment is undocumented)."""
    text = _text(values)
    ascii_ = text.str.isascii().fillna(False).astype(bool)
    return text.where(ascii_, pd.NA)


def before_at(values: pd.Series) -> pd.Series:
    """The characters before the ``@`` of values holding exactly one; other values unchanged,
    NA for values with more than one ``@``."""
    text = _text(values)
    ats = text.str.count("@")
    local = text.str.split("@", n=1).str[0]
    return text.mask(ats.eq(1).fillna(False).astype(bool), local).where(ats.le(1), pd.NA)


def ext_alias(values: pd.Series) -> pd.Series:
    """For ``#EXT#`` values (a guest's stored UPN), the invited alias: the text before ``#EXT#``
    without its ``_domain`` part; other values unchanged. NA when that text holds more than one
    ``_`` (which one separates the domain is then not documented)."""
    text = _text(values)
    has_ext = text.str.contains("#EXT#", regex=False).fillna(False).astype(bool)
    head = text.str.split("#EXT#", n=1, regex=False).str[0]
    unders = head.str.count("_")
    alias = head.str.split("_", n=1).str[0]
    out = text.mask(has_ext, alias)
    return out.mask(has_ext & unders.gt(1).fillna(False).astype(bool), pd.NA)


def replace_outside(values: pd.Series, allowed: str, by: str) -> pd.Series:
    """Every character outside the regex class ``allowed`` replaced by ``by`` (one for one)."""
    return _text(values).str.replace(f"[^{allowed}]", by, regex=True)


def after_separator(values: pd.Series, separator: str) -> pd.Series:
    """The characters after ``separator`` in values holding it once; other values unchanged, NA
    for values holding it more than once."""
    text = _text(values)
    count = text.str.count(re.escape(separator))
    tail = text.str.split(separator, n=1, regex=False).str[-1]
    return text.mask(count.eq(1).fillna(False).astype(bool), tail).where(count.le(1), pd.NA)


def non_empty(values: pd.Series) -> pd.Series:
    """The values with empty strings as NA (a key that normalises to nothing is not documented)."""
    text = _text(values)
    return text.where(text.str.len().gt(0).fillna(False).astype(bool), pd.NA)
