"""Text for a terminal: tenant text never reaches it raw.

Display names, domain names, file names and error texts can hold escape sequences (``ESC ]0;`` sets
the window title, ``ESC [2K`` erases the line), carriage returns and line breaks that forge lines,
bidi overrides that reorder what is shown, and C1 controls some terminals obey. Every line the
command line prints passes through :func:`terminal`, and every JSON document through
:func:`json_text`, so such characters are shown as escapes and never acted on.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["json_text", "terminal"]


def terminal(text: str) -> str:
    """``text`` as one safe terminal line: every character that is not printable (controls, line
    and paragraph separators, format characters such as bidi overrides, unassigned code points)
    shown as a Python escape (``\\x1b``, ``\\u202e``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def json_text(document: Any) -> str:
    """``document`` as indented JSON for a terminal: what orjson leaves raw and a terminal could
    act on (DEL, C1 controls, separators, format characters) written as ``\\uXXXX`` escapes, so
    the text stays valid JSON with the same value."""
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    return "".join(c if c.isprintable() or c == "\n" else _json_escape(c) for c in text)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
