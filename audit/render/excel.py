"""``report.xlsx``: the workbook for the people fixing accounts.

Sheets: Summary (headline figures, warnings, outcome and severity tables, a bar chart of
outcomes), Changes (only when the run was compared with an earlier one), Findings, Guests,
Domains, Reconciliation (only with the target's provisioning directory: one row per guest it
holds), Rules, Sources. A table longer than a sheet continues on "Guests (2)" and so on.

What each table sheet is for: Findings and Guests carry the guest's predicted ``outcome`` and a
``fix`` column (the remediation of the finding's rule; for a guest, of the rule that decided its
outcome, the first of its reasons); Guests are sorted worst first (blocked, unmanaged, unknown,
out of scope, ready; the tenant's order within each). Every table has a frozen, filterable
header, column widths that fit their values (dates included), wrapped long text, and prints
landscape, one page wide, with the header row on every page; wide sheets print their first
columns (who, outcome, why, fix) so the print stays legible.

The package is written here, with the standard library only (:mod:`audit.render.xlsx_parts`,
:mod:`audit.render.xlsx_styles`, :mod:`audit.render.xlsx_package`): millions of cells are far
too many for a cell-object library (openpyxl's 45 s at 100,000 guests), so
:mod:`audit.render.xlsx_sheet` builds the rows' XML a column at a time. Cells are typed (counts
as numbers, booleans as booleans, times as timezone-naive UTC datetimes because Excel has no
time zones). Text never becomes a formula: it is always a string cell, and formula-like text
also gets Excel's ``quotePrefix`` (see :mod:`audit.render.safe`).

SpreadsheetML: ECMA-376 Part 1 (https://ecma-international.org/publications-and-standards/standards/ecma-376/).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit._values import column
from audit.analysis.result import AuditResult
from audit.render._common import atomic_path, guest_view
from audit.render.xlsx_package import RowSource, Streamed, write_package
from audit.render.xlsx_parts import SheetSpec, package_parts, sheet_head, sheet_tail
from audit.render.xlsx_sheet import Column, row_xml, rows_xml, text_lines
from audit.render.xlsx_styles import CellStyles, cell_styles, styles_xml
from audit.render.xlsx_summary import summary_sheet

__all__ = ["EXCEL_MAX_ROWS", "GUEST_ORDER", "write_xlsx"]

EXCEL_MAX_ROWS = 1_048_576
"""Rows in one Excel worksheet, header included."""

GUEST_ORDER = ("blocked", "unmanaged", "unknown", "out_of_scope", "ready")
"""The order of the Guests sheet: worst outcome first."""


@dataclass(frozen=True)
class _Col:
    """One column of a table sheet: source column, width, cell kind, header, wrapping."""

    key: str
    width: float = 18
    kind: str = "text"  # one of audit.render.xlsx_sheet.KINDS
    header: str = ""
    wrap: bool = False


@dataclass(frozen=True)
class _Table:
    """A table sheet: its columns (values by key), their layout, the row order, what prints."""

    title: str
    values: dict[str, pd.Series]
    cols: Sequence[_Col]
    positions: np.ndarray | None = None
    print_columns: int = 0

    @property
    def length(self) -> int:
        return len(self.positions) if self.positions is not None else _length(self.values)


# Widths are characters of the default font. Dates take 19 (yyyy-mm-dd hh:mm:ss): 21 wide.
_FINDINGS = (
    _Col("rule_id", 26),
    _Col("severity", 10, "styled"),
    _Col("status", 9, "styled"),
    _Col("user_principal_name", 36, wrap=True),
    _Col("outcome", 13, "styled"),
    _Col("detail", 44, wrap=True),
    _Col("fix", 54, wrap=True),
    _Col("display_name", 28),
    _Col("mail", 32),
    _Col("domain", 24),
    _Col("level", 8),
    _Col("muted_by", 30, wrap=True),
    _Col("object_id", 38),
)
_GUESTS = (
    _Col("display_name", 28),
    _Col("user_principal_name", 40, wrap=True),
    _Col("outcome", 13, "styled"),
    _Col("reasons", 26, "list", wrap=True),
    _Col("fix", 54, wrap=True),
    _Col("whatif_outcome", 13, "styled", "what-if outcome"),
    _Col("whatif_reasons", 24, "list", "what-if reasons", wrap=True),
    _Col("flagged_rules", 36, "list", wrap=True),
    _Col("muted_rules", 20, "list", wrap=True),
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
    _Col("created", 21, "datetime"),
    _Col("last_sign_in", 21, "datetime"),
    _Col("target_account", 20, "text", "target account"),
    _Col("in_scope", 10, "bool"),
    _Col("match_value", 32),
    _Col("step_scope", 48, "text", "step 1: scope", wrap=True),
    _Col("step_match", 36, "text", "step 2: match", wrap=True),
    _Col("step_action", 36, "text", "step 3: action", wrap=True),
    _Col("step_attributes", 60, "text", "step 4: attributes", wrap=True),
    _Col("step_result", 48, "text", "step 5: result", wrap=True),
    _Col("object_id", 38),
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
    _Col("rule_id", 28),
    _Col("title", 36, wrap=True),
    _Col("severity", 10, "styled"),
    _Col("state", 9, "styled"),
    _Col("flagged", 9, "int"),
    _Col("muted", 9, "int"),
    _Col("remediation", 60, wrap=True),
    _Col("level", 8),
    _Col("reason", 30, wrap=True),
    _Col("passed", 9, "int"),
    _Col("not_evaluated", 10, "int", "not evaluated"),
    _Col("rationale", 60, wrap=True),
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
    _Col("detail", 60, wrap=True),
)
_RECONCILIATION = (
    _Col("display_name", 28),
    _Col("user_principal_name", 40, wrap=True),
    _Col("predicted", 13, "styled"),
    _Col("agrees", 9, "bool"),
    _Col("mismatch", 54, wrap=True),
    _Col("actual_account", 14, "text", "account"),
    _Col("actual_active", 9, "bool", "active"),
    _Col("target_email", 32, "text", "e-mail sent"),
    _Col("actual_email", 32, "text", "e-mail held"),
    _Col("target_user_id", 38, "text", "directory user id"),
    _Col("object_id", 38),
)
_SOURCES = (
    _Col("name", 26),
    _Col("state", 14, "styled"),
    _Col("rows", 10, "int"),
    _Col("error", 60, wrap=True),
    _Col("missing_permission", 30),
    _Col("detail", 40, "json", wrap=True),
)
_BOLD = 0.85  # header text is bold: fewer characters fit a line
# How many leading columns print (the rest stay on screen): who, outcome, why, fix.
_PRINT = {"Findings": 7, "Guests": 6, "Rules": 7, "Reconciliation": 5}


def write_xlsx(
    result: AuditResult, path: str | os.PathLike[str], *, max_rows: int = EXCEL_MAX_ROWS
) -> Path:
    """Write ``report.xlsx`` for ``result`` to ``path`` and return the path.

    ``max_rows`` (rows per sheet, header included) exists so tests can exercise the overflow
    onto continuation sheets without writing a million rows.
    """
    if max_rows < 2:
        raise ValueError("max_rows must leave room for a header and one row")
    styles = cell_styles()
    summary, summary_rows = summary_sheet(result, styles)
    sheets: list[tuple[SheetSpec, bytes | Streamed]] = [
        (summary, sheet_head(summary) + summary_rows + sheet_tail(summary))
    ]
    for table in _tables(result):
        sheets += _table_sheets(table, styles, max_rows)
    specs = [spec for spec, _ in sheets]
    parts: dict[str, bytes | Streamed] = dict(
        package_parts(specs, styles_xml(), created=result.generated_at, creator="b2b-preflight")
    )
    for number, (_, part) in enumerate(sheets, 1):
        parts[f"xl/worksheets/sheet{number}.xml"] = part
    with atomic_path(path) as tmp:
        write_package(tmp, parts)
    return Path(path)


def _tables(result: AuditResult) -> list[_Table]:
    """The table sheets in workbook order, each with its values and row order."""
    rules = result.rules
    remediation = dict(zip(column(rules, "rule_id"), column(rules, "remediation"), strict=True))
    sources = pd.DataFrame([s.to_dict() for s in result.sources], columns=[c.key for c in _SOURCES])
    tables = [
        _findings(result, remediation),
        _guests(result, remediation),
        _plain("Domains", result.domains, _DOMAINS),
        *_reconciliation(result),
        _plain("Rules", result.rules, _RULES),
        _plain("Sources", sources, _SOURCES),
    ]
    if result.diff is not None:
        tables.insert(0, _plain("Changes", result.diff.changes(), _CHANGES))
    return tables


def _reconciliation(result: AuditResult) -> list[_Table]:
    """The Reconciliation sheet (guests the target's directory holds), when it was read."""
    if result.reconciliation is None:
        return []
    return [_plain("Reconciliation", result.reconciliation, _RECONCILIATION)]


def _plain(title: str, frame: pd.DataFrame, cols: Sequence[_Col]) -> _Table:
    """A table sheet showing a frame's columns as they are."""
    frame = frame.reset_index(drop=True)
    return _Table(
        title, {c.key: column(frame, c.key) for c in cols}, cols, None, _PRINT.get(title, 0)
    )


def _findings(result: AuditResult, remediation: dict[str, str]) -> _Table:
    """Findings with the guest's predicted outcome and the fix of the finding's rule."""
    findings = result.findings.reset_index(drop=True)
    values = {c.key: column(findings, c.key) for c in _FINDINGS}
    values["outcome"] = _outcome_of(result, column(findings, "object_id"))
    values["fix"] = _objects([remediation.get(r) for r in column(findings, "rule_id").tolist()])
    return _Table("Findings", values, _FINDINGS, None, _PRINT["Findings"])


def _guests(result: AuditResult, remediation: dict[str, str]) -> _Table:
    """Guests, worst outcome first, with the fix of the rule that decided each one's outcome."""
    view = guest_view(result)
    values = {c.key: column(view, c.key) for c in _GUESTS}
    reasons = column(view, "reasons").tolist()
    values["fix"] = _objects([remediation.get(r[0]) if _has_items(r) else None for r in reasons])
    rank = {outcome: n for n, outcome in enumerate(GUEST_ORDER)}
    ranks = column(view, "outcome").map(rank).fillna(len(rank)).to_numpy(dtype=np.int64)
    order = np.argsort(ranks, kind="stable")
    return _Table("Guests", values, _GUESTS, order, _PRINT["Guests"])


def _outcome_of(result: AuditResult, object_ids: pd.Series) -> pd.Series:
    """The predicted outcome of each object id's guest (None for the app and unknown ids).

    Looked up with Arrow and built as references to the few distinct outcome values: pandas'
    hash tables would make a Python string of every id, tens of MB the forked Excel writer
    keeps (its peak RSS counts towards the run's).
    """
    outcomes = result.outcomes
    guests = _arrow_strings(column(outcomes, "object_id"))
    positions = pc.index_in(_arrow_strings(object_ids), value_set=guests)  # first occurrence
    found = pc.fill_null(positions, -1).to_numpy(zero_copy_only=False)
    codes, labels = pd.factorize(column(outcomes, "outcome"))
    codes = np.append(codes, -1)  # position -1 (not a guest): code -1
    names = np.array([*labels.tolist(), None], dtype=object)  # code -1: no outcome
    return _objects(names[codes[found]])


def _arrow_strings(values: pd.Series) -> pa.Array:
    """A column as an Arrow string array (ids are strings; anything else as its text)."""
    return pc.cast(pa.array(values.astype("str"), from_pandas=True), pa.large_string())


def _objects(values: list[Any] | np.ndarray) -> pd.Series:
    """An object column sharing its strings (a string dtype would copy each row's text)."""
    holder = np.empty(len(values), dtype=object)
    holder[:] = values
    return pd.Series(holder, dtype=object, copy=False)


def _has_items(value: object) -> bool:
    """A non-empty list (or array) of reasons."""
    return isinstance(value, list | tuple | np.ndarray) and len(value) > 0


def _table_sheets(
    table: _Table, styles: CellStyles, max_rows: int
) -> list[tuple[SheetSpec, bytes | Streamed]]:
    """One table over as many sheets as it needs: ``title``, ``title (2)``, ..."""
    per_sheet = max_rows - 1
    columns = [
        Column(table.values[c.key], c.kind, styles.wrapped(), c.width)
        if c.wrap
        else Column(table.values[c.key], c.kind, styles)
        for c in table.cols
    ]
    header = row_xml(
        1,
        [(c.header or c.key, "text", styles.labelled("header")) for c in table.cols],
        max(text_lines(c.header or c.key, c.width * _BOLD) for c in table.cols),
    )
    out: list[tuple[SheetSpec, bytes | Streamed]] = []
    for number, start in enumerate(range(0, max(table.length, 1), per_sheet), 1):
        stop = min(start + per_sheet, table.length)
        spec = SheetSpec(
            table.title if number == 1 else f"{table.title} ({number})",
            [c.width for c in table.cols],
            stop - start + 1,
            print_columns=table.print_columns,
        )
        rows = _rows_source(columns, table.positions, start, stop)
        head = sheet_head(spec) + header.encode()
        out.append((spec, Streamed(head, rows, sheet_tail(spec), stop - start)))
    return out


def _rows_source(
    columns: list[Column], positions: np.ndarray | None, start: int, stop: int
) -> RowSource:
    """Rows ``start`` to ``stop`` of a table (in ``positions`` order when it is sorted)."""
    if positions is None:
        part = [replace(c, values=c.values.iloc[start:stop]) for c in columns]
        return partial(rows_xml, part)
    return partial(rows_xml, columns, positions=positions[start:stop])


def _length(values: dict[str, pd.Series]) -> int:
    """Rows of a table (its columns all have the same length)."""
    return len(next(iter(values.values()))) if values else 0
