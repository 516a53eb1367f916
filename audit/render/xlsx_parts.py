"""The fixed parts of report.xlsx: package relationships, workbook, sheet settings, chart.

A workbook is a zip of XML parts (ECMA-376 Part 2, Open Packaging Conventions): the content
types, the relationships that tie the parts together, ``xl/workbook.xml`` (the sheet list and
the defined names Excel keeps autofilter ranges, print areas and print titles in),
``xl/styles.xml`` (:mod:`audit.render.xlsx_styles`), one part per worksheet and, for the Summary
sheet's chart, a drawing and a chart part. This module writes all of them except the rows
(:mod:`audit.render.xlsx_sheet`). Element order follows the schema of ECMA-376 Part 1 (18.2
workbook, 18.3 worksheets, 20.5 SpreadsheetML drawing, 21.2 charts), which Excel enforces.

Tenant text never reaches these parts: sheet names, column headers and chart labels are the
tool's own; only the chart's cached figures are the tenant's counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from audit.render.xlsx_sheet import column_letter

__all__ = ["Chart", "SheetSpec", "package_parts", "sheet_head", "sheet_tail"]

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument."
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_HIDDEN = ' hidden="1"'


@dataclass(frozen=True)
class Chart:
    """A clustered bar chart of a few rows of a sheet: categories in column A, series beside.

    ``header_row`` holds the series names; the ``categories`` follow it row by row. ``series``
    are ``(name, values)`` in the sheet's columns B, C, ...; the values are cached in the chart
    so viewers that do not recalculate still draw it.
    """

    title: str
    axis_title: str
    header_row: int
    categories: Sequence[str]
    series: Sequence[tuple[str, Sequence[int]]]
    anchor: tuple[int, int] = (5, 2)  # zero-based (column, row) of the top-left corner: F3


@dataclass(frozen=True)
class SheetSpec:
    """One worksheet's settings (everything but its rows).

    ``widths`` are column widths in characters, column A first. ``table`` sheets get a frozen
    header row, an autofilter over ``rows`` rows (header included) and repeat the header on every
    printed page; ``print_columns`` limits the printed area to the first columns (0: all).
    ``merged`` ranges (e.g. ``B20:D20``) join cells for long text.
    """

    name: str
    widths: Sequence[float]
    rows: int
    table: bool = True
    print_columns: int = 0
    merged: Sequence[str] = ()
    chart: Chart | None = None
    selected: bool = False

    @property
    def quoted_name(self) -> str:
        """The sheet's name as formulas and defined names refer to it: ``'Guests (2)'``."""
        return "'" + self.name.replace("'", "''") + "'"

    @property
    def last_column(self) -> str:
        """The letters of the sheet's last column."""
        return column_letter(max(len(self.widths), 1))


def package_parts(
    sheets: Sequence[SheetSpec], styles: bytes, *, created: datetime, creator: str
) -> dict[str, bytes]:
    """Every part but the worksheets, by part name, in the order they are written."""
    parts = {
        "[Content_Types].xml": _content_types(sheets),
        "_rels/.rels": _relationships(
            [
                (f"{_REL}/officeDocument", "xl/workbook.xml"),
                (f"{_PKG}/metadata/core-properties", "docProps/core.xml"),
                (f"{_REL}/extended-properties", "docProps/app.xml"),
            ]
        ),
        "docProps/core.xml": _core(created, creator),
        "docProps/app.xml": _app(),
        "xl/workbook.xml": _workbook(sheets),
        "xl/_rels/workbook.xml.rels": _relationships(
            [(f"{_REL}/worksheet", f"worksheets/sheet{n}.xml") for n in range(1, len(sheets) + 1)]
            + [(f"{_REL}/styles", "styles.xml")]
        ),
        "xl/styles.xml": styles,
    }
    charts = [(n, s.chart) for n, s in enumerate(sheets, 1) if s.chart is not None]
    for number, (sheet, chart) in enumerate(charts, 1):
        parts[f"xl/worksheets/_rels/sheet{sheet}.xml.rels"] = _relationships(
            [(f"{_REL}/drawing", f"../drawings/drawing{number}.xml")]
        )
        parts[f"xl/drawings/drawing{number}.xml"] = _drawing(chart)
        parts[f"xl/drawings/_rels/drawing{number}.xml.rels"] = _relationships(
            [(f"{_REL}/chart", f"../charts/chart{number}.xml")]
        )
        parts[f"xl/charts/chart{number}.xml"] = _chart(chart, sheets[sheet - 1].quoted_name)
    return parts


def _content_types(sheets: Sequence[SheetSpec]) -> bytes:
    """``[Content_Types].xml``: the content type of every part (OPC, ECMA-376 Part 2, 10.1)."""
    overrides = [
        ("/xl/workbook.xml", f"{_CT}spreadsheetml.sheet.main+xml"),
        ("/xl/styles.xml", f"{_CT}spreadsheetml.styles+xml"),
        ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
        ("/docProps/app.xml", f"{_CT}extended-properties+xml"),
        *(
            (f"/xl/worksheets/sheet{n}.xml", f"{_CT}spreadsheetml.worksheet+xml")
            for n in range(1, len(sheets) + 1)
        ),
    ]
    for number in range(1, sum(s.chart is not None for s in sheets) + 1):
        overrides.append((f"/xl/drawings/drawing{number}.xml", f"{_CT}drawing+xml"))
        overrides.append((f"/xl/charts/chart{number}.xml", f"{_CT}drawingml.chart+xml"))
    items = "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides)
    return (
        f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f"{items}</Types>"
    ).encode()


def _relationships(targets: Sequence[tuple[str, str]]) -> bytes:
    """A relationships part: ``rId1``, ``rId2``, ... to ``(type, target)`` in order."""
    items = "".join(
        f'<Relationship Id="rId{n}" Type="{kind}" Target="{target}"/>'
        for n, (kind, target) in enumerate(targets, 1)
    )
    return f'{_HEAD}<Relationships xmlns="{_PKG}">{items}</Relationships>'.encode()


def _core(created: datetime, creator: str) -> bytes:
    """Document properties; dated by the result, so the same result gives the same bytes."""
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    dated = f'xsi:type="dcterms:W3CDTF">{stamp}'
    return (
        f"{_HEAD}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>B2B pre-flight report</dc:title><dc:creator>{creator}</dc:creator>"
        f"<dcterms:created {dated}</dcterms:created>"
        f"<dcterms:modified {dated}</dcterms:modified></cp:coreProperties>"
    ).encode()


def _app() -> bytes:
    """Extended properties: the application that wrote the file."""
    return (
        f"{_HEAD}<Properties "
        'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        "<Application>b2b-preflight</Application></Properties>"
    ).encode()


def _workbook(sheets: Sequence[SheetSpec]) -> bytes:
    """The sheet list and the defined names of autofilters, print areas and print titles."""
    entries = "".join(
        f'<sheet name="{s.name}" sheetId="{n}" r:id="rId{n}"/>' for n, s in enumerate(sheets, 1)
    )
    names: list[tuple[str, int, str]] = []
    for index, sheet in enumerate(sheets):
        if not sheet.table:
            continue
        where = f"{sheet.quoted_name}!"
        names.append(("_FilterDatabase", index, f"{where}$A$1:${sheet.last_column}${sheet.rows}"))
        if sheet.print_columns:
            names.append(
                (
                    "Print_Area",
                    index,
                    f"{where}$A$1:${column_letter(sheet.print_columns)}${sheet.rows}",
                )
            )
        names.append(("Print_Titles", index, f"{where}$1:$1"))
    names.sort(key=lambda n: (n[0].lower(), n[1]))  # Excel's own order: by name, then sheet
    defined = "".join(
        f'<definedName name="_xlnm.{name}" localSheetId="{index}"'
        f"{_HIDDEN if name == '_FilterDatabase' else ''}>{ref}</definedName>"
        for name, index, ref in names
    )
    return (
        f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><workbookPr/>'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{entries}</sheets>"
        f"{f'<definedNames>{defined}</definedNames>' if defined else ''}</workbook>"
    ).encode()


def sheet_head(sheet: SheetSpec) -> bytes:
    """A worksheet part up to its first row: page fit, size, view, column widths."""
    selected = ' tabSelected="1"' if sheet.selected else ""
    pane = (
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        if sheet.table
        else ""
    )
    cols = "".join(
        f'<col min="{n}" max="{n}" width="{w:g}" customWidth="1"/>'
        for n, w in enumerate(sheet.widths, 1)
    )
    return (
        f'{_HEAD}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
        f'<dimension ref="A1:{sheet.last_column}{max(sheet.rows, 1)}"/>'
        f'<sheetViews><sheetView{selected} workbookViewId="0">{pane}</sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>'
    ).encode()


def sheet_tail(sheet: SheetSpec) -> bytes:
    """A worksheet part after its last row: autofilter, merged cells, page setup, drawing.

    Printing: landscape, as many pages down as needed but one page wide, the header row on every
    page, the sheet name and page number in the footer.
    """
    table = f'<autoFilter ref="A1:{sheet.last_column}{sheet.rows}"/>' if sheet.table else ""
    merged = "".join(f'<mergeCell ref="{ref}"/>' for ref in sheet.merged)
    if merged:
        merged = f'<mergeCells count="{len(sheet.merged)}">{merged}</mergeCells>'
    drawing = '<drawing r:id="rId1"/>' if sheet.chart else ""
    return (
        f"</sheetData>{table}{merged}"
        '<pageMargins left="0.4" right="0.4" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
        '<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
        "<headerFooter><oddFooter>&amp;L&amp;A&amp;RPage &amp;P of &amp;N</oddFooter>"
        f"</headerFooter>{drawing}</worksheet>"
    ).encode()


# ---- the chart: a drawing anchored on the sheet, and the chart it shows -------------------------

_EMU_PER_CM = 360_000
_SERIES_COLOURS = ("4472C4", "70AD47")  # current mapping blue, after the what-if green


def _drawing(chart: Chart) -> bytes:
    """The drawing that anchors the chart on its sheet (16 x 7.5 cm at the anchor cell)."""
    col, row = chart.anchor
    return (
        f"{_HEAD}<xdr:wsDr "
        'xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        f"<xdr:oneCellAnchor><xdr:from><xdr:col>{col}</xdr:col><xdr:colOff>0</xdr:colOff>"
        f"<xdr:row>{row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
        f'<xdr:ext cx="{16 * _EMU_PER_CM}" cy="{int(7.5 * _EMU_PER_CM)}"/>'
        '<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="1" name="Chart 1"/>'
        "<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>"
        '<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm><a:graphic>'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
        '<c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
        f'xmlns:r="{_REL}" r:id="rId1"/></a:graphicData></a:graphic></xdr:graphicFrame>'
        "<xdr:clientData/></xdr:oneCellAnchor></xdr:wsDr>"
    ).encode()


def _chart(chart: Chart, sheet: str) -> bytes:
    """A clustered horizontal bar chart, one series per value column, values cached."""
    first, last = chart.header_row + 1, chart.header_row + len(chart.categories)
    categories = _cache("str", chart.categories)
    series = "".join(
        f'<c:ser><c:idx val="{n}"/><c:order val="{n}"/><c:tx><c:strRef>'
        f"<c:f>{sheet}!${letter}${chart.header_row}</c:f>{_cache('str', [name])}</c:strRef></c:tx>"
        f"{_fill(_SERIES_COLOURS[n % len(_SERIES_COLOURS)])}"
        f'<c:invertIfNegative val="0"/><c:cat><c:strRef><c:f>{sheet}!$A${first}:$A${last}</c:f>'
        f"{categories}</c:strRef></c:cat><c:val><c:numRef>"
        f"<c:f>{sheet}!${letter}${first}:${letter}${last}</c:f>{_cache('num', values)}"
        "</c:numRef></c:val></c:ser>"
        for n, (name, values) in enumerate(chart.series)
        for letter in [column_letter(n + 2)]
    )
    axis = '<c:majorTickMark val="none"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>'
    return (
        f"{_HEAD}<c:chartSpace "
        'xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
        f'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="{_REL}">'
        f'<c:roundedCorners val="0"/><c:chart>{_title(chart.title)}'
        '<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/><c:barChart><c:barDir val="bar"/>'
        f'<c:grouping val="clustered"/><c:varyColors val="0"/>{series}<c:gapWidth val="150"/>'
        '<c:axId val="10"/><c:axId val="100"/></c:barChart>'
        '<c:catAx><c:axId val="10"/><c:scaling><c:orientation val="minMax"/></c:scaling>'
        '<c:delete val="0"/><c:axPos val="l"/><c:numFmt formatCode="General" sourceLinked="1"/>'
        f'{axis}<c:crossAx val="100"/><c:crosses val="autoZero"/><c:auto val="1"/>'
        '<c:lblAlgn val="ctr"/><c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx>'
        '<c:valAx><c:axId val="100"/><c:scaling><c:orientation val="minMax"/></c:scaling>'
        f'<c:delete val="0"/><c:axPos val="b"/><c:majorGridlines>{_line("D9D9D9")}</c:majorGridlines>'
        f'{_title(chart.axis_title)}<c:numFmt formatCode="General" sourceLinked="1"/>{axis}'
        '<c:crossAx val="10"/><c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>'
        '</c:plotArea><c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend>'
        '<c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>'
    ).encode()


def _fill(colour: str) -> str:
    """A solid fill: colours are explicit because the package has no theme to take them from
    (LibreOffice draws a series without one invisible)."""
    return f'<c:spPr><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill></c:spPr>'


def _line(colour: str) -> str:
    """A thin solid line (gridlines)."""
    return f'<c:spPr><a:ln w="6350"><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill></a:ln></c:spPr>'


def _title(text: str) -> str:
    """A chart or axis title (the tool's own text)."""
    return (
        "<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:r>"
        f'<a:t>{text}</a:t></a:r></a:p></c:rich></c:tx><c:overlay val="0"/></c:title>'
    )


def _cache(kind: str, values: Sequence[object]) -> str:
    """A chart's cached string or number points (``kind`` ``str`` or ``num``)."""
    points = "".join(f'<c:pt idx="{i}"><c:v>{v}</c:v></c:pt>' for i, v in enumerate(values))
    number = "<c:formatCode>General</c:formatCode>" if kind == "num" else ""
    return f'<c:{kind}Cache>{number}<c:ptCount val="{len(values)}"/>{points}</c:{kind}Cache>'
