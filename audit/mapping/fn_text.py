"""String functions: Append, Left, Mid, StripSpaces, ToLower, ToUpper, NormalizeDiacritics, PCase,
Word, CStr, InStr, ConvertToBase64, ConvertToUTF8Hex, Redact.

Quotes are from the expression reference (MicrosoftDocs/entra-docs,
docs/identity/app-provisioning/functions-for-customizing-application-data.md). Unless a function's
entry says otherwise, a null source gives null: Entra does not flow the attribute. Lengths and
positions count Unicode code points (.NET counts UTF-16 units; they differ only outside the BMP).
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Callable

import pyarrow.compute as pc

from audit.mapping import _arrow as ar
from audit.mapping._args import Args
from audit.mapping.nodes import Constant, Identifier, Number

__all__ = ["TEXT_FUNCTIONS"]


def append(a: Args) -> ar.Array:
    """``Append(source, suffix)``: "appends the suffix to the end of it"; null if either is null."""
    return pc.binary_join_element_wise(a[0].text(), a[1].text(), ar.scalar(""))


def left(a: Args) -> ar.Array:
    """``Left(String, NumChars)``, as documented: "If numChars = 0, return empty string. If numChars
    < 0, return input string. If string is null, return empty string."
    """
    source, count = a[0].text(), a[1].constant_int()
    out = source if count < 0 else pc.utf8_slice_codeunits(source, 0, count)
    return pc.fill_null(out, ar.scalar(""))


def mid(a: Args) -> ar.Array:
    """``Mid(source, start, length)``: 1-based start; "If length ends outside the source string,
    function returns substring from start index until end". A start below 1 or a negative length
    has no documented result (.NET would throw): null.
    """
    source, start, length = a[0].text(), a[1].constant_int(), a[2].constant_int()
    if start < 1 or length < 0:
        return ar.nulls(a.size)
    return pc.utf8_slice_codeunits(source, start - 1, start - 1 + length)


def strip_spaces(a: Args) -> ar.Array:
    """``StripSpaces(source)``: "Removes all space (" ") characters" (only U+0020)."""
    return pc.replace_substring(a[0].text(), " ", "")


def to_lower(a: Args) -> ar.Array:
    """``ToLower(source, culture)``: invariant-culture, one-to-one case mapping. The culture
    argument is accepted and ignored (a Turkish culture's dotted/dotless i is not modelled).
    """
    return pc.utf8_lower(a[0].text())


def to_upper(a: Args) -> ar.Array:
    """``ToUpper(source, culture)``: like ToLower. ``ß`` stays ``ß`` as in .NET's invariant culture
    (Arrow would turn it into ``ẞ``); the culture argument is ignored.
    """
    source = a[0].text()
    parts = pc.split_pattern(source, "ß")
    upper = pc.utf8_upper(parts.values)
    rebuilt = type(parts).from_arrays(parts.offsets, upper, mask=pc.is_null(parts))
    return pc.binary_join(rebuilt, ar.scalar("ß"))


_SPECIAL_LETTERS = {"æ": "ae", "Æ": "AE", "ø": "oe", "Ø": "OE", "œ": "oe", "Œ": "OE", "ß": "ss"} | {
    "ł": "l",
    "Ł": "L",
    "ı": "i",
}
_LATIN_WITH_MARKS = r"([A-Za-zæøœÆØŒ])[\x{0300}-\x{036f}]+"


def normalize_diacritics(a: Args) -> ar.Array:
    """``NormalizeDiacritics(source)``: the documented table maps Latin letters with diacritics to
    the bare letter (``ä → a``, ``Ł → L``) and ``æ ø œ ß`` to ``ae oe oe ss``. Implemented as NFD,
    dropping combining marks after a Latin letter, those special letters, then NFC; other scripts
    (``й``, ``が``) keep their marks, which the table does not cover.
    """
    text = pc.utf8_normalize(a[0].text(), "NFD")
    text = pc.replace_substring_regex(text, _LATIN_WITH_MARKS, r"\1")
    for letter, plain in _SPECIAL_LETTERS.items():
        text = pc.replace_substring(text, letter, plain)
    return pc.utf8_normalize(text, "NFC")


def pcase(a: Args) -> ar.Array:
    """``PCase(source, wordSeparators)``: "converts the first character of each word in a string
    to upper case, and all other characters are converted to lower case". Without separators,
    every character that is not a letter, mark or digit separates words (the Unicode categories
    the doc lists for .NET ToTitleCase); with them, only the given characters do.
    """
    separators = a[1].constant_text() if a[1].present else None
    return ar.map_text(a[0].text(), lambda text: _proper_case(text, separators))


def _proper_case(text: str, separators: str | None) -> str:
    out: list[str] = []
    at_word_start = True
    for char in text:
        out.append(_one_to_one(char.upper() if at_word_start else char.lower(), char))
        at_word_start = _separates(char, separators)
    return "".join(out)


def _one_to_one(mapped: str, char: str) -> str:
    return mapped if len(mapped) == 1 else char


def _separates(char: str, separators: str | None) -> bool:
    if separators is not None:
        return char in separators
    return unicodedata.category(char)[0] not in "LMN"


def word(a: Args) -> ar.Array:
    """``Word(String, WordNumber, Delimiters)``: the n-th run of characters between delimiters
    (empty runs are not words). "If number < 1, returns empty string. If string is null, returns
    empty string. If string contains less than number words ... an empty string is returned."
    """
    number, delimiters = a[1].constant_int(), a[2].constant_text() or ""
    splitter = re.compile(f"[{re.escape(delimiters)}]") if delimiters else None
    source = pc.fill_null(a[0].text(), ar.scalar(""))
    return ar.map_text(source, lambda text: _nth_word(text, number, splitter))


def _nth_word(text: str, number: int, splitter: re.Pattern[str] | None) -> str:
    words = [w for w in (splitter.split(text) if splitter else [text]) if w]
    return words[number - 1] if 1 <= number <= len(words) else ""


def cstr(a: Args) -> ar.Array:
    """``CStr(value)``: "converts a value to a string"; every value here already is one."""
    return a[0].text()


def redact(a: Args) -> ar.Array:
    """``Redact(attribute/value)``: the value still flows; only provisioning logs hide it."""
    return a[0].value()


def convert_to_base64(a: Args) -> ar.Array:
    """``ConvertToBase64(source)``: "a Unicode base64 string", i.e. of the UTF-16LE bytes
    (``"Hello world!"`` gives ``"SABlAGwAbABvACAAdwBvAHIAbABkACEA"``).
    """
    return ar.map_text(
        a[0].text(), lambda text: base64.b64encode(text.encode("utf-16-le")).decode("ascii")
    )


def convert_to_utf8_hex(a: Args) -> ar.Array:
    """``ConvertToUTF8Hex(source)``: upper-case hex of the UTF-8 bytes (``48656C6C6F...``)."""
    return ar.map_text(a[0].text(), lambda text: text.encode("utf-8").hex().upper())


def instr(a: Args) -> ar.Array:
    """``InStr(value1, value2, start, compareType)``: 1-based position of value2 in value1 from
    ``start`` (default 1), ``"0"`` when absent; ``vbTextCompare`` (or 1) ignores case,
    ``vbBinaryCompare`` (or 0, the default) does not. Null if either value is null.
    """
    start = a[2].constant_int() if a[2].present else 1
    if start < 1:
        raise a.fail(f"argument start must be 1 or more, not {start}")
    fold = _text_compare(a)
    return ar.map_rows(
        lambda hay, needle: _find(hay, needle, start, fold), a[0].text(), a[1].text()
    )


def _text_compare(a: Args) -> bool:
    node = a[3].node
    if node is None:
        return False
    name = node.name if isinstance(node, Identifier) else a[3].constant_text()
    if isinstance(node, Number | Constant) and name in ("0", "1"):
        return name == "1"
    if name not in ("vbTextCompare", "vbBinaryCompare"):
        raise a.fail(f"argument compareType must be vbTextCompare or vbBinaryCompare, not {name!r}")
    return name == "vbTextCompare"


def _find(hay: str | None, needle: str | None, start: int, fold: bool) -> str | None:
    if hay is None or needle is None:
        return None
    if fold:
        hay, needle = hay.lower(), needle.lower()
    return str(hay.find(needle, start - 1) + 1)


TEXT_FUNCTIONS: dict[str, Callable[[Args], ar.Array]] = {
    "Append": append,
    "Left": left,
    "Mid": mid,
    "StripSpaces": strip_spaces,
    "ToLower": to_lower,
    "ToUpper": to_upper,
    "NormalizeDiacritics": normalize_diacritics,
    "PCase": pcase,
    "Word": word,
    "CStr": cstr,
    "Redact": redact,
    "ConvertToBase64": convert_to_base64,
    "ConvertToUTF8Hex": convert_to_utf8_hex,
    "InStr": instr,
}
