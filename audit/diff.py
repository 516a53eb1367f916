"""Run-to-run diff: new, fixed and still-open findings, outcome changes, guests added and removed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from audit.result import AuditResult

_KEY = ["rule_id", "object_id"]


@dataclass
class Diff:
    """What changed between an older and a newer analysis of the same tenant."""

    old_generated_at: str
    new_findings: pd.DataFrame
    fixed_findings: pd.DataFrame
    still_open: pd.DataFrame
    outcome_changes: pd.DataFrame
    guests_added: list[str]
    guests_removed: list[str]

    def counts(self) -> dict[str, Any]:
        """Headline numbers for summaries."""
        return {
            "new": len(self.new_findings),
            "fixed": len(self.fixed_findings),
            "still_open": len(self.still_open),
            "outcome_changes": len(self.outcome_changes),
            "guests_added": len(self.guests_added),
            "guests_removed": len(self.guests_removed),
        }


def diff_results(old: AuditResult, new: AuditResult) -> Diff:
    """Compare two analyses by (rule id, object id) and by guest outcome."""
    before = old.open_findings()
    after = new.open_findings()
    merged = after.merge(before[_KEY], on=_KEY, how="left", indicator=True)
    gone = before.merge(after[_KEY], on=_KEY, how="left", indicator=True)
    old_ids = set(old.guests["object_id"])
    new_ids = set(new.guests["object_id"])
    return Diff(
        old_generated_at=old.generated_at.isoformat(),
        new_findings=merged[merged["_merge"] == "left_only"].drop(columns="_merge"),
        fixed_findings=gone[gone["_merge"] == "left_only"].drop(columns="_merge"),
        still_open=merged[merged["_merge"] == "both"].drop(columns="_merge"),
        outcome_changes=_outcome_changes(old, new),
        guests_added=sorted(new_ids - old_ids),
        guests_removed=sorted(old_ids - new_ids),
    )


def _outcome_changes(old: AuditResult, new: AuditResult) -> pd.DataFrame:
    a = old.outcomes[["object_id", "outcome"]].rename(columns={"outcome": "old_outcome"})
    b = new.outcomes[["object_id", "outcome"]].rename(columns={"outcome": "new_outcome"})
    both = a.merge(b, on="object_id", how="inner")
    changed = both[both["old_outcome"] != both["new_outcome"]]
    names = new.guests.set_index("object_id")["user_principal_name"]
    return changed.assign(user_principal_name=changed["object_id"].map(names)).reset_index(
        drop=True
    )
