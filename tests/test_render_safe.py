"""Formula-injection neutraliser and Excel text cleaner (audit.render.safe)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.render.safe import EXCEL_MAX_CHARS, excel_text, is_formula_like, neutralise

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("  =1+1", "'  =1+1"),
        ("\u00a0\u200b=1+1", "'\u00a0\u200b=1+1"),
        ("\n-1", "'\n-1"),
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


@given(st.text())
def test_neutralised_text_is_never_formula_like(text: str) -> None:
    out = neutralise(text)
    assert not is_formula_like(out)
    assert "\x00" not in out
    out.encode("utf-8")  # always writable
    if text and "\x00" not in text and text.isprintable() and not is_formula_like(text):
        assert out == text  # readable text passes unchanged


@given(st.text())
def test_neutralise_only_prefixes_or_replaces(text: str) -> None:
    out = neutralise(text)
    body = out[1:] if is_formula_like(text.replace("\x00", "\ufffd")) else out
    assert len(body) == len(text)


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
