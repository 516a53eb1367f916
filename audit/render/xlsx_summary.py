"""report.xlsx's Summary sheet: headline figures, warnings, outcome and severity tables, chart.

The sheet is small (a few dozen cells), so its rows are built one by one with
:func:`audit.render.xlsx_sheet.row_xml`. Long texts (warnings, the what-if sentence) sit in cells
merged over columns B to D with wrapping on; spreadsheet programs do not fit the height of a
merged row by themselves, so the row gets a height from the text's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audit._values import naive_utc
from audit.analysis.result import AuditResult
from audit.analysis.summary import whatif_sentence
from audit.render._common import (
    OUTCOMES,
    SEVERITIES,
    app_name,
    diff_counts,
    diff_since,
    findings_by_severity,
    problem_sources,
    skipped_rules,
    target_label,
    tenant_name,
)
from audit.render.xlsx_parts import Chart, SheetSpec
from audit.render.xlsx_sheet import row_xml, text_lines
from audit.render.xlsx_styles import CellStyles

__all__ = ["SUMMARY_WIDTHS", "summary_sheet"]

SUMMARY_WIDTHS = (26, 22, 16, 16)
"""Columns A-D: labels, then values (B holds the dates: 19 characters and some room)."""

_Cell = tuple[Any, str, CellStyles]


@dataclass
class _Rows:
    """Summary rows being collected: cells per row, merged ranges and fixed heights."""

    styles: CellStyles
    cells: list[list[_Cell]]
    merged: list[str]
    lines: dict[int, int]

    def add(self, *cells: _Cell) -> int:
        """Append a row; return its number (1-based)."""
        self.cells.append(list(cells))
        return len(self.cells)

    def blank(self) -> None:
        """An empty row."""
        self.add()

    def label(self, text: str, style: str = "plain") -> _Cell:
        """One of the tool's own texts in a named format."""
        return (text, "text", self.styles.labelled(style) if style != "plain" else self.styles)

    def text(self, value: Any) -> _Cell:
        """Text from the tenant or the run (neutralised like every text cell)."""
        return (value, "text", self.styles)

    def coloured(self, value: str) -> _Cell:
        """A status value in its colour."""
        return (value, "styled", self.styles)

    def long(self, label: _Cell, text: str) -> None:
        """A label and a long text wrapped over the merged columns B to D."""
        number = self.add(label, (text, "text", self.styles.wrapped()))
        self.merged.append(f"B{number}:D{number}")
        self.lines[number] = text_lines(text, sum(SUMMARY_WIDTHS[1:]))


def summary_sheet(result: AuditResult, styles: CellStyles) -> tuple[SheetSpec, bytes]:
    """The Summary sheet's settings and its rows as XML."""
    rows = _Rows(styles, [], [], {})
    rows.add(rows.label("B2B pre-flight report", "title"))
    rows.blank()
    _warnings(rows, result)
    _headline(rows, result)
    chart = _outcomes(rows, result)
    _severities(rows, result)
    _changes(rows, result)
    _reconciled(rows, result)
    xml = "".join(
        row_xml(number, cells, rows.lines.get(number, 1))
        for number, cells in enumerate(rows.cells, 1)
        if cells
    )
    spec = SheetSpec(
        "Summary",
        SUMMARY_WIDTHS,
        len(rows.cells),
        table=False,
        merged=tuple(rows.merged),
        chart=chart,
        selected=True,
    )
    return spec, xml.encode()


def _warnings(rows: _Rows, result: AuditResult) -> None:
    """Red rows naming failed sources, missing permissions and skipped rules."""
    found = False
    for source in problem_sources(result):
        permission = source.get("missing_permission")
        text = f"Source {source['name']} {source['state']}: {source.get('error') or ''}"
        if permission:
            text += f" (missing permission: {permission})"
        rows.long(rows.label("Warning", "warning"), text)
        found = True
    for rule in skipped_rules(result):
        rows.long(
            rows.label("Skipped rule", "warning"),
            f"Rule {rule['rule_id']} skipped: {rule['reason']}",
        )
        found = True
    if found:
        rows.blank()


def _headline(rows: _Rows, result: AuditResult) -> None:
    """Key facts of the run."""
    for label, value in (
        ("Tenant", tenant_name(result)),
        ("Tenant id", str(result.tenant.get("id", ""))),
        ("Target", target_label(result)),
        ("App", app_name(result)),
    ):
        rows.add(rows.label(label), rows.text(value))
    for label, stamp in (
        ("Generated (UTC)", result.generated_at),
        ("Collected (UTC)", result.collected_at),
    ):
        rows.add(rows.label(label), (naive_utc(stamp), "datetime", rows.styles))
    rows.add(rows.label("Tool version"), rows.text(result.tool_version))
    rows.add(rows.label("Guests"), (len(result.guests), "int", rows.styles))
    rows.blank()


def _outcomes(rows: _Rows, result: AuditResult) -> Chart:
    """The outcome table (current mapping and after the what-if) and its chart."""
    whatif = result.whatif
    counts = result.outcome_counts()
    after = whatif.after if whatif else {}
    headers = ("Predicted outcome", "Guests", *(("After what-if",) if whatif else ()))
    header_row = rows.add(*(rows.label(h, "header") for h in headers))
    for outcome in OUTCOMES:
        cells = [rows.coloured(outcome), (counts[outcome], "int", rows.styles)]
        if whatif:
            cells.append((int(after.get(outcome, 0)), "int", rows.styles))
        rows.add(*cells)
    rows.blank()
    rows.long(rows.label("What-if"), whatif_sentence(whatif))
    rows.blank()
    series = [("Guests", [counts[o] for o in OUTCOMES])]
    if whatif:
        series.append(("After what-if", [int(after.get(o, 0)) for o in OUTCOMES]))
    return Chart("Predicted outcomes", "Guests", header_row, OUTCOMES, series)


def _severities(rows: _Rows, result: AuditResult) -> None:
    """Open and muted findings per severity."""
    by_severity = findings_by_severity(result)
    muted = findings_by_severity(result, "muted")
    rows.add(*(rows.label(h, "header") for h in ("Severity", "Open findings", "Muted")))
    for severity in SEVERITIES:
        rows.add(
            rows.coloured(severity),
            (by_severity[severity], "int", rows.styles),
            (muted[severity], "int", rows.styles),
        )


def _changes(rows: _Rows, result: AuditResult) -> None:
    """Counts of the run-to-run diff (nothing when the run was not compared)."""
    diff = result.diff
    if diff is None:
        return
    rows.blank()
    rows.add(rows.label("Changes since", "header"), rows.text(diff_since(diff)))
    for warning in diff.warnings:
        rows.long(rows.label("Warning", "warning"), warning)
    for count in diff_counts(diff):
        rows.add(rows.label(count["label"]), (count["count"], "int", rows.styles))
    rows.add(rows.label("Details"), rows.text("the Changes sheet"))


def _reconciled(rows: _Rows, result: AuditResult) -> None:
    """Agreement of prediction and target per outcome (nothing without the target's directory)."""
    counts = result.reconciliation_counts()
    if counts is None:
        return
    keys = ("held", "agree", "disagree", "not_compared")
    header = ("Reconciliation", "Held in target", "Agree", "Disagree", "Not compared")
    rows.blank()
    rows.add(*(rows.label(h, "header") for h in header))
    for outcome in OUTCOMES:
        found = counts["by_outcome"][outcome]
        rows.add(rows.coloured(outcome), *((found[k], "int", rows.styles) for k in keys))
    rows.add(rows.label("All"), *((counts[k], "int", rows.styles) for k in keys))
    rows.add(rows.label("Details"), rows.text("the Reconciliation sheet"))
