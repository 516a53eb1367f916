"""The diff as one table of changes (the workbook's Changes sheet): one row per change."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audit._values import column, py_values

__all__ = ["CHANGE_FIELDS", "CHANGE_KINDS", "finding_changes", "guest_rows", "outcome_rows"]

CHANGE_FIELDS = (
    "kind",
    "rule_id",
    "severity",
    "object_id",
    "user_principal_name",
    "display_name",
    "old_outcome",
    "new_outcome",
    "detail",
)
"""Columns of :meth:`Diff.changes` (the workbook's Changes sheet)."""

CHANGE_KINDS = (
    "exception_expired",
    "new",
    "outcome_changed",
    "not_rechecked",
    "fixed",
    "newly_muted",
    "guest_added",
    "guest_removed",
)
"""Kinds of change, in display order (most urgent first)."""


def finding_changes(
    kind: str,
    frame: pd.DataFrame,
    note: str | None,
    old_outcomes: dict[str, str],
    new_outcomes: dict[str, str],
) -> pd.DataFrame:
    """Change rows for one bucket of findings; ``note`` names the column shown as detail."""
    if frame.empty:
        return pd.DataFrame(columns=list(CHANGE_FIELDS))
    ids = py_values(frame["object_id"])
    detail = py_values(column(frame, "detail"))
    if note is not None:
        prefix = {"exception": "exception expired", "muted_by": "muted", "why": "not re-checked"}
        notes = py_values(column(frame, note))
        detail = [
            f"{prefix[note]}: {n or ''}" + (f" · {d}" if d else "")
            for n, d in zip(notes, detail, strict=True)
        ]
    return pd.DataFrame(
        {
            "kind": kind,
            "rule_id": py_values(frame["rule_id"]),
            "severity": py_values(frame["severity"]),
            "object_id": ids,
            "user_principal_name": py_values(column(frame, "user_principal_name")),
            "display_name": py_values(column(frame, "display_name")),
            "old_outcome": [old_outcomes.get(str(i)) for i in ids],
            "new_outcome": [new_outcomes.get(str(i)) for i in ids],
            "detail": detail,
        },
        dtype=object,
    )


def outcome_rows(changes: pd.DataFrame) -> pd.DataFrame:
    """Change rows for outcome changes; the detail names the rules that decide the new outcome."""
    reasons = py_values(column(changes, "new_reasons"))
    return pd.DataFrame(
        {
            "kind": "outcome_changed",
            "rule_id": None,
            "severity": None,
            "object_id": py_values(column(changes, "object_id")),
            "user_principal_name": py_values(column(changes, "user_principal_name")),
            "display_name": py_values(column(changes, "display_name")),
            "old_outcome": py_values(column(changes, "old_outcome")),
            "new_outcome": py_values(column(changes, "new_outcome")),
            "detail": [_reasons_text(r) for r in reasons],
        },
        dtype=object,
    )


def _reasons_text(reasons: Any) -> str:
    """``because a, b`` for a list of rule ids; "" when there are none."""
    ids = [str(r) for r in reasons] if isinstance(reasons, list) else []
    return f"because {', '.join(ids)}" if ids else ""


def guest_rows(kind: str, guests: pd.DataFrame) -> pd.DataFrame:
    """Change rows for guests added or removed."""
    outcome = py_values(column(guests, "outcome"))
    counts = py_values(column(guests, "open_findings"))
    added = kind == "guest_added"
    when = "" if added else " when removed"
    return pd.DataFrame(
        {
            "kind": kind,
            "rule_id": None,
            "severity": None,
            "object_id": py_values(column(guests, "object_id")),
            "user_principal_name": py_values(column(guests, "user_principal_name")),
            "display_name": py_values(column(guests, "display_name")),
            "old_outcome": [None] * len(outcome) if added else outcome,
            "new_outcome": outcome if added else [None] * len(outcome),
            "detail": [f"{n or 0} open finding{'s' if n != 1 else ''}{when}" for n in counts],
        },
        dtype=object,
    )
