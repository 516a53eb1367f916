"""report.xlsx's cell formats and the ``xl/styles.xml`` part that declares them.

Every cell of the workbook uses one of a fixed set of formats, declared here once: plain text
(top-aligned, so a row made tall by a wrapped neighbour still reads from the top), wrapped text,
text with ``quotePrefix`` (Excel's typed apostrophe: formula-like tenant text stays text when it
is edited, see :mod:`audit.render.safe`), a date-and-time format, bold headers and titles, and
one colour per status value in Excel's own "good / neutral / bad" palette. Cells refer to a
format by its index in ``cellXfs`` (the ``s`` attribute), so :data:`STYLES` gives each format's
index and :func:`styles_xml` writes the part in that order.

ECMA-376 Part 1, 18.8 (Styles): https://ecma-international.org/publications-and-standards/standards/ecma-376/
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

__all__ = [
    "DATE_FORMAT",
    "PALETTE",
    "STYLES",
    "CellStyles",
    "Style",
    "cell_styles",
    "style_id",
    "styles_xml",
]

DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
"""Number format of date-and-time cells (19 characters: columns holding them are wider)."""

_DATE_FORMAT_ID = 164  # the first id of custom number formats (0-163 are built in)
_HEADER_FILL, _TITLE_COLOUR = "1F3864", "1F3864"

PALETTE = {
    "high": ("FFC7CE", "9C0006"),
    "medium": ("FFEB9C", "9C5700"),
    "low": ("DDEBF7", "1F4E78"),
    "info": ("EDEDED", "404040"),
    "ready": ("C6EFCE", "006100"),
    "unmanaged": ("FFEB9C", "9C5700"),
    "blocked": ("FFC7CE", "9C0006"),
    "out_of_scope": ("EDEDED", "404040"),
    "unknown": ("DDEBF7", "1F4E78"),
    "failed": ("FFC7CE", "9C0006"),
    "partial": ("FFEB9C", "9C5700"),
    "ok": ("C6EFCE", "006100"),
    "skipped": ("FFEB9C", "9C5700"),
    "muted": ("EDEDED", "404040"),
    "exception_expired": ("FFC7CE", "9C0006"),
    "new": ("FFC7CE", "9C0006"),
    "outcome_changed": ("FFEB9C", "9C5700"),
    "not_rechecked": ("DDEBF7", "1F4E78"),
    "fixed": ("C6EFCE", "006100"),
}
"""(fill colour, font colour) per coloured value: Excel's own "good / neutral / bad" palette."""


@dataclass(frozen=True)
class Style:
    """One cell format: font, fill, number format, wrapping and quote prefix."""

    bold: bool = False
    size: int = 11
    colour: str | None = None  # font colour, RRGGBB
    fill: str | None = None  # solid fill colour, RRGGBB
    date: bool = False
    wrap: bool = False
    quoted: bool = False


STYLES: dict[str, Style] = {
    "plain": Style(),  # index 0: the format of every cell without an ``s`` attribute
    "wrap": Style(wrap=True),
    "quoted": Style(quoted=True),
    "wrap quoted": Style(wrap=True, quoted=True),
    "datetime": Style(date=True),
    "header": Style(bold=True, colour="FFFFFF", fill=_HEADER_FILL, wrap=True),
    "title": Style(bold=True, size=16, colour=_TITLE_COLOUR),
    "warning": Style(bold=True, colour="9C0006", fill="FFC7CE", wrap=True),
    **{f"value {v}": Style(colour=font, fill=fill) for v, (fill, font) in PALETTE.items()},
}
"""Every cell format by name, in ``cellXfs`` order (the first is the default format)."""

_INDEX = {name: index for index, name in enumerate(STYLES)}


def style_id(name: str) -> int:
    """The ``cellXfs`` index of a format named in :data:`STYLES`."""
    return _INDEX[name]


@dataclass(frozen=True)
class CellStyles:
    """The formats a column's cells take (``cellXfs`` indexes; ``None`` is the default format).

    ``styled`` maps a cell text (``high``, ``ready``, ...) to its colour's format; ``text`` is
    the format of ordinary text, ``quoted`` that of formula-like text (both wrapped in a wrapped
    column); ``datetime`` the date-and-time format.
    """

    styled: Mapping[str, int]
    quoted: int
    datetime: int
    text: int | None = None

    def wrapped(self) -> CellStyles:
        """The same formats for a column whose text wraps."""
        return replace(self, text=style_id("wrap"), quoted=style_id("wrap quoted"))

    def labelled(self, name: str) -> CellStyles:
        """The same formats with text in the format ``name`` (headers, titles, warnings)."""
        return replace(self, text=style_id(name))


def cell_styles() -> CellStyles:
    """The formats of :data:`STYLES` as table cells use them."""
    return CellStyles(
        styled={v: style_id(f"value {v}") for v in PALETTE},
        quoted=style_id("quoted"),
        datetime=style_id("datetime"),
    )


def styles_xml() -> bytes:
    """The ``xl/styles.xml`` part: fonts, fills and one ``xf`` per entry of :data:`STYLES`."""
    fonts = list(dict.fromkeys((s.bold, s.size, s.colour) for s in STYLES.values()))
    fills = list(dict.fromkeys(s.fill for s in STYLES.values() if s.fill))
    xfs = "".join(_xf(s, fonts, fills) for s in STYLES.values())
    font_xml = "".join(_font(*f) for f in fonts)
    fill_xml = "".join(
        f'<fill><patternFill patternType="solid"><fgColor rgb="FF{c}"/>'
        f'<bgColor indexed="64"/></patternFill></fill>'
        for c in fills
    )
    top = '<alignment vertical="top"/>'
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<numFmts count="1"><numFmt numFmtId="{_DATE_FORMAT_ID}" formatCode="{DATE_FORMAT}"/>'
        f'</numFmts><fonts count="{len(fonts)}">{font_xml}</fonts>'
        f'<fills count="{len(fills) + 2}"><fill><patternFill patternType="none"/></fill>'
        f'<fill><patternFill patternType="gray125"/></fill>{fill_xml}</fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" '
        f'applyAlignment="1">{top}</xf></cellStyleXfs>'
        f'<cellXfs count="{len(STYLES)}">{xfs}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '<dxfs count="0"/><tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
        'defaultPivotStyle="PivotStyleLight16"/></styleSheet>'
    ).encode()


def _font(bold: bool, size: int, colour: str | None) -> str:
    """A ``<font>`` element (Calibri, Excel's default body font; no theme part is written)."""
    colour_xml = f'<color rgb="FF{colour}"/>' if colour else ""
    weight = "<b/>" if bold else ""
    return (
        f'<font>{weight}<sz val="{size}"/>{colour_xml}<name val="Calibri"/><family val="2"/></font>'
    )


def _xf(style: Style, fonts: list[tuple[bool, int, str | None]], fills: list[str]) -> str:
    """One ``cellXfs`` entry: ids of its font, fill and number format, its alignment."""
    font = fonts.index((style.bold, style.size, style.colour))
    fill = fills.index(style.fill) + 2 if style.fill else 0
    number = _DATE_FORMAT_ID if style.date else 0
    attrs = f'numFmtId="{number}" fontId="{font}" fillId="{fill}" borderId="0" xfId="0"'
    if style.quoted:
        attrs += ' quotePrefix="1"'
    applied = "".join(
        f' apply{name}="1"'
        for name, used in (("NumberFormat", style.date), ("Font", font), ("Fill", fill))
        if used
    )
    wrap = ' wrapText="1"' if style.wrap else ""
    return f'<xf {attrs}{applied} applyAlignment="1"><alignment vertical="top"{wrap}/></xf>'
