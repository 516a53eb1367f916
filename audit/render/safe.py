"""Neutralise tenant text before it reaches a spreadsheet (CSV and Excel formula injection).

Display names, addresses and error texts come from the tenant and are hostile: a cell such as
``=HYPERLINK("http://evil","x")`` or ``+cmd|' /C calc'!A0`` runs as a formula (or DDE command)
when a spreadsheet opens the file. OWASP's rule is that no cell may *begin* with ``=``, ``+``,
``-``, ``@``, tab or carriage return; such cells get a leading apostrophe, which Excel and
LibreOffice read as "this is text" and which keeps the value readable.

We also look past leading blanks and invisible characters (every C0 and C1 control, spaces,
no-break and soft hyphens, zero-width, bidi and other format characters: :data:`SKIPPED`):
spreadsheet importers differ in whether they trim them before deciding that a cell is a formula,
so ``"  =1+1"`` or ``"\u0085=1+1"`` is treated as risky too. Full-width ``＝ ＋ － ＠`` count as
triggers as well, because East-Asian locales of Excel accept them as operators.

A CSV file does not say which separator it uses: a spreadsheet in a German or French locale
splits at ``;``, others at ``,`` or tab, and an importer that meets a quote it does not expect
starts a new row at a line break inside a quoted field (LibreOffice does, with ``;``). So a CSV
cell is neutralised at *every* place where a cell may begin: its start, and after every run of
separators (``,`` ``;`` tab) and line breaks inside it. ``RT1;=1+1`` is written ``RT1;'=1+1``.

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
import pyarrow.compute as pc

from audit.render._columns_fast import byte_set, flag_rows, replace_where

__all__ = [
    "EXCEL_MAX_CHARS",
    "SKIPPED",
    "excel_text",
    "is_formula_like",
    "neutralise",
    "neutralise_arrow",
]

EXCEL_MAX_CHARS = 32_767
"""The most characters an Excel cell holds."""

_Ranges = tuple[tuple[int, int], ...]

SKIPPED: _Ranges = (
    (0x00, 0x20), (0x7F, 0xA0), (0xAD, 0xAD), (0x34F, 0x34F), (0x61C, 0x61C),
    (0x115F, 0x1160), (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2000, 0x200F),
    (0x2028, 0x202F), (0x205F, 0x206F), (0x3000, 0x3000), (0x3164, 0x3164), (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFFB), (0xE0000, 0xE0FFF),
)  # fmt: skip
"""Characters a spreadsheet may skip before it looks for a formula trigger: every C0 and C1
control, spaces, soft hyphen, joiners, bidi marks and other invisible format characters."""

_TRIGGERS: _Ranges = tuple((ord(c), ord(c)) for c in "=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_BREAKS: _Ranges = (
    (0x09, 0x0D), (0x1C, 0x1E), (0x2C, 0x2C), (0x3B, 0x3B), (0x85, 0x85), (0x2028, 0x2029),
)  # fmt: skip
"""Where a CSV cell may be cut into cells or rows: ``,`` ``;`` tab and every line break."""


def _python_class(ranges: _Ranges, extra: str = "") -> str:
    parts = [
        re.escape(chr(lo)) + ("" if lo == hi else "-" + re.escape(chr(hi))) for lo, hi in ranges
    ]
    return "[" + "".join(parts) + re.escape(extra) + "]"


def _re2_class(ranges: _Ranges, extra: str = "") -> str:
    parts = [f"\\x{{{lo:x}}}" + ("" if lo == hi else f"-\\x{{{hi:x}}}") for lo, hi in ranges]
    return "[" + "".join(parts) + "".join(f"\\x{{{ord(c):x}}}" for c in extra) + "]"


_FORMULA_START = re.compile(f"{_python_class(SKIPPED)}*{_python_class(_TRIGGERS)}")
_CELL_START = re.compile(f"{_python_class(SKIPPED, chr(34))}*{_python_class(_TRIGGERS)}")
_BREAK_RUN = re.compile(f"{_python_class(_BREAKS)}+")
_RISKY_RE2 = f"(?:^|{_re2_class(_BREAKS)}){_re2_class(SKIPPED, chr(34))}*{_re2_class(_TRIGGERS)}"
"""The same test for Arrow's RE2 (:func:`neutralise_arrow`): a cell start, or a break, then
skipped characters (or quotes) and a trigger. A superset of what :func:`neutralise` changes."""
_UNSAFE_CSV = re.compile("[\x00\ud800-\udfff]")
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_REPLACEMENT = "\ufffd"
_NUL = byte_set([0])


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet could take the whole of ``text`` for a formula (see the module
    docstring); :func:`neutralise` also looks inside a CSV cell."""
    if not text:
        return False
    first = text[0]
    if first != " " and first != "\xa0" and first.isprintable() and first.isascii():
        return first in "=+-@"  # the common case: a visible ASCII first character
    return _FORMULA_START.match(text) is not None


def neutralise(text: str) -> str:
    """``text`` made inert for a CSV cell: a ``'`` before every place where a spreadsheet may
    start a cell (its start, and after separators and line breaks) that could be taken for a
    formula; NUL → U+FFFD.

    Lone surrogates (which no UTF-8 file can hold) become U+FFFD as well, so writing never fails.
    """
    if not text:
        return text
    if "\x00" in text or not text.isprintable():
        text = _UNSAFE_CSV.sub(_REPLACEMENT, text)
    starts = [0, *(m.end() for m in _BREAK_RUN.finditer(text))]
    risky = [s for s in starts if _CELL_START.match(text, s)]
    if not risky:
        return text
    pieces, last = [], 0
    for start in risky:
        pieces += [text[last:start], "'"]
        last = start
    pieces.append(text[last:])
    return "".join(pieces)


def neutralise_arrow(texts: pa.Array) -> pa.Array:
    """:func:`neutralise` applied to every string of an Arrow array; nulls stay null.

    ``texts`` is a ``large_string`` array. A whole column at once: a vectorised scan (a NUL byte,
    or Arrow's RE2 version of the test) picks the few texts :func:`neutralise` could change and
    only those pass through it, so the result is exactly ``[neutralise(t) for t in texts]`` at a
    fraction of the cost. Lone surrogates cannot occur in Arrow strings (always valid UTF-8).
    """
    flags = flag_rows(texts, anywhere=_NUL)
    risky = pc.match_substring_regex(texts, _RISKY_RE2).fill_null(False)
    flags |= risky.to_numpy(zero_copy_only=False)
    return replace_where(texts, flags, neutralise)


def excel_text(text: str) -> str:
    """``text`` as an Excel cell can hold it: illegal XML characters → U+FFFD, length capped."""
    if not text.isprintable():
        text = _ILLEGAL_XML.sub(_REPLACEMENT, text)
    if len(text) > EXCEL_MAX_CHARS:
        marker = f" …[truncated, {len(text):,} characters]"
        text = text[: EXCEL_MAX_CHARS - len(marker)] + marker
    return text
