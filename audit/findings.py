"""Findings, per-rule summaries and per-(rule, guest) statuses from the engine's rule runs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit.engine import APP, RuleRun
from audit.models import RuleState
from audit.snapshot import Snapshot

FINDING_COLUMNS = [
    "rule_id",
    "severity",
    "status",
    "object_id",
    "user_principal_name",
    "display_name",
    "mail",
    "domain",
    "detail",
    "level",
    "muted_by",
]


def findings_table(
    runs: Sequence[RuleRun], frame: pd.DataFrame, snapshot: Snapshot
) -> pd.DataFrame:
    """One row per (flagged rule, object); app-level rules give one finding on the app."""
    parts = [_guest_findings(run, frame) for run in runs if run.rule.level != APP]
    parts += [_app_finding(run, frame, snapshot) for run in runs if run.rule.level == APP]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in FINDING_COLUMNS})
    return pd.concat(parts, ignore_index=True)[FINDING_COLUMNS]


def _flag_index(run: RuleRun) -> pd.Index:
    if run.state is not RuleState.RAN or run.mask is None:
        return pd.Index([])
    return run.mask.index[run.mask.fillna(False).astype(bool).to_numpy()]


def _guest_findings(run: RuleRun, frame: pd.DataFrame) -> pd.DataFrame:
    idx = _flag_index(run)
    rows = frame.loc[idx]
    details = run.details if run.details is not None else pd.Series("", index=idx)
    return pd.DataFrame(
        {
            "rule_id": run.rule.id,
            "severity": run.rule.severity.value,
            "status": "flagged",
            "object_id": rows["object_id"],
            "user_principal_name": rows["user_principal_name"],
            "display_name": rows["display_name"],
            "mail": rows["mail"],
            "domain": rows["mail_domain"],
            "detail": details.reindex(idx).fillna(""),
            "level": run.rule.level,
            "muted_by": "",
        }
    )


def _app_finding(run: RuleRun, frame: pd.DataFrame, snapshot: Snapshot) -> pd.DataFrame:
    idx = _flag_index(run)
    if not len(idx):
        return pd.DataFrame(columns=FINDING_COLUMNS)
    sp = snapshot.table("service_principal")
    app_id = str(sp["id"].iloc[0]) if sp is not None and len(sp) else "app"
    app_name = str(sp["displayName"].iloc[0]) if sp is not None and len(sp) else ""
    sample = run.details.iloc[0] if run.details is not None and len(run.details) else ""
    detail = f"{len(idx)} of {len(frame)} guests affected; e.g. {sample}"
    row = dict.fromkeys(FINDING_COLUMNS, "")
    row |= {"rule_id": run.rule.id, "severity": run.rule.severity.value, "status": "flagged"}
    row |= {"object_id": app_id, "display_name": app_name, "detail": detail, "level": APP}
    return pd.DataFrame([row], columns=FINDING_COLUMNS)


def rules_table(runs: Sequence[RuleRun], findings: pd.DataFrame) -> pd.DataFrame:
    """One row per rule: metadata, ran/skipped with reason, and status counts."""
    muted = findings[findings["status"] == "muted"]["rule_id"].value_counts()
    rows = []
    for run in runs:
        mask = run.mask if run.mask is not None else pd.Series(dtype="boolean")
        flagged = int(mask.fillna(False).astype(bool).sum())
        rows.append(
            {
                "rule_id": run.rule.id,
                "title": run.rule.title,
                "severity": run.rule.severity.value,
                "level": run.rule.level,
                "state": run.state.value,
                "reason": run.reason,
                "flagged": flagged - int(muted.get(run.rule.id, 0)),
                "passed": int((mask == False).sum()),  # noqa: E712 (nullable boolean)
                "not_evaluated": int(mask.isna().sum()),
                "muted": int(muted.get(run.rule.id, 0)),
                "rationale": run.rule.rationale,
                "remediation": run.rule.remediation,
            }
        )
    return pd.DataFrame(rows)


def status_table(runs: Sequence[RuleRun], frame: pd.DataFrame) -> pd.DataFrame:
    """Per guest, each rule's status: flagged, passed, not_evaluated or skipped."""
    data = {"object_id": frame["object_id"]}
    for run in runs:
        if run.mask is None:
            data[run.rule.id] = pd.Series("skipped", index=frame.index)
            continue
        values = np.where(run.mask.isna(), "not_evaluated", "passed").astype(object)
        values[run.mask.fillna(False).astype(bool).to_numpy()] = "flagged"
        data[run.rule.id] = pd.Series(values, index=frame.index)
    return pd.DataFrame(data).astype("category").astype({"object_id": "str"})
