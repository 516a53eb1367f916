"""report.xlsx read back with openpyxl: sheets, every cell, order, widths, wrapping, print setup.

The expected cells come from :mod:`tests._excel_expected`, computed from the result without the
writer. LibreOffice opening the same kind of workbook: ``test_render_excel_libreoffice.py``.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest
from openpyxl.workbook.workbook import Workbook

from audit.analysis.diff import diff_results
from audit.analysis.result import AuditResult
from audit.render import write_xlsx
from audit.render.safe import EXCEL_MAX_CHARS, is_formula_like
from tests import _excel_expected as expected
from tests.factories import HOSTILE, make_result

_MILLISECOND = timedelta(milliseconds=1)
SHEETS = ["Summary", "Findings", "Guests", "Domains", "Rules", "Sources"]


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return make_result(60, seed=3)


@pytest.fixture(scope="module")
def path(result: AuditResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_xlsx(result, tmp_path_factory.mktemp("xlsx") / "report.xlsx")


@pytest.fixture(scope="module")
def book(path: Path) -> Workbook:
    return openpyxl.load_workbook(path)


def _header(sheet: object) -> list[str]:
    return [c.value for c in next(sheet.iter_rows(max_row=1))]  # type: ignore[attr-defined]


def _column(sheet: object, name: str) -> list[object]:
    index = _header(sheet).index(name)
    return [row[index] for row in sheet.iter_rows(min_row=2, values_only=True)]  # type: ignore[attr-defined]


def _cells(path: Path, read_only: bool = False) -> dict[str, list[list[object]]]:
    """Every table sheet's rows (header first), padded to the header's width."""
    book = openpyxl.load_workbook(path, read_only=read_only)
    out = {}
    for sheet in book.worksheets[1:]:
        found = [list(r) for r in sheet.iter_rows(values_only=True)]
        width = len(found[0])
        out[sheet.title] = [r + [None] * (width - len(r)) for r in found]
    book.close()
    return out


def assert_every_cell(result: AuditResult, path: Path) -> None:
    """The workbook's table sheets hold exactly the oracle's cells (normal and read-only)."""
    want = expected.rows(result)
    for read_only in (False, True):
        got = _cells(path, read_only)
        titles = [t for t in got if t.split(" (")[0] in want]
        for title in {t.split(" (")[0] for t in titles}:
            sheets = [t for t in titles if t.split(" (")[0] == title]
            for name in sheets:
                assert got[name][0] == expected.headers(title), name
            rows = [row for name in sheets for row in got[name][1:]]
            assert len(rows) == len(want[title]), title
            for number, (row, wanted) in enumerate(zip(rows, want[title], strict=True), 2):
                assert row == wanted or _near(row, wanted), (title, number)


def _near(row: list[object], wanted: list[object]) -> bool:
    """Equal cells, datetimes within a millisecond (spreadsheet serials round there)."""
    return len(row) == len(wanted) and all(
        a == b
        or (isinstance(a, datetime) and isinstance(b, datetime) and abs(a - b) <= _MILLISECOND)
        for a, b in zip(row, wanted, strict=True)
    )


def test_sheets(book: Workbook) -> None:
    assert book.sheetnames == SHEETS


def test_every_cell_as_the_result_holds_it(result: AuditResult, path: Path) -> None:
    assert_every_cell(result, path)


def test_every_cell_with_a_diff_and_split_sheets(tmp_path: Path) -> None:
    new = make_result(60, seed=4)
    result = replace(new, diff=diff_results(make_result(60, seed=2), new))
    path = write_xlsx(result, tmp_path / "split.xlsx", max_rows=17)
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames[:2] == ["Summary", "Changes"]
    assert [n for n in book.sheetnames if n.startswith("Guests")] == [
        "Guests",
        "Guests (2)",
        "Guests (3)",
        "Guests (4)",
    ]
    assert_every_cell(result, path)


def test_guests_worst_first_with_outcome_and_fix(book: Workbook, result: AuditResult) -> None:
    guests = book["Guests"]
    outcomes = _column(guests, "outcome")
    ranks = [expected.GUEST_ORDER.index(o) for o in outcomes]
    assert ranks == sorted(ranks)
    assert outcomes[0] == "blocked"
    ids = _column(guests, "object_id")
    original = result.guests["object_id"].tolist()
    for outcome in set(outcomes):  # the tenant's order within each outcome
        mine = [i for i, o in zip(ids, outcomes, strict=True) if o == outcome]
        assert mine == [i for i in original if i in set(mine)]
    remediation = dict(zip(result.rules["rule_id"], result.rules["remediation"], strict=True))
    for reasons, fix, outcome in zip(
        _column(guests, "reasons"), _column(guests, "fix"), outcomes, strict=True
    ):
        if outcome == "ready":
            assert fix is None
        else:
            assert fix == remediation[str(reasons).split("; ")[0]]


def test_findings_have_outcome_and_fix(book: Workbook, result: AuditResult) -> None:
    findings = book["Findings"]
    outcome_of = dict(zip(result.outcomes["object_id"], result.outcomes["outcome"], strict=True))
    remediation = dict(zip(result.rules["rule_id"], result.rules["remediation"], strict=True))
    rows = zip(
        _column(findings, "rule_id"),
        _column(findings, "object_id"),
        _column(findings, "outcome"),
        _column(findings, "fix"),
        strict=True,
    )
    for rule_id, object_id, outcome, fix in rows:
        assert outcome == outcome_of.get(object_id)
        assert fix == remediation[rule_id]


def test_table_sheets_frozen_filtered_and_printable(book: Workbook) -> None:
    for name in SHEETS[1:]:
        sheet = book[name]
        assert sheet.freeze_panes == "A2", name
        last = openpyxl.utils.get_column_letter(sheet.max_column)
        assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}", name
        assert all(c.font.b for c in next(sheet.iter_rows(max_row=1))), name
        assert sheet.page_setup.orientation == "landscape", name
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0), name
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, name
        assert sheet.print_title_rows == "$1:$1", name
        printed = expected.PRINTED.get(name)
        if printed:
            letter = openpyxl.utils.get_column_letter(printed)
            assert sheet.print_area == f"'{name}'!$A$1:${letter}${sheet.max_row}", name
    assert book["Summary"].page_setup.orientation == "landscape"


def test_widths_fit_dates_and_headers(book: Workbook) -> None:
    for sheet in book.worksheets[1:]:
        widths = {k: d.width for k, d in sheet.column_dimensions.items()}
        for index, name in enumerate(_header(sheet), 1):
            width = widths[openpyxl.utils.get_column_letter(index)]
            assert width >= 8, (sheet.title, name)
            cell = sheet.cell(row=2, column=index)
            if isinstance(cell.value, datetime):
                assert cell.number_format == "yyyy-mm-dd hh:mm:ss"
                assert width >= len("2025-03-14 09:26:53") + 2, (sheet.title, name)
    summary = book["Summary"]
    stamps = [c for row in summary.iter_rows() for c in row if isinstance(c.value, datetime)]
    assert stamps
    for cell in stamps:
        assert summary.column_dimensions[cell.column_letter].width >= 21


def test_long_text_wraps_and_rows_are_tall_enough(book: Workbook) -> None:
    for name, column, width in (("Findings", "fix", 54), ("Guests", "fix", 54)):
        sheet = book[name]
        index = _header(sheet).index(column) + 1
        assert sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width == width
        for row in range(2, sheet.max_row + 1):
            cell = sheet.cell(row=row, column=index)
            if cell.value is None:
                continue
            assert cell.alignment.wrap_text, (name, row)
            lines = -(-len(cell.value) // int(width * 1.1))
            height = sheet.row_dimensions[row].height
            assert (height or 15) >= 15 * lines, (name, row, height, lines)
    header = next(book["Guests"].iter_rows(max_row=1))
    assert all(c.alignment.wrap_text for c in header)


def test_no_formula_cells_anywhere(book: Workbook, path: Path) -> None:
    risky = 0
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type not in ("f", "e"), (sheet.title, cell.coordinate)
                if isinstance(cell.value, str) and is_formula_like(cell.value):
                    assert cell.quotePrefix, (sheet.title, cell.coordinate, cell.value)
                    risky += 1
    assert risky >= 7
    with zipfile.ZipFile(path) as archive:
        xml = b"".join(archive.read(n) for n in archive.namelist() if n.startswith("xl/work"))
    assert b"<f>" not in xml
    assert b"<f " not in xml


def test_hostile_names_readable_and_quoted(book: Workbook) -> None:
    cells = {}
    for row in book["Guests"].iter_rows(min_row=2):
        cells[row[0].value] = row[0]
    for hostile in HOSTILE:
        name = hostile.replace("\x00", "\ufffd").replace("\x07", "\ufffd")
        assert name in cells, name[:40]
    for risky in ('=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)"):
        assert cells[risky].data_type == "s"
        assert cells[risky].quotePrefix, risky
    assert cells["\t=1+1 tab-led"].quotePrefix
    assert cells["#N/A"].quotePrefix
    assert not cells["<script>alert(1)</script>"].quotePrefix


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


def test_summary(book: Workbook, result: AuditResult, path: Path) -> None:
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
    what_if = next(r for r in sheet.iter_rows() if r[0].value == "What-if")[1]
    assert what_if.alignment.wrap_text
    assert f"B{what_if.row}:D{what_if.row}" in {str(r) for r in sheet.merged_cells.ranges}
    assert sheet.row_dimensions[what_if.row].height >= 30
    with zipfile.ZipFile(path) as archive:
        chart = archive.read("xl/charts/chart1.xml").decode()
    assert '<c:barDir val="bar"/>' in chart
    assert "'Summary'!$B$" in chart
    assert '<a:srgbClr val="4472C4"/>' in chart  # explicit colours: the package has no theme


def test_package_is_consistent(path: Path) -> None:
    """Every part parses, has a content type, and every relationship points at a part."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        for name in names:
            ElementTree.fromstring(archive.read(name))
        types = ElementTree.fromstring(archive.read("[Content_Types].xml"))
        overrides = {e.get("PartName", "")[1:] for e in types if e.tag.endswith("Override")}
        assert {n for n in names if not n.endswith(".rels")} - {"[Content_Types].xml"} == overrides
        for rels in (n for n in names if n.endswith(".rels")):
            base = rels.split("_rels/")[0]  # the folder of the part the relationships are of
            for rel in ElementTree.fromstring(archive.read(rels)):
                target = posixpath.normpath(posixpath.join(base, rel.get("Target", "")))
                assert target in names, (rels, target)


def test_same_result_same_bytes(result: AuditResult, path: Path, tmp_path: Path) -> None:
    again = write_xlsx(result, tmp_path / "again.xlsx")
    assert again.read_bytes() == path.read_bytes()


def test_illegal_and_oversized_text(result: AuditResult, tmp_path: Path) -> None:
    guests = result.guests.copy()
    guests.loc[0, "display_name"] = "x" * 40_000
    guests.loc[1, "display_name"] = "\x00=1+1"
    path = write_xlsx(replace(result, guests=guests), tmp_path / "odd.xlsx")
    names = _column(openpyxl.load_workbook(path)["Guests"], "display_name")
    long = [n for n in names if isinstance(n, str) and n.startswith("xxx")]
    assert len(long[0]) == EXCEL_MAX_CHARS
    assert long[0].endswith("characters]")
    assert "\ufffd=1+1" in names


def test_owner_only_and_no_temporary_left(tmp_path: Path) -> None:
    path = write_xlsx(make_result(10), tmp_path / "report.xlsx")
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["report.xlsx"]


def test_empty_result(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(write_xlsx(make_result(0), tmp_path / "empty.xlsx"))
    assert book.sheetnames == SHEETS
    assert book["Guests"].max_row == 1
    assert _header(book["Guests"]) == expected.headers("Guests")


def test_max_rows_must_leave_room(result: AuditResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_rows"):
        write_xlsx(result, tmp_path / "x.xlsx", max_rows=1)
