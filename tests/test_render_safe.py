"""Formula-injection neutraliser and Excel text cleaner (audit.render.safe)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.render.safe import EXCEL_MAX_CHARS, excel_text, is_formula_like, neutralise

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# U+001C-U+001E also break lines (Python's splitlines), U+001F does not.
_SEPARATOR_CONTROLS = [(f"{chr(c)}=1", f"'{chr(c)}'=1") for c in range(0x1C, 0x1F)] + [
    ("\x1f=1", "'\x1f=1")
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1+1", "'\t'=1+1"),  # a tab also starts a cell (tab-separated import)
        ("\r=1+1", "'\r'=1+1"),
        ("  =1+1", "'  =1+1"),
        ("\u00a0\u200b=1+1", "'\u00a0\u200b=1+1"),
        ("\n-1", "'\n'-1"),
        ("RT1;=1+1;x", "RT1;'=1+1;x"),  # a ';' locale cuts the cell there
        ("a, +1", "a,' +1"),
        ("a\tb\t@x", "a\tb\t'@x"),
        ("line1\n=2+3", "line1\n'=2+3"),  # a line start inside a quoted cell
        ("x\r\n=1", "x\r\n'=1"),  # one apostrophe per run of breaks
        ("x\u2028=1", "x\u2028'=1"),
        ('a;"=1', "a;'\"=1"),  # a quote the importer may strip
        ("\u0085=1", "'\u0085'=1"),
        ("\u00ad=1", "'\u00ad=1"),
        ("\u061c=1", "'\u061c=1"),
        *_SEPARATOR_CONTROLS,
        ("a;b, c", "a;b, c"),
        ("＝1+1", "'＝1+1"),
        ("Anna Smith", "Anna Smith"),
        ("anna@example.com", "anna@example.com"),
        ("a=b", "a=b"),
        ("", ""),
        ("  plain", "  plain"),
        ("nul\x00byte", "nul\ufffdbyte"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("emoji 🧨", "emoji 🧨"),
    ],
)
def test_neutralise(raw: str, expected: str) -> None:
    assert neutralise(raw) == expected


_BREAKS = re.compile("[,;\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
_PIECES = st.text(alphabet=st.sampled_from(',;\t\r\n\x85\u2028 \u00a0\u00ad"=+-@x'), max_size=12)


def _cells(text: str) -> list[str]:
    """Every cell a spreadsheet could cut ``text`` into: at any separator or line break (with
    or without a quote it strips)."""
    return [piece.lstrip('"') for piece in [text, *_BREAKS.split(text)]]


@given(st.one_of(st.text(), _PIECES))
def test_neutralised_text_has_no_formula_like_cell(text: str) -> None:
    out = neutralise(text)
    assert not is_formula_like(out)
    assert not any(is_formula_like(cell) for cell in _cells(out)), out
    assert "\x00" not in out
    out.encode("utf-8")  # always writable
    if text.isprintable() and not any(is_formula_like(cell) for cell in _cells(text)):
        assert out == text  # readable text passes unchanged


@given(st.one_of(st.text(), _PIECES))
def test_neutralise_only_inserts_apostrophes_or_replaces(text: str) -> None:
    out = neutralise(text)
    assert out.replace("'", "") == text.replace("\x00", "\ufffd").replace("'", "")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("nul\x00byte\x07bell\x1f", "nul\ufffdbyte\ufffdbell\ufffd"),
        ("tab\tcr\rlf\n", "tab\tcr\rlf\n"),
        ("\ufffe\uffff", "\ufffd\ufffd"),
        ("rtl\u202eoverride", "rtl\u202eoverride"),
    ],
)
def test_excel_text_replaces_illegal_xml(raw: str, expected: str) -> None:
    assert excel_text(raw) == expected


def test_excel_text_caps_length_visibly() -> None:
    out = excel_text("x" * 40_000)
    assert len(out) == EXCEL_MAX_CHARS
    assert out.endswith("[truncated, 40,000 characters]")
    assert excel_text("y" * EXCEL_MAX_CHARS) == "y" * EXCEL_MAX_CHARS


@given(st.text(max_size=200))
def test_excel_text_is_always_legal(text: str) -> None:
    assert not _ILLEGAL_XML.search(excel_text(text))
