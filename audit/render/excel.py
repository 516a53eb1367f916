"""``report.xlsx``: the workbook for the people fixing accounts.

Sheets: Summary (headline figures and a bar chart of outcomes), Changes (only when the run was
compared with an earlier one: one row per change), Findings, Guests, Domains, Rules, Sources.
openpyxl (write-only mode) writes the workbook's skeleton: styles, the Summary sheet and its
chart, and each table sheet with its settings (column widths, frozen header, autofilter, print
titles) and header row. The table rows, millions of cells for 100,000 guests, are far too many
for openpyxl's cell objects (40 s); :mod:`audit.render.xlsx_sheet` builds their XML a column at
a time and :mod:`audit.render.xlsx_package` adds it to the skeleton's sheets while the file is
written (4-5x faster, less memory). Cells are typed (counts as numbers, booleans as booleans,
times as timezone-naive UTC datetimes because Excel has no time zones). Text never becomes a
formula: it is written as a string cell, and formula-like text also gets Excel's ``quotePrefix``
(see :mod:`audit.render.safe`). A table longer than a sheet continues on "Guests (2)" and so on.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter

from audit._values import joined, naive_utc
from audit.analysis.findings import FINDING_COLUMNS
from audit.analysis.result import AuditResult
from audit.analysis.summary import whatif_sentence
from audit.render._common import (
    OUTCOMES,
    SEVERITIES,
    app_name,
    atomic_path,
    diff_counts,
    diff_since,
    findings_by_severity,
    guest_view,
    problem_sources,
    skipped_rules,
    target_label,
    tenant_name,
)
from audit.render.safe import EXCEL_MAX_CHARS, excel_text, is_formula_like
from audit.render.xlsx_package import RowSource, write_package
from audit.render.xlsx_sheet import ERROR_CODES, CellStyles, rows_xml

__all__ = ["EXCEL_MAX_ROWS", "write_xlsx"]

EXCEL_MAX_ROWS = 1_048_576
"""Rows in one Excel worksheet, header included."""

# (fill colour, font colour) per styled value: Excel's own "good / neutral / bad" palette.
_PALETTE = {
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
_HEADER = "b2b header"
_TITLE = "b2b title"
_WARN = "b2b warning"


@dataclass(frozen=True)
class _Col:
    """One column of a table sheet: source column, header text, width and cell kind."""

    key: str
    width: float = 18
    kind: str = "text"  # one of audit.render.xlsx_sheet.KINDS
    header: str = ""


_FINDINGS = tuple(
    _Col(k, w, kind)
    for k, w, kind in zip(
        FINDING_COLUMNS,
        (28, 10, 10, 38, 42, 28, 32, 24, 60, 8, 30),
        ("text", "styled", "styled", *(["text"] * 8)),
        strict=True,
    )
)
_GUESTS = (
    _Col("object_id", 38),
    _Col("display_name", 28),
    _Col("outcome", 13, "styled"),
    _Col("reasons", 28, "list"),
    _Col("whatif_outcome", 13, "styled", "what-if outcome"),
    _Col("whatif_reasons", 24, "list", "what-if reasons"),
    _Col("flagged_rules", 36, "list"),
    _Col("muted_rules", 20, "list"),
    _Col("user_principal_name", 44),
    _Col("mail", 32),
    _Col("mail_domain", 24),
    _Col("other_mails", 32, "list"),
    _Col("primary_smtp", 32),
    _Col("proxy_addresses", 36, "list"),
    _Col("provisioning_upn", 32),
    _Col("original_upn", 44),
    _Col("target_key", 32),
    _Col("target_email", 32),
    _Col("whatif_target_email", 44, "text", "what-if target_email"),
    _Col("mu_primary_smtp", 32),
    _Col("mu_external_email", 32),
    _Col("mu_email_addresses", 36, "list"),
    _Col("scope", 11),
    _Col("user_type", 10),
    _Col("account_enabled", 10, "bool"),
    _Col("external_user_state", 18),
    _Col("created", 19, "datetime"),
    _Col("last_sign_in", 19, "datetime"),
)
_DOMAINS = (
    _Col("domain", 32),
    _Col("guests", 9, "int"),
    _Col("affected", 9, "int"),
    _Col("verified_in_target", 10, "bool"),
    _Col("claimed_elsewhere", 10, "bool"),
    _Col("public_provider", 10, "bool"),
    _Col("mail_state", 14),
    _Col("mx", 32),
    _Col("txt_state", 12),
)
_RULES = (
    _Col("rule_id", 30),
    _Col("title", 44),
    _Col("severity", 10, "styled"),
    _Col("level", 8),
    _Col("state", 9, "styled"),
    _Col("reason", 40),
    _Col("flagged", 9, "int"),
    _Col("passed", 9, "int"),
    _Col("not_evaluated", 9, "int", "not evaluated"),
    _Col("muted", 9, "int"),
    _Col("rationale", 60),
    _Col("remediation", 60),
)
_CHANGES = (
    _Col("kind", 18, "styled"),
    _Col("rule_id", 28),
    _Col("severity", 10, "styled"),
    _Col("object_id", 38),
    _Col("user_principal_name", 44),
    _Col("display_name", 28),
    _Col("old_outcome", 13, "styled", "old outcome"),
    _Col("new_outcome", 13, "styled", "new outcome"),
    _Col("detail", 60),
)
_SOURCES = (
    _Col("name", 26),
    _Col("state", 14, "styled"),
    _Col("rows", 10, "int"),
    _Col("error", 60),
    _Col("missing_permission", 30),
    _Col("detail", 40, "json"),
)


@dataclass(frozen=True)
class _Out:
    """The sheet being written and the workbook's prepared style arrays (by style name)."""

    sheet: Any
    styles: dict[str, StyleArray]


def write_xlsx(
    result: AuditResult, path: str | os.PathLike[str], *, max_rows: int = EXCEL_MAX_ROWS
) -> Path:
    """Write ``report.xlsx`` for ``result`` to ``path`` and return the path.

    ``max_rows`` (rows per sheet, header included) exists so tests can exercise the overflow
    onto continuation sheets without writing a million rows.
    """
    if max_rows < 2:
        raise ValueError("max_rows must leave room for a header and one row")
    workbook = Workbook(write_only=True)
    styles = _add_styles(workbook)
    summary = _Out(workbook.create_sheet("Summary"), styles)
    _write_summary(summary, result)
    cell_styles = _cell_styles(summary)
    sources = pd.DataFrame([s.to_dict() for s in result.sources], columns=[c.key for c in _SOURCES])
    tables: list[tuple[str, pd.DataFrame, Sequence[_Col]]] = [
        ("Findings", result.findings, _FINDINGS),
        ("Guests", guest_view(result), _GUESTS),
        ("Domains", result.domains, _DOMAINS),
        ("Rules", result.rules, _RULES),
        ("Sources", sources, _SOURCES),
    ]
    if result.diff is not None:
        tables.insert(0, ("Changes", result.diff.changes(), _CHANGES))
    rows: dict[str, tuple[RowSource, int]] = {}
    for title, frame, cols in tables:
        rows |= _add_table(workbook, styles, cell_styles, title, frame, cols, max_rows)
    skeleton = io.BytesIO()
    workbook.save(skeleton)
    with atomic_path(path) as tmp:
        write_package(skeleton.getvalue(), tmp, rows)
    return Path(path)


def _add_styles(workbook: Workbook) -> dict[str, StyleArray]:
    """Register the named styles of headers and coloured cells; return their style arrays.

    Styled cells are built from these ready arrays instead of resolving fonts and fills per
    cell, which matters at hundreds of thousands of coloured cells.
    """
    styles = [
        _named(_HEADER, Font(bold=True, color="FFFFFF"), "1F3864"),
        _named(_TITLE, Font(bold=True, size=16, color="1F3864"), None),
        _named(_WARN, Font(bold=True, color="9C0006"), "FFC7CE"),
        *(_named(_style_name(v), Font(color=font), fill) for v, (fill, font) in _PALETTE.items()),
    ]
    for style in styles:
        workbook.add_named_style(style)
    return {style.name: StyleArray(style.as_tuple()) for style in styles}


def _named(name: str, font: Font, fill: str | None) -> NamedStyle:
    """A named style with a font and an optional solid fill."""
    style = NamedStyle(name, font=font, alignment=Alignment(vertical="top"))
    if fill:
        style.fill = PatternFill("solid", fgColor=fill)
    return style


def _style_name(value: str) -> str:
    """The named style of a coloured status value."""
    return f"b2b {value}"


def _cell_styles(out: _Out) -> CellStyles:
    """The cell format ids the streamed table cells use, registered in the workbook now.

    A cell's ``style_id`` adds its style to the workbook's ``cellXfs`` (or finds it there), as
    openpyxl does for every cell it writes; the datetime format is the one openpyxl gives a
    cell holding a datetime.
    """
    styled = {
        name.removeprefix(_style_name("")): _cell(out, "", array).style_id
        for name, array in out.styles.items()
    }
    dated = Cell(out.sheet, row=1, column=1, value=datetime(2000, 1, 1))
    return CellStyles(
        styled=styled, quoted=_cell(out, "", _quoted()).style_id, datetime=dated.style_id
    )


def _add_table(
    workbook: Workbook,
    styles: dict[str, StyleArray],
    cell_styles: CellStyles,
    title: str,
    frame: pd.DataFrame,
    cols: Sequence[_Col],
    max_rows: int,
) -> dict[str, tuple[RowSource, int]]:
    """Placeholders of one table over as many sheets as it needs: ``title``, ``title (2)``, ...

    Each placeholder gets the sheet's settings and header row; the returned row sources (by
    sheet title) fill in the data rows when the package is written.
    """
    per_sheet = max_rows - 1
    frame = frame.reset_index(drop=True)
    kinds = [(c.key, c.kind) for c in cols]
    sources: dict[str, tuple[RowSource, int]] = {}
    for number, start in enumerate(range(0, max(len(frame), 1), per_sheet), 1):
        chunk = frame.iloc[start : start + per_sheet]
        name = title if number == 1 else f"{title} ({number})"
        out = _Out(workbook.create_sheet(name), styles)
        _setup_table_sheet(out.sheet, cols, len(chunk))
        out.sheet.append([_styled(out, c.header or c.key, _HEADER) for c in cols])
        sources[name] = (partial(rows_xml, chunk, kinds, cell_styles), len(chunk))
    return sources


def _setup_table_sheet(sheet: Any, cols: Sequence[_Col], n_rows: int) -> None:
    """Widths, frozen header, autofilter: all before the first append (write-only mode)."""
    for index, col in enumerate(cols, 1):
        sheet.column_dimensions[get_column_letter(index)].width = col.width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{n_rows + 1}"
    sheet.print_title_rows = "1:1"


def _text(out: _Out, value: Any) -> Any:
    """A string cell that can never be a formula; formula-like text gets ``quotePrefix``."""
    if (
        type(value) is str
        and value[:1] not in _RISKY_FIRST
        and len(value) <= EXCEL_MAX_CHARS
        and value.isprintable()
    ):
        return value  # the common case, kept cheap: 100,000 guests make millions of cells
    text = excel_text(value if isinstance(value, str) else joined(value, "; "))
    if not text:
        return None  # an empty cell, not an empty string: filters show it as (Blanks)
    if is_formula_like(text) or text in ERROR_CODES:
        return _cell(out, text, _quoted())
    return text


_RISKY_FIRST = frozenset("=+-@# \uff1d\uff0b\uff0d\uff20") | {""}


def _quoted() -> StyleArray:
    """The style array of a plain cell with ``quotePrefix`` (Excel's typed apostrophe)."""
    style = StyleArray()
    style.quotePrefix = 1
    return style


def _cell(out: _Out, text: str, style: StyleArray) -> Cell:
    """A string cell (never a formula, whatever the text) with a given style array."""
    cell = Cell(out.sheet, row=1, column=1, value=text, style_array=style)
    cell.data_type = "s"  # openpyxl stores "=..." as a formula and "#N/A" as an error otherwise
    return cell


def _styled(out: _Out, value: Any, style: str | None = None) -> Any:
    """A string cell with a named style (by default the style named after its value)."""
    text = excel_text(str(value))
    name = style or _style_name(text)
    if name not in out.styles:
        return _text(out, text)
    return _cell(out, text, out.styles[name])


def _write_summary(out: _Out, result: AuditResult) -> None:
    """Headline figures, warnings, outcome and severity tables, what-if and a bar chart."""
    for letter, width in zip("ABCD", (26, 16, 16, 16), strict=True):
        out.sheet.column_dimensions[letter].width = width
    head = _headline_rows(out, result)
    for row in [*head, *_table_rows(out, result), *_change_rows(out, result)]:
        out.sheet.append(row)
    _add_outcome_chart(out.sheet, header_row=len(head) + 1)


def _headline_rows(out: _Out, result: AuditResult) -> list[list[Any]]:
    """Title, warnings about missing data, and key facts of the run."""
    return [
        [_styled(out, "B2B pre-flight report", _TITLE)],
        [],
        *_warning_rows(out, result),
        ["Tenant", _text(out, tenant_name(result))],
        ["Tenant id", _text(out, str(result.tenant.get("id", "")))],
        ["Target", _text(out, target_label(result))],
        ["App", _text(out, app_name(result))],
        ["Generated (UTC)", naive_utc(result.generated_at)],
        ["Collected (UTC)", naive_utc(result.collected_at)],
        ["Tool version", _text(out, result.tool_version)],
        ["Guests", len(result.guests)],
        [],
    ]


def _table_rows(out: _Out, result: AuditResult) -> list[list[Any]]:
    """Outcome table (charted), what-if, severity table."""
    whatif = result.whatif
    after = whatif.after if whatif else {}
    counts = result.outcome_counts()
    by_severity = findings_by_severity(result)
    muted = findings_by_severity(result, "muted")
    return [
        [_styled(out, h, _HEADER) for h in ("Predicted outcome", "Guests", "After what-if")],
        *([_styled(out, o), counts[o], after.get(o) if whatif else None] for o in OUTCOMES),
        [],
        ["What-if", _text(out, whatif_sentence(whatif))],
        [],
        [_styled(out, h, _HEADER) for h in ("Severity", "Open findings", "Muted")],
        *([_styled(out, s), by_severity[s], muted[s]] for s in SEVERITIES),
    ]


def _change_rows(out: _Out, result: AuditResult) -> list[list[Any]]:
    """Counts of the run-to-run diff (nothing when the run was not compared)."""
    diff = result.diff
    if diff is None:
        return []
    rows: list[list[Any]] = [
        [],
        [_styled(out, "Changes since", _HEADER), _text(out, diff_since(diff))],
        *([_styled(out, w, _WARN)] for w in diff.warnings),
        *([c["label"], c["count"]] for c in diff_counts(diff)),
        ["Details", "the Changes sheet"],
    ]
    return rows


def _warning_rows(out: _Out, result: AuditResult) -> list[list[Any]]:
    """Red rows naming failed sources, missing permissions and skipped rules."""
    rows: list[list[Any]] = []
    for source in problem_sources(result):
        permission = source.get("missing_permission")
        text = f"Source {source['name']} {source['state']}: {source.get('error') or ''}"
        if permission:
            text += f" (missing permission: {permission})"
        rows.append([_styled(out, "Warning", _WARN), _text(out, text)])
    for rule in skipped_rules(result):
        text = f"Rule {rule['rule_id']} skipped: {rule['reason']}"
        rows.append([_styled(out, "Skipped rule", _WARN), _text(out, text)])
    return [*rows, []] if rows else rows


def _add_outcome_chart(sheet: Any, header_row: int) -> None:
    """A clustered bar chart of the outcome table (current mapping and after what-if)."""
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Predicted outcomes"
    chart.y_axis.title = "Guests"
    chart.height, chart.width = 7.5, 16
    last = header_row + len(OUTCOMES)
    data = Reference(sheet, min_col=2, max_col=3, min_row=header_row, max_row=last)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=header_row + 1, max_row=last))
    sheet.add_chart(chart, "F3")
