"""report.xlsx's streamed cells and zip package: fast paths equal the exact path, odd values.

Whole workbooks of awkward values (the hostile export corpus, a frame of odd values of every
kind) are read back and compared cell by cell with :mod:`tests._excel_expected`. The fast
paths are checked against the exact path on generated values, the date serials against
openpyxl's ``to_excel`` (an independent implementation), and the zip writer's ZIP64 choice and
its failure handling (no file, no thread left) directly.
"""

from __future__ import annotations

import struct
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import to_excel

from audit._text import TEXT_LISTS
from audit._values import joined, naive_utc, py_values
from audit.analysis.result import AuditResult
from audit.render import write_xlsx
from audit.render.xlsx_arrow import TEXT, arrow_cells, line_counts, texts_of
from audit.render.xlsx_cells import ENCODERS, exact_cell, excel_serial, plain_value
from audit.render.xlsx_package import Streamed, write_package
from audit.render.xlsx_sheet import Column, column_letter, rows_xml, text_lines
from audit.render.xlsx_styles import CellStyles, cell_styles
from tests.factories import make_result
from tests.test_render_excel import assert_every_cell

# ---- results of awkward values ------------------------------------------------------------------


def hostile_corpus() -> AuditResult:
    """The hostile export folder (tests/data/hostile), collected offline and analysed."""
    import audit
    from audit.collectors.pipeline import CollectOptions
    from audit.config import AuditConfig
    from tests.make_hostile_corpus import TARGET

    config = AuditConfig(verified_domains=("hostile.example", "partner-a.example"))
    snapshot = audit.collect_sync(CollectOptions(from_export=str(TARGET), dns=False), config=config)
    return audit.analyze(snapshot, config)


ODD_TEXT = [
    "lone \ud800 surrogate",
    "a\uffffb\ufffe",
    "cr\rlf\r\nend",
    "trailing ",
    " leading",
    "\u00a0=1+1",
    "\u200b+1",
    "\uff1d1",
    "#N/A",
    "#DIV/0!",
    "#EXT# plain",
    "-",
    "=",
    "",
    "x" * 40_000,
    "a&b<c>d",
    "\x85next line",
    "tab\tinside",
    "new\nline",
    "emoji 🧨 & <b>",
    "\x00\x01\x1f",
    'O\'Brien "quoted"',
]
ODD_OTHER: list[Any] = [12, 1.5, True, np.nan, None, pd.NA]
ODD_LISTS: list[Any] = [
    [],
    ["a", None],
    np.array(["x", "y"]),
    np.array(["=1", "b"], dtype=object),
    ("t1", "t2"),
    "plain str",
    [1, 2],
    np.array([], dtype=object),
    [np.float64("nan")],
    ["a&b", "c\rd"],
    [" x "],
    None,
]


def odd_result() -> AuditResult:
    """A result whose frames hold every awkward value a column of each kind can meet."""
    result = make_result(40, seed=5)
    guests = result.guests.copy()
    n = len(guests)
    for name in ("display_name", "mail", "user_principal_name"):
        values = (ODD_TEXT + ODD_OTHER) * 2
        guests[name] = pd.Series(values[:n] + [None] * (n - len(values[:n])), dtype=object)
    guests["other_mails"] = pd.Series((ODD_LISTS * 4)[:n], dtype=object)
    created = guests["created"].copy()
    for i, stamp in enumerate(
        ["1900-01-01", "1900-02-28 23:59:59.999999", "1900-03-01", "1970-01-01"]
    ):
        created.iloc[i] = pd.Timestamp(stamp, tz="UTC")
    created.iloc[5] = pd.NaT
    guests["created"] = created
    guests["account_enabled"] = pd.array([None, True, False, *[True] * (n - 3)], dtype="boolean")
    domains = result.domains.copy()
    domains.loc[0, "guests"] = 2**52
    sources = [
        replace(result.sources[0], detail={}),
        replace(result.sources[1], detail={"a": "=1", "b": [1, None]}),
        *result.sources[2:],
    ]
    return replace(result, guests=guests, domains=domains, sources=sources)


def test_every_cell_of_the_hostile_corpus(tmp_path: Path) -> None:
    result = hostile_corpus()
    assert_every_cell(result, write_xlsx(result, tmp_path / "report.xlsx"))


def test_every_cell_of_odd_values(tmp_path: Path) -> None:
    result = odd_result()
    path = write_xlsx(result, tmp_path / "odd.xlsx")
    assert_every_cell(result, path)
    book = openpyxl.load_workbook(path)
    sheet = book["Guests"]
    header = [c.value for c in sheet[1]]
    letter = openpyxl.utils.get_column_letter(header.index("display_name") + 1)
    names = {c.value: c for c in sheet[letter]}
    assert "cr\rlf\r\nend" in names
    assert "lone \ufffd surrogate" in names
    assert "a\ufffdb\ufffd" in names
    for risky in ("\u00a0=1+1", "\u200b+1", "\uff1d1", "#N/A", "#DIV/0!", "-", "="):
        assert names[risky].quotePrefix, risky
        assert names[risky].data_type == "s", risky
    assert not names["#EXT# plain"].quotePrefix
    assert names["12"].data_type == "s"  # text in a text column, whatever it looks like
    with zipfile.ZipFile(path) as archive:
        xml = b"".join(archive.read(n) for n in archive.namelist() if "worksheets/sheet" in n)
    assert b"<f>" not in xml
    assert b"<f " not in xml
    assert b"&#13;" in xml


# ---- fast paths against the exact path ---------------------------------------------------------

_STYLES = CellStyles(styled={"high": 7, "ready": 8, "header": 4}, quoted=11, datetime=3)
_SPECIAL = st.sampled_from(
    ["=", "+", "-", "@", "#", " ", "\t", "\r", "\n", "&", "<", ">", "\x00", "\x0b", "\ud800",
     "\udfff", "\ufffe", "\uffff", "\u200b", "\u00a0", "\u3000", "\uff1d", "#N/A", "high",
     "ready", "header", "é", "😀", "\u202e", "\x85"]
)  # fmt: skip
_TEXT = st.lists(st.one_of(_SPECIAL, st.text(max_size=6)), max_size=5).map("".join)
_LONG = st.integers(32_760, 32_780).map(lambda n: "a" * n)
_VALUE = st.one_of(_TEXT, _TEXT, _LONG, st.none(), st.integers(-(2**62), 2**62), st.booleans())
_LIST = st.one_of(
    st.lists(st.one_of(_TEXT, st.none()), max_size=4),
    st.lists(_TEXT, max_size=4).map(lambda v: np.array(v, dtype=object)),
    _TEXT,
    st.none(),
)


def _exact(series: pd.Series, kind: str, styles: CellStyles = _STYLES) -> list[str]:
    nums = [str(n) for n in range(2, len(series) + 2)]
    values = (
        py_values(series)
        if series.dtype != object
        else [plain_value(v) for v in series.astype(object).where(series.notna(), None).tolist()]
    )
    return [exact_cell('<c r="C', n, kind, v, styles) for n, v in zip(nums, values, strict=True)]


def _fast(series: pd.Series, kind: str, styles: CellStyles = _STYLES) -> list[str]:
    nums = [str(n) for n in range(2, len(series) + 2)]
    return ENCODERS[kind](series, '<c r="C', nums, styles)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_VALUE, max_size=20), st.sampled_from(["text", "styled"]), st.booleans())
def test_text_fast_path_is_the_exact_path(values: list[Any], kind: str, wrap: bool) -> None:
    series = pd.Series(values, dtype=object)
    styles = _STYLES.wrapped() if wrap else _STYLES
    assert _fast(series, kind, styles) == _exact(series, kind, styles)


@settings(max_examples=200, deadline=None)
@given(st.lists(_LIST, max_size=20))
@example([["a", None]] * 5)  # a list the fast join refuses, among few distinct values
@example([np.array(["x"], dtype=object), "abc", [], None])
def test_list_fast_path_is_the_exact_path(values: list[Any]) -> None:
    holder = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        holder[i] = value
    series = pd.Series(holder, dtype=object)
    assert _fast(series, "list") == _exact(series, "list")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=20))
def test_string_dtype_fast_path_is_the_exact_path(values: list[str]) -> None:
    series = pd.Series(values, dtype="str")
    for kind in ("text", "styled", "list"):
        assert _fast(series, kind) == _exact(series, kind), kind


def _utf8(text: str) -> bool:
    """Whether UTF-8 (and so Arrow) can hold ``text`` (a lone surrogate cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _arrow(series: pd.Series, kind: str, styles: CellStyles = _STYLES) -> list[str] | None:
    """The Arrow path's cells, or None where it leaves the column to the Python path."""
    nums = [str(n) for n in range(2, len(series) + 2)]
    texts = texts_of(series, kind)
    if texts is None:
        return None
    cells = arrow_cells(texts, kind, '<c r="C', nums, pa.array(nums, TEXT), styles)
    return [str(c) for c in cells.to_pylist()]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_VALUE, max_size=40), st.sampled_from(["text", "styled"]), st.booleans())
@example(["plain", "x&y", "=1", "é", None, "", "a "] * 6, "text", False)  # past the 4:1 test
def test_text_arrow_path_is_the_exact_path(values: list[Any], kind: str, wrap: bool) -> None:
    styles = _STYLES.wrapped() if wrap else _STYLES
    series = pd.Series(values, dtype=object)
    cells = _arrow(series, kind, styles)
    if all(v is None or (type(v) is str and _utf8(v)) for v in values):
        assert cells is not None  # text UTF-8 can hold: the kernels take it
    assert cells is None or cells == _exact(series, kind, styles)
    texts = [v for v in values if type(v) is str and _utf8(v)]
    strings = pd.Series(texts, dtype="str")
    assert _arrow(strings, kind, styles) == _exact(strings, kind, styles)


@settings(max_examples=200, deadline=None)
@given(st.lists(_LIST, max_size=30))
def test_list_arrow_path_is_the_exact_path(values: list[Any]) -> None:
    holder = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        holder[i] = value
    series = pd.Series(holder, dtype=object)
    cells = _arrow(series, "list")
    assert cells is None or cells == _exact(series, "list")
    lists = [v for v in values if isinstance(v, list) and all(type(i) is str for i in v)]
    lists = [v for v in lists if all(_utf8(i) for i in v)]
    held = pd.Series(pa.array([*lists, None], TEXT_LISTS), dtype=pd.ArrowDtype(TEXT_LISTS))
    assert _arrow(held, "list") == _exact(held, "list")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(_TEXT, _LONG, st.none()), max_size=20), st.integers(1, 80))
def test_arrow_line_counts_are_text_lines(values: list[str | None], width: int) -> None:
    values = [v for v in values if v is None or _utf8(v)]
    counts = line_counts(pa.array(values, TEXT), max(1, int(width * 1.1)))
    assert counts.tolist() == [1 if v is None else text_lines(v, width) for v in values]


def test_exact_path_decisions() -> None:
    cell = exact_cell('<c r="A', "2", "text", '=HYPERLINK("x")', _STYLES)
    assert cell == '<c r="A2" s="11" t="inlineStr"><is><t>=HYPERLINK("x")</t></is></c>'
    assert exact_cell('<c r="A', "2", "text", "", _STYLES) == ""
    assert exact_cell('<c r="A', "2", "list", ["a", "b"], _STYLES).endswith("<t>a; b</t></is></c>")
    assert ' xml:space="preserve">x </t>' in exact_cell('<c r="A', "2", "text", "x ", _STYLES)
    assert "<t>a&#13;&amp;&lt;&gt;</t>" in exact_cell('<c r="A', "2", "text", "a\r&<>", _STYLES)
    assert exact_cell('<c r="A', "2", "int", 2**60, _STYLES).endswith(
        "<v>1.152921504606847e+18</v></c>"
    )
    assert exact_cell('<c r="A', "2", "bool", np.True_, _STYLES) == '<c r="A2" t="b"><v>1</v></c>'
    assert exact_cell('<c r="A', "2", "styled", "high", _STYLES).startswith('<c r="A2" s="7" t=')
    wrapped = _STYLES.wrapped()
    assert exact_cell('<c r="A', "2", "text", "x", wrapped).startswith(
        f'<c r="A2" s="{wrapped.text}"'
    )
    assert joined(["a", None], "; ") == "a; "


def test_datetime_serials_are_excels() -> None:
    """Serials equal openpyxl's ``to_excel`` (an independent implementation), to the digit."""
    rng = np.random.default_rng(7)
    base = datetime(1899, 12, 1, tzinfo=UTC)
    stamps = [base + timedelta(microseconds=int(x)) for x in rng.integers(0, 2**62 // 1000, 3000)]
    stamps += [
        datetime(1900, 2, 28, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1900, 3, 1, tzinfo=UTC),
    ]
    want = [f"{to_excel(naive_utc(s)):.16g}" for s in stamps]
    assert [excel_serial(naive_utc(s)) for s in stamps] == want  # type: ignore[arg-type]
    series = pd.Series([*stamps, None], dtype="datetime64[us, UTC]")
    nums = [str(n) for n in range(len(series))]
    fast = ENCODERS["datetime"](series, '<c r="A', nums, _STYLES)
    assert [c.split("<v>")[1].split("<")[0] if c else None for c in fast] == [*want, None]
    other_zone = series.dt.tz_convert("Asia/Kolkata")
    assert ENCODERS["datetime"](other_zone, '<c r="A', nums, _STYLES) == fast


def test_rows_are_numbered_chunked_ordered_and_tall_enough() -> None:
    styles = cell_styles()
    long = "word " * 30  # 150 characters
    columns = [
        Column(pd.Series(["x", None, "=1"], dtype=object), "text", styles),
        Column(pd.Series([1, 2, None], dtype=object), "int", styles),
        Column(pd.Series([None, long, "a\nb\nc"], dtype=object), "text", styles.wrapped(), 20),
    ]
    chunks = list(rows_xml(columns, positions=np.array([2, 0, 1]), first_row=5, chunk_rows=2))
    assert [rows for rows, _ in chunks] == [2, 1]
    xml = b"".join(x for _, x in chunks).decode()
    wrap, quoted = styles.wrapped().text, styles.quoted
    assert xml == (
        f'<row r="5" ht="45" customHeight="1"><c r="A5" s="{quoted}" t="inlineStr"><is><t>=1</t>'
        f'</is></c><c r="C5" s="{wrap}" t="inlineStr"><is><t>a\nb\nc</t></is></c></row>'
        '<row r="6"><c r="A6" t="inlineStr"><is><t>x</t></is></c><c r="B6" t="n"><v>1</v></c>'
        f'</row><row r="7" ht="{15 * text_lines(long, 20):g}" customHeight="1">'
        f'<c r="B7" t="n"><v>2</v></c><c r="C7" s="{wrap}" t="inlineStr"><is>'
        f'<t xml:space="preserve">{long}</t></is></c></row>'
    )
    assert text_lines(long, 20) == 7  # 150 characters at 22 a line
    with pytest.raises(ValueError, match="unknown cell kind"):
        list(rows_xml([Column(columns[0].values, "formula", styles)]))


def test_column_letters() -> None:
    assert [column_letter(n) for n in (1, 26, 27, 52, 53, 702, 703, 16384)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD",
    ]  # fmt: skip


# ---- the zip package ----------------------------------------------------------------------------


def _rows(count: int, width: int, first: int = 2) -> Iterator[tuple[int, bytes]]:
    for start in range(first, first + count, 10):
        end = min(start + 10, first + count)
        cells = "".join(
            f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{"y" * width}</t></is></c></row>'
            for n in range(start, end)
        )
        yield end - start, cells.encode()


def _zip64_parts(path: Path) -> set[str]:
    """Entries whose local header carries a ZIP64 extra field."""
    found = set()
    with zipfile.ZipFile(path) as archive, path.open("rb") as raw:
        for info in archive.infolist():
            raw.seek(info.header_offset)
            header = raw.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            raw.seek(info.header_offset + 30 + name_len)
            extra = raw.read(extra_len)
            while len(extra) >= 4:
                kind, size = struct.unpack("<HH", extra[:4])
                if kind == 1:
                    found.add(info.filename)
                extra = extra[4 + size :]
    return found


def _parts(big: Any, total: int = 200) -> dict[str, bytes | Streamed]:
    return {
        "small.txt": b"fixed part",
        "big.xml": Streamed(b"<head>", big, b"</head>", total),
        "other.xml": Streamed(b"<o>", lambda: _rows(5, 5), b"</o>", 5),
    }


def test_zip64_only_where_a_part_needs_it(tmp_path: Path) -> None:
    target = tmp_path / "out.zip"
    write_package(target, _parts(lambda: _rows(200, 50)), zip64_above=5_000)
    assert _zip64_parts(target) == {"big.xml"}
    with zipfile.ZipFile(target) as archive:
        assert archive.namelist() == ["small.txt", "big.xml", "other.xml"]
        body = archive.read("big.xml")
    assert body.startswith(b'<head><row r="2">')
    assert body.endswith(b"</row></head>")
    assert body == b"<head>" + b"".join(x for _, x in _rows(200, 50)) + b"</head>"
    write_package(target, _parts(lambda: _rows(200, 50)))
    assert _zip64_parts(target) == set()


def test_a_part_that_outgrows_its_estimate_is_written_again_with_zip64(tmp_path: Path) -> None:
    def growing() -> Iterator[tuple[int, bytes]]:
        yield from _rows(10, 1)  # the first chunk makes the part look small
        yield from _rows(100, 100, first=12)

    target = tmp_path / "out.zip"
    write_package(target, _parts(growing, 110), zip64_above=5_000)
    assert _zip64_parts(target) == {"big.xml"}
    with zipfile.ZipFile(target) as archive:
        assert archive.read("big.xml").count(b"<row ") == 110


def test_a_failing_row_source_leaves_no_thread(tmp_path: Path) -> None:
    def failing() -> Iterator[tuple[int, bytes]]:
        yield from _rows(30, 10)
        raise RuntimeError("source broke")

    threads = threading.active_count()
    with pytest.raises(RuntimeError, match="source broke"):
        write_package(tmp_path / "out.zip", _parts(failing, 40))
    assert threading.active_count() == threads


def test_a_failing_writer_leaves_no_file(tmp_path: Path) -> None:
    result = make_result(10)
    broken = replace(result, rules=result.rules.drop(columns=["remediation"]).assign(flagged="x"))
    with pytest.raises(ValueError, match="invalid literal for int"):
        write_xlsx(broken, tmp_path / "report.xlsx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_write_error_on_the_compressor_thread_is_raised() -> None:
    threads = threading.active_count()
    with pytest.raises(OSError, match="No space left"):
        write_package(Path("/dev/full"), _parts(lambda: _rows(3000, 200), 3000))
    assert threading.active_count() == threads
