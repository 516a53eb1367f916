"""report.xlsx opened by a real spreadsheet program: LibreOffice Calc, headless (``soffice``).

- The 100,000-guest workbook converted to CSV, every sheet (LibreOffice 7.2+: the CSV filter's
  12th option, sheet number ``-1``, writes each sheet to ``<name>-<sheet>.csv``), and every cell
  compared with what the result holds (:mod:`tests._excel_expected`), as LibreOffice shows it.
- Hostile tenants (the factory's payloads, a diff, the hostile export corpus) converted to flat
  ODF (``.fods``), LibreOffice's own XML: no cell is a formula after import, every
  formula-like text is a string cell with its exact text, dates, numbers and booleans are typed.
- A printout (PDF): landscape pages, one page wide, the header row on every page, only the
  printed columns of wide sheets, and no ``###`` anywhere (a value too wide for its column).

CSV filter options: https://help.libreoffice.org/latest/en-US/text/shared/guide/csv_params.html
Skipped where ``soffice`` is missing, except in CI (``CI=true``; .ci/run installs Debian's
``libreoffice-calc-nogui``), where that fails.
"""

from __future__ import annotations

import csv
import io
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import pytest
from pdfminer.high_level import extract_pages
from pdfminer.layout import LTComponent, LTCurve, LTFigure, LTPage, LTTextContainer

from audit.analysis.diff import diff_results
from audit.analysis.result import AuditResult
from audit.render import write_xlsx
from audit.render.safe import excel_text, is_formula_like
from tests import _excel_expected as expected
from tests._libreoffice import require_soffice
from tests.factories import HOSTILE, make_result
from tests.test_render_excel_fast import hostile_corpus

# Comma, double quote, UTF-8, from line 1, (cell formats), (language), quote all text, (detect
# special numbers), cell contents as shown, no formulas, no trimming, every sheet to its own file.
_EVERY_SHEET = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
# LibreOffice keeps a workbook's boolean cell as its own TRUE() or FALSE() function (an import
# choice of its xlsx filter): those are booleans here, any other formula a failure.
_BOOLEANS = frozenset({"of:=TRUE()", "of:=FALSE()"})


@pytest.fixture(scope="module")
def soffice() -> str:
    return require_soffice()


def convert(soffice: str, path: Path, target: str, out: Path, timeout: float = 600) -> Path:
    """``soffice --headless --convert-to target`` with a profile of its own; the output folder."""
    profile = (out.parent / f"{out.name}-profile").as_uri()
    done = subprocess.run(
        [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", target,
         "--outdir", str(out), str(path)],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert any(out.iterdir()), f"LibreOffice wrote nothing: {done.stdout} {done.stderr}"
    return out


def _crlf(text: str) -> str:
    """A CR LF pair as LibreOffice reads it in a cell: one line break (a lone CR stays)."""
    return text.replace("\r\n", "\n")


def _lines(text: str) -> str:
    """Line breaks as LibreOffice keeps them in cells (CR and CRLF read as LF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---- 100,000 guests, every cell ------------------------------------------------------------------


@pytest.mark.slow
def test_libreoffice_reads_every_cell_of_100000_guests(soffice: str, tmp_path: Path) -> None:
    result = make_result(100_000, seed=1)
    path = write_xlsx(result, tmp_path / "report.xlsx")
    started = time.perf_counter()
    out = convert(soffice, path, _EVERY_SHEET, tmp_path / "csv", timeout=900)
    seconds = time.perf_counter() - started
    want = expected.rows(result)
    files = {p.name.removeprefix("report-").removesuffix(".csv"): p for p in out.iterdir()}
    assert sorted(files) == sorted(["Summary", *want])
    for title, rows in want.items():
        text = files[title].read_text(encoding="utf-8")
        got = list(csv.reader(io.StringIO(text, newline="")))
        assert got[0] == expected.headers(title), title
        assert len(got) == len(rows) + 1, title
        for number, (row, wanted) in enumerate(zip(got[1:], rows, strict=True), 2):
            shown = [_lines(expected.shown(v)) for v in wanted]
            assert [_lines(v) for v in row] == shown, (title, number)
    lines = files["Summary"].read_text(encoding="utf-8").splitlines()
    summary = {r[0]: r[1:] for r in csv.reader(lines) if r}
    assert summary["Guests"][0] == "100000"
    assert summary["Generated (UTC)"][0] == "2025-03-14 09:26:53"
    for outcome, count in result.outcome_counts().items():
        assert summary[outcome][0] == str(count)
    print(f"LibreOffice converted 100,000 guests to CSV in {seconds:.1f} s")


# ---- hostile text: no formula after import, exact text, typed cells -----------------------------


def _hostile_results() -> dict[str, AuditResult]:
    new = make_result(len(HOSTILE) + 20, seed=2)
    with_diff = replace(new, diff=diff_results(make_result(5, seed=1, hostile=False), new))
    return {"factory with a diff": with_diff, "export corpus": hostile_corpus()}


@pytest.fixture(scope="module", params=["factory with a diff", "export corpus"])
def hostile(
    request: pytest.FixtureRequest, soffice: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[AuditResult, dict[str, list[list[tuple[str, str]]]]]:
    """A hostile result and its workbook as LibreOffice read it: per sheet, rows of
    ``(value type or "formula", text)`` cells."""
    result = _hostile_results()[request.param]
    folder = tmp_path_factory.mktemp("fods")
    path = write_xlsx(result, folder / "report.xlsx")
    out = convert(soffice, path, "fods", folder / "out")
    return result, _fods_sheets(out / "report.fods")


def _fods_sheets(path: Path) -> dict[str, list[list[tuple[str, str]]]]:
    root = ElementTree.parse(path).getroot()
    sheets = {}
    for table in root.iter(f"{{{_TABLE}}}table"):
        rows = []
        for row in table.iter(f"{{{_TABLE}}}table-row"):
            repeated = int(row.get(f"{{{_TABLE}}}number-rows-repeated", "1"))
            cells: list[tuple[str, str]] = []
            for cell in row:
                if not cell.tag.endswith(("}table-cell", "}covered-table-cell")):
                    continue
                kind = cell.get(f"{{{_OFFICE}}}value-type", "")
                formula = cell.get(f"{{{_TABLE}}}formula")
                if formula is not None:
                    kind = "boolean" if formula in _BOOLEANS else "formula"
                repeat = int(cell.get(f"{{{_TABLE}}}number-columns-repeated", "1"))
                cells += [(kind, _odf_text(cell))] * min(repeat, 64)
            rows += [cells] * (repeated if any(text for _, text in cells) else 1)
        sheets[table.get(f"{{{_TABLE}}}name", "")] = rows
    return sheets


def _odf_text(cell: ElementTree.Element) -> str:
    """A cell's text from its ODF paragraphs (spaces, tabs and line breaks are elements)."""

    def inline(element: ElementTree.Element) -> str:
        parts = [element.text or ""]
        for child in element:
            name = child.tag.rsplit("}", 1)[-1]
            if name == "s":
                parts.append(" " * int(child.get(f"{{{_TEXT}}}c", "1")))
            elif name == "tab":
                parts.append("\t")
            elif name == "line-break":
                parts.append("\n")
            else:
                parts.append(inline(child))
            parts.append(child.tail or "")
        return "".join(parts)

    return "\n".join(inline(p) for p in cell.iter(f"{{{_TEXT}}}p"))


def test_libreoffice_finds_no_formula_anywhere(
    hostile: tuple[AuditResult, dict[str, list[list[tuple[str, str]]]]],
) -> None:
    _, sheets = hostile
    risky = 0
    for title, rows in sheets.items():
        for number, row in enumerate(rows, 1):
            for kind, text in row:
                assert kind != "formula", (title, number, text[:80])
                if is_formula_like(text):
                    assert kind == "string", (title, number, text[:80])
                    risky += 1
    assert risky >= 8


def test_libreoffice_keeps_hostile_text_exact(
    hostile: tuple[AuditResult, dict[str, list[list[tuple[str, str]]]]],
) -> None:
    result, sheets = hostile
    for title, rows in expected.rows(result).items():
        got = sheets[title]
        header = [text for _, text in got[0]]
        assert header[: len(expected.headers(title))] == expected.headers(title)
        for column, (_, _, kind) in enumerate(expected.SHEETS[title]):
            if kind not in ("text", "list", "styled"):
                continue
            want = [_crlf(v or "") for v in (row[column] for row in rows)]
            have = [row[column][1] if column < len(row) else "" for row in got[1 : len(rows) + 1]]
            assert have == want, (title, expected.headers(title)[column])
    if result.tenant["name"].startswith("Contoso"):  # the factory's payloads, all of them
        names = {text for row in sheets["Guests"] for _, text in row}
        assert {_crlf(excel_text(h)) for h in HOSTILE} <= names


def test_libreoffice_reads_typed_cells(
    hostile: tuple[AuditResult, dict[str, list[list[tuple[str, str]]]]],
) -> None:
    _, sheets = hostile
    kinds = {"datetime": "date", "int": "float", "bool": "boolean"}
    for title in ("Guests", "Domains", "Rules", "Sources"):
        header = [text for _, text in sheets[title][0]]
        for name, _, kind in expected.SHEETS[title]:
            if kind not in kinds:
                continue
            column = header.index(name)
            found = {row[column][0] for row in sheets[title][1:] if row[column][1]}
            assert found <= {kinds[kind]}, (title, name, found)
    summary = {row[0][1]: row[1] for row in sheets["Summary"] if len(row) > 1}
    assert summary["Generated (UTC)"][0] == "date"
    assert summary["Guests"][0] == "float"


# ---- the printout --------------------------------------------------------------------------------

_BLUE, _GREEN = (0x44, 0x72, 0xC4), (0x70, 0xAD, 0x47)


def _fill_colours(page: LTPage) -> set[tuple[int, ...]]:
    """The RGB colours of the page's filled shapes (rectangles, bars), in 0-255 steps."""

    def shapes(parent: Iterable[LTComponent]) -> Iterator[LTComponent]:
        for item in parent:
            yield item
            if isinstance(item, LTFigure):
                yield from shapes(item)

    colours = set()
    for shape in shapes(page):
        colour = getattr(shape, "non_stroking_color", None)
        if isinstance(shape, LTCurve) and shape.fill and isinstance(colour, tuple | list):
            colours.add(tuple(round(float(c) * 255) for c in colour))
    return colours


def test_libreoffice_prints_landscape_one_page_wide_with_titles(
    soffice: str, tmp_path: Path
) -> None:
    result = make_result(60, seed=3)
    path = write_xlsx(result, tmp_path / "report.xlsx")
    out = convert(soffice, path, "pdf", tmp_path / "pdf")
    pages: dict[str, list[str]] = defaultdict(list)
    for number, page in enumerate(extract_pages(out / "report.pdf")):
        assert page.width > page.height  # landscape
        if number == 0:  # the Summary's chart draws its bars: current blue, what-if green
            assert {_BLUE, _GREEN} <= _fill_colours(page)
        boxes = [e for e in page if isinstance(e, LTTextContainer)]
        text = "\n".join(e.get_text() for e in boxes)
        assert "###" not in text  # no value too wide for its column (dates included)
        bottom = min(e.y0 for e in boxes)
        footer = {e.get_text().strip() for e in boxes if e.y0 <= bottom + 2}
        sheet = next(s for s in ("Summary", *expected.SHEETS) if s in footer)
        pages[sheet].append(text)
    assert set(pages) == {"Summary", "Findings", "Guests", "Domains", "Rules", "Sources"}
    assert "Predicted outcomes" in pages["Summary"][0]  # the chart
    assert len(pages["Guests"]) > 1
    for title in ("Findings", "Guests", "Rules"):
        headers = expected.headers(title)
        printed = {word for h in headers[: expected.PRINTED[title]] for word in h.split()}
        hidden = {"object_id", "mail_domain", "rationale"} & set(headers[expected.PRINTED[title] :])
        for text in pages[title]:  # one page wide: each page has the printed columns' header
            words = set(text.split())
            assert printed <= words, (title, printed - words)
            assert not hidden & words, title
