"""report.xlsx: sheets, frozen header, autofilter, typed cells, inert text, overflow sheets."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl.workbook.workbook import Workbook

from audit.analysis.result import AuditResult
from audit.render import write_xlsx
from audit.render.safe import EXCEL_MAX_CHARS
from tests.factories import HOSTILE, make_result

SHEETS = ["Summary", "Findings", "Guests", "Domains", "Rules", "Sources"]


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return make_result(60, seed=3)


@pytest.fixture(scope="module")
def book(result: AuditResult, tmp_path_factory: pytest.TempPathFactory) -> Workbook:
    path = write_xlsx(result, tmp_path_factory.mktemp("xlsx") / "report.xlsx")
    return openpyxl.load_workbook(path)


def _header(sheet: object) -> list[str]:
    return [c.value for c in next(sheet.iter_rows(max_row=1))]  # type: ignore[attr-defined]


def _column(sheet: object, name: str) -> list[object]:
    index = _header(sheet).index(name)
    return [row[index] for row in sheet.iter_rows(min_row=2, values_only=True)]  # type: ignore[attr-defined]


def test_sheets(book: Workbook) -> None:
    assert book.sheetnames == SHEETS


def test_table_sheets_have_frozen_header_filter_and_widths(book: Workbook) -> None:
    for name in SHEETS[1:]:
        sheet = book[name]
        assert sheet.freeze_panes == "A2", name
        last = openpyxl.utils.get_column_letter(sheet.max_column)
        assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}", name
        assert sheet.column_dimensions["A"].width > 8, name
        assert all(c.font.b for c in next(sheet.iter_rows(max_row=1))), name


def test_no_formula_cells_anywhere(book: Workbook) -> None:
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                assert cell.data_type != "e", (sheet.title, cell.coordinate, cell.value)


def test_hostile_names_readable_and_quoted(book: Workbook) -> None:
    sheet = book["Guests"]
    col = _header(sheet).index("display_name") + 1
    cells = [sheet.cell(row=2 + i, column=col) for i in range(len(HOSTILE))]
    expected = [h.replace("\x00", "\ufffd").replace("\x07", "\ufffd") for h in HOSTILE]
    assert [c.value for c in cells] == expected
    by_value = {c.value: c for c in cells}
    for risky in ('=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)"):
        assert by_value[risky].data_type == "s"
        assert by_value[risky].quotePrefix, risky
    assert by_value["\t=1+1 tab-led"].quotePrefix
    assert by_value["#N/A"].quotePrefix
    assert not by_value["<script>alert(1)</script>"].quotePrefix


def test_typed_cells(book: Workbook, result: AuditResult) -> None:
    guests = book["Guests"]
    created = _column(guests, "created")
    assert all(isinstance(v, datetime) and v.tzinfo is None for v in created)
    first = result.guests["created"].iloc[0]
    assert created[0] == first.tz_convert("UTC").tz_localize(None).to_pydatetime()
    assert {type(v) for v in _column(guests, "account_enabled")} <= {bool, type(None)}
    domains = book["Domains"]
    assert all(isinstance(v, int) for v in _column(domains, "guests"))
    rules = book["Rules"]
    assert all(isinstance(v, int) for v in _column(rules, "flagged"))
    assert _column(guests, "last_sign_in") == [None] * len(result.guests)


def test_severity_and_outcome_fills(book: Workbook) -> None:
    findings = book["Findings"]
    index = _header(findings).index("severity")
    colours = {}
    for row in findings.iter_rows(min_row=2):
        colours.setdefault(row[index].value, row[index].fill.fgColor.rgb)
    assert colours["high"].endswith("FFC7CE")
    assert colours["medium"].endswith("FFEB9C")
    assert len(set(colours.values())) == len(colours)
    guests = book["Guests"]
    index = _header(guests).index("outcome")
    fills = {r[index].value: r[index].fill.fgColor.rgb for r in guests.iter_rows(min_row=2)}
    assert fills["ready"].endswith("C6EFCE")
    assert fills["blocked"].endswith("FFC7CE")


def test_summary(book: Workbook, result: AuditResult) -> None:
    sheet = book["Summary"]
    rows = {r[0]: r[1:] for r in sheet.iter_rows(values_only=True) if r and r[0]}
    assert rows["Tenant"][0] == "Contoso <img src=x onerror=alert(3)>"
    assert rows["Guests"][0] == 60
    assert rows["Generated (UTC)"][0] == datetime(2025, 3, 14, 9, 26, 53)
    for outcome, count in result.outcome_counts().items():
        assert rows[outcome][0] == count
    assert rows["What-if"][0].startswith("Switching the e-mail mapping")
    warnings = [r[1] for r in sheet.iter_rows(values_only=True) if r[0] == "Warning"]
    assert any("AuditLog.Read.All" in w for w in warnings)
    assert len(sheet._charts) == 1


def test_rows_and_sources(book: Workbook, result: AuditResult) -> None:
    assert book["Findings"].max_row == len(result.findings) + 1
    assert book["Guests"].max_row == len(result.guests) + 1
    assert book["Rules"].max_row == len(result.rules) + 1
    states = _column(book["Sources"], "state")
    assert "failed" in states
    details = _column(book["Sources"], "detail")
    assert '{"status":403}' in details


def test_long_sheets_continue_on_numbered_sheets(result: AuditResult, tmp_path: Path) -> None:
    path = write_xlsx(result, tmp_path / "split.xlsx", max_rows=26)
    book = openpyxl.load_workbook(path)
    guest_sheets = [n for n in book.sheetnames if n.startswith("Guests")]
    assert guest_sheets == ["Guests", "Guests (2)", "Guests (3)"]
    ids = [v for n in guest_sheets for v in _column(book[n], "object_id")]
    assert ids == list(result.guests["object_id"])
    assert all(book[n].freeze_panes == "A2" for n in guest_sheets)
    assert book["Guests (3)"].auto_filter.ref.endswith("11")


def test_illegal_and_oversized_text(result: AuditResult, tmp_path: Path) -> None:
    guests = result.guests.copy()
    guests.loc[0, "display_name"] = "x" * 40_000
    guests.loc[1, "display_name"] = "\x00=1+1"
    path = write_xlsx(replace(result, guests=guests), tmp_path / "odd.xlsx")
    sheet = openpyxl.load_workbook(path)["Guests"]
    names = _column(sheet, "display_name")
    assert len(names[0]) == EXCEL_MAX_CHARS
    assert names[0].endswith("characters]")
    assert names[1] == "\ufffd=1+1"


def test_empty_result(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(write_xlsx(make_result(0), tmp_path / "empty.xlsx"))
    assert book.sheetnames == SHEETS
    assert book["Guests"].max_row == 1
