"""PowerShell text primitives for ``remediation.ps1`` and the rules' fix plans: inert literals, comments, checks.

Everything from the tenant is hostile. Values in code are single-quoted PowerShell literals
(:func:`ps_quote`), where PowerShell also treats the Unicode quotes U+2018..U+201B as ``'``; all
other tenant text appears only in single-line ``#`` comments (:func:`ps_comment`), which no CR, LF,
NEL, U+2028/U+2029, vertical tab or form feed can end early. Executable lines are only emitted for
GUID object ids (:func:`is_guid`) and conservative ASCII addresses (:func:`is_address`).

A 100,000-guest script calls these a few hundred thousand times, so each has a fast path for the
common case (printable text without quotes) that returns exactly what the general path would.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any, TypeGuard

import pandas as pd

__all__ = [
    "HOST",
    "as_text",
    "as_texts",
    "clean",
    "is_address",
    "is_guid",
    "ps_comment",
    "ps_comments",
    "ps_quote",
    "short",
]

_SINGLE_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(
    rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]+)"
)
HOST = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
"""A DNS host name with a letters-only top-level label (the tenant's initial domain)."""

_REPLACEMENT = "\ufffd"
_JOINERS = "\u200c\u200d"
_FIELD_LIMIT = 160
_PLAIN_START = frozenset(string.ascii_letters + string.digits + string.punctuation) - set("sS")
"""First characters that can neither be blank nor upper-case to the ``S`` of ``SIG #``."""


def ps_quote(value: str) -> str:
    """``value`` as an inert single-quoted PowerShell string literal.

    Every single-quote character PowerShell recognises (``'`` and U+2018, U+2019, U+201A, U+201B)
    is doubled, which PowerShell reads as one literal quote, so the value round-trips unchanged.
    Control, format, line/paragraph-separator and surrogate characters (NUL, CR, LF, NEL, bidi
    overrides, ...) become U+FFFD so a literal is always one visible line.
    """
    text = value if value.isprintable() else clean(value)
    if _SINGLE_QUOTES.search(text) is not None:
        text = _SINGLE_QUOTES.sub(r"\1\1", text)
    return "'" + text + "'"


def ps_comment(value: str, *, limit: int | None = 400) -> str:
    """``value`` as one ``#`` comment line that nothing in it can end early.

    Line breaks of every kind and other invisible characters become U+FFFD (see :func:`ps_quote`);
    text longer than ``limit`` characters is cut with a visible marker. A text that would form
    PowerShell's signature-block marker gets a prefix, so signing the script later stays sound.
    """
    if value[:1] in _PLAIN_START and value.isprintable() and (limit is None or len(value) <= limit):
        return ("# " + value).rstrip()  # the common case, as below: nothing to replace or mark
    text = value if value.isprintable() else clean(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f" …[truncated, {len(text):,} characters]"
    # ``text.lstrip().upper().startswith("SIG #")``, without copying a 10,000-character name
    # twice: upper-casing maps every character to one or more, so the first five decide.
    head = text.lstrip()[:5] if text[:1].isspace() else text[:5]
    if head.upper().startswith("SIG #"):
        text = "(text) " + text
    return ("# " + text).rstrip()


def ps_comments(values: list[str], *, limit: int = 400) -> list[str]:
    """``[ps_comment(v, limit=limit) for v in values]``, at a fraction of the cost for many values.

    The common case is checked once for the whole batch: every value printable, none longer than
    ``limit`` and none starting with a character that could begin ``SIG #`` (or a blank before
    it). Then each line is just ``"# " + value``, right-stripped; otherwise each value takes
    :func:`ps_comment`.
    """
    if not values:
        return []
    firsts = {v[:1] for v in values}
    if (
        "".join(values).isprintable()
        and max(map(len, values)) <= limit
        and not any(c.isspace() or c.upper().startswith("S") for c in firsts)
    ):
        return [("# " + v).rstrip() for v in values]
    return [ps_comment(v, limit=limit) for v in values]


def clean(value: str) -> str:
    """``value`` with every non-printable character replaced (spaces kept, tab → space)."""
    if value.isprintable():
        return value
    return "".join(_clean_char(c) for c in value)


def _clean_char(char: str) -> str:
    """One character made visible: Unicode spaces and tab → space, other invisibles → U+FFFD.

    Zero-width (non-)joiners stay: emoji and Indic names need them and they break no line.
    """
    if char.isprintable() or char in _JOINERS:
        return char
    if char == "\t" or unicodedata.category(char) == "Zs":
        return " "
    return _REPLACEMENT


def short(value: str, limit: int = _FIELD_LIMIT) -> str:
    """A field shortened for a comment, so the line's other fields stay visible."""
    return value if len(value) <= limit else value[:limit] + "…"


def as_text(value: Any) -> str | None:
    """A frame value as text; None for NA and empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    result = str(value)
    return result or None


def as_texts(value: Any) -> tuple[str, ...]:
    """A list-like frame value as a tuple of texts (NA → empty)."""
    if isinstance(value, list | tuple):
        return tuple(t for t in (as_text(v) for v in value) if t is not None)
    return ()


def is_guid(value: str | None) -> TypeGuard[str]:
    """True for a GUID in canonical 8-4-4-4-12 hex form."""
    return value is not None and _GUID.fullmatch(value) is not None


def is_address(value: str | None) -> TypeGuard[str]:
    """True for a conservative ASCII dot-atom address within the RFC 5321 length limits."""
    if value is None or len(value) > 254 or _ADDRESS.fullmatch(value) is None:
        return False
    return len(value.rsplit("@", 1)[0]) <= 64
