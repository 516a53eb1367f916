"""Findings, per-rule summaries and per-(rule, guest) statuses from the engine's rule runs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit._text import text_array, text_series
from audit.analysis.engine import APP, TARGET, RuleRun
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


_FRAME_FIELDS = {
    "object_id": "object_id",
    "user_principal_name": "user_principal_name",
    "display_name": "display_name",
    "mail": "mail",
    "mail_domain": "domain",
}
# A target-level finding names the directory user: its id, userName, displayName, e-mail, domain.
_TARGET_FIELDS = {
    "tu_id": "object_id",
    "tu_user_name": "user_principal_name",
    "tu_display_name": "display_name",
    "tu_email": "mail",
    "tu_email_domain": "domain",
}


def findings_table(
    runs: Sequence[RuleRun],
    frame: pd.DataFrame,
    snapshot: Snapshot,
    target_users: pd.DataFrame | None = None,
    *,
    release: bool = False,
) -> pd.DataFrame:
    """One row per (flagged rule, object); app-level rules give one finding on the app, and
    target-level rules one per flagged user of the target's directory (``target_users``).

    ``release``: let go of each run's details once the findings hold them (``RuleRun.details``
    becomes None): a guest- or target-level run's as soon as they are copied, so the two copies
    are never whole at once."""
    guest_runs = [run for run in runs if run.rule.level not in (APP, TARGET)]
    parts = [_guest_findings(guest_runs, frame, release=release)]
    target_runs = [run for run in runs if run.rule.level == TARGET]
    if target_runs and target_users is not None:
        parts.append(_guest_findings(target_runs, target_users, _TARGET_FIELDS, release=release))
    parts += [_app_finding(run, frame, snapshot) for run in runs if run.rule.level == APP]
    if release:
        for run in runs:
            run.details = None
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in FINDING_COLUMNS})
    return pd.concat(parts, ignore_index=True)[FINDING_COLUMNS]


def _flag_index(run: RuleRun) -> pd.Index:
    if run.state is not RuleState.RAN or run.mask is None:
        return pd.Index([])
    return run.mask.index[run.mask.fillna(False).astype(bool).to_numpy()]


def _flag_positions(run: RuleRun) -> np.ndarray:
    if run.state is not RuleState.RAN or run.mask is None:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(run.mask.fillna(False).astype(bool).to_numpy())


def _guest_findings(
    runs: Sequence[RuleRun],
    frame: pd.DataFrame,
    fields: dict[str, str] = _FRAME_FIELDS,
    *,
    release: bool = False,
) -> pd.DataFrame:
    """The findings of guest-level rules (or of target-level ones over the target users frame,
    with their ``fields``), rule after rule, built with one take per column."""
    positions = [_flag_positions(run) for run in runs]
    rows = np.concatenate([np.zeros(0, dtype=np.int64), *positions])
    index = pd.RangeIndex(len(rows))
    owner = pa.array(np.repeat(np.arange(len(runs)), [len(p) for p in positions]))

    def per_rule(values: list[str]) -> pd.Series:
        return text_series(pc.take(pa.array(values, pa.large_string()), owner), index)

    columns = {
        "rule_id": per_rule([run.rule.id for run in runs]),
        "severity": per_rule([run.rule.severity.value for run in runs]),
        "status": pd.Series("flagged", index=index, dtype="str"),
    }
    for source, name in fields.items():
        columns[name] = frame[source].take(rows).set_axis(index)
    columns["detail"] = text_series(pa.concat_arrays(_details(runs, release)), index)
    columns["level"] = per_rule([run.rule.level for run in runs])
    columns["muted_by"] = pd.Series("", index=index, dtype="str")
    return pd.DataFrame(columns, index=index)


def _details(runs: Sequence[RuleRun], release: bool = False) -> list[object]:
    """Each run's details for its flagged rows, in row order ("" where a rule has none); with
    ``release``, each run's own details are let go of once copied."""
    arrays = [pa.array([], pa.large_string())]
    for run in runs:
        idx = _flag_index(run)
        details = run.details if run.details is not None else pd.Series("", index=idx)
        arrays.append(text_array(details.reindex(idx).fillna("")))
        if release:
            run.details = None
    return arrays


def _app_finding(run: RuleRun, frame: pd.DataFrame, snapshot: Snapshot) -> pd.DataFrame:
    idx = _flag_index(run)
    if not len(idx):
        return pd.DataFrame(columns=FINDING_COLUMNS)
    sp = snapshot.table("service_principal")
    app_id = str(sp["id"].iloc[0]) if sp is not None and len(sp) else "app"
    app_name = str(sp["displayName"].iloc[0]) if sp is not None and len(sp) else ""
    samples = list(pd.unique(run.details))[:3] if run.details is not None else []
    detail = f"{len(idx)} of {len(frame)} guests affected; e.g. " + " | ".join(map(str, samples))
    row = dict.fromkeys(FINDING_COLUMNS, "")
    row |= {"rule_id": run.rule.id, "severity": run.rule.severity.value, "status": "flagged"}
    row |= {"object_id": app_id, "display_name": app_name, "detail": detail, "level": APP}
    return pd.DataFrame([row], columns=FINDING_COLUMNS)


def rules_table(runs: Sequence[RuleRun], findings: pd.DataFrame) -> pd.DataFrame:
    """One row per rule: metadata, ran/skipped with reason, and status counts."""
    muted = findings["rule_id"][(findings["status"] == "muted").fillna(False).to_numpy(bool)]
    muted = muted.value_counts()
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
    data: dict[str, pd.Series] = {"object_id": frame["object_id"].astype("str")}
    for run in runs:
        if run.mask is None:
            data[run.rule.id] = _categories(
                np.zeros(len(frame), np.int8), ("skipped",), "str", frame.index
            )
            continue
        codes = np.where(run.mask.isna().to_numpy(), 1, 2).astype(np.int8)
        codes[run.mask.fillna(False).astype(bool).to_numpy()] = 0
        data[run.rule.id] = _categories(codes, _STATUSES, object, frame.index)
    return pd.DataFrame(data, index=frame.index)


_STATUSES = ("flagged", "not_evaluated", "passed")


def _categories(
    codes: np.ndarray, names: tuple[str, ...], empty: str | type, index: pd.Index
) -> pd.Series:
    """A categorical of ``names[code]`` whose categories are the values present, sorted.

    That is what ``astype("category")`` gives, built from the codes without comparing strings.
    """
    present = np.flatnonzero(np.bincount(codes, minlength=len(names)))
    remap = np.full(len(names), -1, dtype=np.int8)
    remap[present] = np.arange(len(present), dtype=np.int8)
    categories = pd.Index([names[i] for i in present], dtype=empty if not len(present) else "str")
    return pd.Series(pd.Categorical.from_codes(remap[codes], categories=categories), index=index)
