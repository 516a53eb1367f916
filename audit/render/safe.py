"""Neutralise tenant text before it reaches a spreadsheet (CSV and Excel formula injection).

Display names, addresses and error texts come from the tenant and are hostile: a cell such as
``=HYPERLINK("http://evil","x")`` or ``+cmd|' /C calc'!A0`` runs as a formula (or DDE command)
when a spreadsheet opens the file. OWASP's rule is that no cell may *begin* with ``=``, ``+``,
``-``, ``@``, tab or carriage return; such cells get a leading apostrophe, which Excel and
LibreOffice read as "this is text" and which keeps the value readable.

We also look past leading blanks and invisible characters (spaces, no-break spaces, zero-width
and bidi controls, newlines): spreadsheet importers differ in whether they trim them before
deciding that a cell is a formula, so ``"  =1+1"`` is treated as risky too. Full-width ``＝ ＋ －
＠`` count as triggers as well, because East-Asian locales of Excel accept them as operators.

For Excel the text itself is not changed: the workbook writer stores the cell as a string
(never a formula) and sets the cell's ``quotePrefix`` style, Excel's own representation of a
typed apostrophe, so the value shows exactly as in the tenant and stays text when edited.
XML cannot hold NUL and most C0 control characters (openpyxl raises ``IllegalCharacterError``)
nor lone surrogates; :func:`excel_text` replaces them with U+FFFD and caps the length at Excel's
32,767 characters per cell with a visible marker.
"""

from __future__ import annotations

import re

import pyarrow as pa

from audit.render._columns_fast import byte_set, flag_rows, replace_where

__all__ = ["EXCEL_MAX_CHARS", "excel_text", "is_formula_like", "neutralise", "neutralise_arrow"]

EXCEL_MAX_CHARS = 32_767
"""The most characters an Excel cell holds."""

_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_BLANKS = (
    " \t\r\n\f\v\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff"
)
_LEADING = re.compile(f"[{_BLANKS}]*")
_UNSAFE_CSV = re.compile("[\x00\ud800-\udfff]")
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_REPLACEMENT = "\ufffd"
# UTF-8 bytes that mark every text neutralise() could change (and a few more): a NUL anywhere, or
# a first character that is not visible ASCII (blank, control, any non-ASCII byte) or is an ASCII
# trigger. Lone surrogates cannot occur in Arrow strings, which are always valid UTF-8.
_MAY_CHANGE_ANYWHERE = byte_set([0])
_MAY_CHANGE_FIRST = byte_set([*range(0x21), *range(0x7F, 0x100), *"=+-@"])


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet could take ``text`` for a formula (see the module docstring)."""
    if not text:
        return False
    first = text[0]
    if first in _TRIGGERS:
        return True
    if first != " " and first.isprintable():
        return False  # the common case: a visible, non-trigger first character
    match = _LEADING.match(text)
    rest = text[match.end() :] if match else text
    return bool(rest) and rest[0] in _TRIGGERS


def neutralise(text: str) -> str:
    """``text`` made inert for a CSV cell: a leading ``'`` when formula-like; NUL → U+FFFD.

    Lone surrogates (which no UTF-8 file can hold) become U+FFFD as well, so writing never fails.
    """
    if not text:
        return text
    if "\x00" in text or not text.isprintable():
        text = _UNSAFE_CSV.sub(_REPLACEMENT, text)
    if is_formula_like(text):
        return "'" + text
    return text


def neutralise_arrow(texts: pa.Array) -> pa.Array:
    """:func:`neutralise` applied to every string of an Arrow array; nulls stay null.

    ``texts`` is a ``large_string`` array. A whole column at once: one vectorised byte scan picks
    the few texts :func:`neutralise` could change and only those pass through it, so the result
    is exactly ``[neutralise(t) for t in texts]`` at a fraction of the cost.
    """
    flags = flag_rows(texts, anywhere=_MAY_CHANGE_ANYWHERE, first=_MAY_CHANGE_FIRST)
    return replace_where(texts, flags, neutralise)


def excel_text(text: str) -> str:
    """``text`` as an Excel cell can hold it: illegal XML characters → U+FFFD, length capped."""
    if not text.isprintable():
        text = _ILLEGAL_XML.sub(_REPLACEMENT, text)
    if len(text) > EXCEL_MAX_CHARS:
        marker = f" …[truncated, {len(text):,} characters]"
        text = text[: EXCEL_MAX_CHARS - len(marker)] + marker
    return text
