"""Run-to-run diff: what changed between an earlier and a later analysis of the same tenant.

Findings are matched on ``(rule_id, object_id)``. Every open finding of either run lands in
exactly one bucket, so the monthly report adds up::

    open now    = still_open + new + exceptions_expired
    open before = still_open + fixed + not_rechecked + newly_muted + open findings of removed guests

- **new**: open now, neither open nor muted before;
- **fixed**: open before and now *checked and passed* (a finding that vanished because its rule
  was skipped or its data is unknown this time is **not_rechecked**, never "fixed": a failed
  source must not look like progress);
- **exceptions_expired**: muted before, open now (the ``exception`` column holds the old reason);
- **newly_muted**: open before, muted now (an exception was added);
- findings of guests that left the tenant count under **guests_removed**, not as fixed.

Outcome changes compare the predicted outcome of guests present in both runs. Analyse each
snapshot on its own date (``analyze(snap, config, now=snap.collected_at)``) so exception expiry and
sign-in ages mean what they meant then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from audit._values import column, iso_utc, py_values, records
from audit.analysis.diff_changes import (
    CHANGE_FIELDS,
    CHANGE_KINDS,
    finding_changes,
    guest_rows,
    outcome_rows,
)
from audit.analysis.findings import FINDING_COLUMNS
from audit.analysis.result import AuditResult
from audit.models import Severity

__all__ = [
    "CHANGE_FIELDS",
    "CHANGE_KINDS",
    "GUEST_CHANGE_FIELDS",
    "OUTCOME_CHANGE_FIELDS",
    "Diff",
    "DiffSide",
    "diff_results",
]

KEY = ["rule_id", "object_id"]

OUTCOME_CHANGE_FIELDS = (
    "object_id",
    "user_principal_name",
    "display_name",
    "old_outcome",
    "new_outcome",
    "old_reasons",
    "new_reasons",
)
GUEST_CHANGE_FIELDS = (
    "object_id",
    "user_principal_name",
    "display_name",
    "outcome",
    "open_findings",
)
_STILL_OPEN_FIELDS = ("rule_id", "severity", "object_id")
_RANK = {s.value: s.rank for s in Severity}


@dataclass(frozen=True)
class DiffSide:
    """Which analysis one side of a diff is: its times, tenant and size."""

    generated_at: datetime
    collected_at: datetime | None
    tenant_id: str
    tenant_name: str
    guests: int

    @classmethod
    def of(cls, result: AuditResult) -> DiffSide:
        """The side describing ``result``."""
        return cls(
            generated_at=result.generated_at,
            collected_at=result.collected_at,
            tenant_id=str(result.tenant.get("id") or ""),
            tenant_name=str(result.tenant.get("name") or ""),
            guests=len(result.guests),
        )

    @property
    def when(self) -> datetime:
        """The moment the data describes: collection time, else analysis time."""
        return self.collected_at or self.generated_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times ISO 8601 UTC)."""
        return {
            "generated_at": iso_utc(self.generated_at),
            "collected_at": iso_utc(self.collected_at),
            "tenant_id": self.tenant_id,
            "tenant_name": self.tenant_name,
            "guests": self.guests,
        }


@dataclass
class Diff:
    """What changed between an older and a newer analysis (see the module docstring).

    Finding frames have the :data:`~audit.analysis.findings.FINDING_COLUMNS` columns (old rows for
    ``fixed_findings``, ``not_rechecked`` and the removed guests' findings, new rows otherwise);
    ``exceptions_expired`` adds ``exception`` and ``not_rechecked`` adds ``why``.
    """

    old: DiffSide
    new: DiffSide
    new_findings: pd.DataFrame
    fixed_findings: pd.DataFrame
    still_open: pd.DataFrame
    exceptions_expired: pd.DataFrame
    newly_muted: pd.DataFrame
    not_rechecked: pd.DataFrame
    outcome_changes: pd.DataFrame
    guests_added: pd.DataFrame
    guests_removed: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    old_outcomes: dict[str, str] = field(default_factory=dict, repr=False)
    new_outcomes: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def old_generated_at(self) -> str:
        """When the older analysis ran (ISO 8601 UTC)."""
        return iso_utc(self.old.generated_at) or ""

    def counts(self) -> dict[str, int]:
        """Headline numbers, in display order."""
        return {
            "new": len(self.new_findings),
            "fixed": len(self.fixed_findings),
            "still_open": len(self.still_open),
            "outcome_changes": len(self.outcome_changes),
            "guests_added": len(self.guests_added),
            "guests_removed": len(self.guests_removed),
            "exceptions_expired": len(self.exceptions_expired),
            "newly_muted": len(self.newly_muted),
            "not_rechecked": len(self.not_rechecked),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: sides, counts, warnings and one list per bucket.

        ``still_open`` lists only ``rule_id``, ``severity`` and ``object_id`` (the full rows are
        the run's own findings); every other list holds complete records.
        """
        return {
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "counts": self.counts(),
            "warnings": list(self.warnings),
            "new_findings": records(self.new_findings, FINDING_COLUMNS),
            "fixed_findings": records(self.fixed_findings, FINDING_COLUMNS),
            "exceptions_expired": records(self.exceptions_expired, (*FINDING_COLUMNS, "exception")),
            "newly_muted": records(self.newly_muted, FINDING_COLUMNS),
            "not_rechecked": records(self.not_rechecked, (*FINDING_COLUMNS, "why")),
            "still_open": records(self.still_open, _STILL_OPEN_FIELDS),
            "outcome_changes": records(self.outcome_changes, OUTCOME_CHANGE_FIELDS),
            "guests_added": records(self.guests_added, GUEST_CHANGE_FIELDS),
            "guests_removed": records(self.guests_removed, GUEST_CHANGE_FIELDS),
        }

    def changes(self) -> pd.DataFrame:
        """One row per change (:data:`CHANGE_FIELDS`), most urgent kind first; no still-open rows."""
        outcomes = (self.old_outcomes, self.new_outcomes)
        parts = [
            finding_changes("exception_expired", self.exceptions_expired, "exception", *outcomes),
            finding_changes("new", self.new_findings, None, *outcomes),
            outcome_rows(self.outcome_changes),
            finding_changes("not_rechecked", self.not_rechecked, "why", *outcomes),
            finding_changes("fixed", self.fixed_findings, None, *outcomes),
            finding_changes("newly_muted", self.newly_muted, "muted_by", *outcomes),
            guest_rows("guest_added", self.guests_added),
            guest_rows("guest_removed", self.guests_removed),
        ]
        frame = pd.concat(
            [p for p in parts if len(p)] or [pd.DataFrame(columns=list(CHANGE_FIELDS))],
            ignore_index=True,
        )
        return frame[list(CHANGE_FIELDS)]


def diff_results(old: AuditResult, new: AuditResult) -> Diff:
    """Compare two analyses by (rule id, object id) and by guest outcome."""
    old_ids = set(py_values(column(old.guests, "object_id")))
    new_ids = set(py_values(column(new.guests, "object_id")))
    before = _findings(old)
    after = _findings(new)
    old_state = _status_by_key(before)
    new_state = _status_by_key(after)
    open_before = before[before["status"] == "flagged"]
    open_after = after[after["status"] == "flagged"]
    was = _lookup(open_after, old_state)
    now = _lookup(open_before, new_state)
    gone_guest = open_before["object_id"].isin(old_ids - new_ids).to_numpy()
    vanished = open_before[(now == "").to_numpy() & ~gone_guest]
    recheck = _recheck(new, vanished)
    return Diff(
        old=DiffSide.of(old),
        new=DiffSide.of(new),
        new_findings=_sorted(open_after[(was == "").to_numpy()]),
        fixed_findings=_sorted(vanished[(recheck == "").to_numpy()]),
        still_open=_sorted(open_after[(was == "flagged").to_numpy()]),
        exceptions_expired=_expired(open_after[(was == "muted").to_numpy()], before),
        newly_muted=_sorted(after[(after["status"] == "muted") & _keys_in(after, open_before)]),
        not_rechecked=_sorted(
            vanished[(recheck != "").to_numpy()].assign(why=recheck[recheck != ""].to_numpy())
        ),
        outcome_changes=_outcome_changes(old, new),
        guests_added=_guests(new, open_after, new_ids - old_ids),
        guests_removed=_guests(old, open_before, old_ids - new_ids),
        warnings=_warnings(DiffSide.of(old), DiffSide.of(new)),
        old_outcomes=_outcome_map(old),
        new_outcomes=_outcome_map(new),
    )


def _findings(result: AuditResult) -> pd.DataFrame:
    """The findings with every contract column, one row per key (first wins), index 0..n-1."""
    findings = result.findings
    frame = pd.DataFrame({name: column(findings, name) for name in FINDING_COLUMNS})
    frame["muted_by"] = frame["muted_by"].fillna("")
    return frame.drop_duplicates(KEY).reset_index(drop=True)


def _status_by_key(findings: pd.DataFrame) -> pd.Series:
    """``status`` indexed by (rule_id, object_id)."""
    return findings.set_index(KEY)["status"]


def _lookup(frame: pd.DataFrame, status: pd.Series) -> pd.Series:
    """For each row of ``frame``: its key's status in the other run, "" when absent."""
    if frame.empty:
        return pd.Series([], dtype=object)
    index = pd.MultiIndex.from_frame(frame[KEY])
    found = status.reindex(index)
    return pd.Series(found.to_numpy(dtype=object), dtype=object).fillna("")


def _keys_in(frame: pd.DataFrame, other: pd.DataFrame) -> pd.Series:
    """True for rows of ``frame`` whose key also appears in ``other``."""
    keys = pd.MultiIndex.from_frame(frame[KEY])
    return pd.Series(keys.isin(pd.MultiIndex.from_frame(other[KEY])), index=frame.index)


def _recheck(new: AuditResult, vanished: pd.DataFrame) -> pd.Series:
    """Why a vanished finding was not re-checked in the new run; "" when it was and passed."""
    if vanished.empty:
        return pd.Series([], dtype=object)
    rules = new.rules
    state = dict(
        zip(py_values(column(rules, "rule_id")), py_values(column(rules, "state")), strict=True)
    )
    reason = dict(
        zip(py_values(column(rules, "rule_id")), py_values(column(rules, "reason")), strict=True)
    )
    status = _guest_status(new, vanished)
    why = []
    for rule_id, guest_status in zip(vanished["rule_id"].tolist(), status, strict=True):
        rule_state = state.get(rule_id)
        if rule_state is None:
            why.append("rule not run in the new analysis")
        elif rule_state == "skipped":
            why.append(f"rule skipped: {reason.get(rule_id) or 'its data was not collected'}")
        elif guest_status in (None, "passed"):
            why.append("")
        else:
            why.append(f"{str(guest_status).replace('_', ' ')} in the new analysis")
    return pd.Series(why, dtype=object)


def _guest_status(new: AuditResult, frame: pd.DataFrame) -> list[str | None]:
    """The new run's per-(rule, guest) status of each row, None when it has no record of it."""
    out: list[str | None] = [None] * len(frame)
    statuses = new.statuses
    if statuses is None or statuses.empty or "object_id" not in statuses.columns:
        return out
    table = statuses.drop_duplicates("object_id").set_index("object_id")
    positions = pd.Series(np.arange(len(frame)), index=frame.index)
    for rule_id, rows in frame.groupby("rule_id", sort=False).groups.items():
        if rule_id not in table.columns:
            continue
        values = table[rule_id].reindex(frame.loc[rows, "object_id"]).to_numpy(dtype=object)
        for position, value in zip(positions[rows].tolist(), values, strict=True):
            out[position] = value if isinstance(value, str) else None
    return out


def _expired(rows: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """Findings open again because their exception expired, with the old exception's reason."""
    if rows.empty:
        return _sorted(rows.assign(exception=pd.Series([], dtype=object)))
    reasons = before.set_index(KEY)["muted_by"]
    found = reasons.reindex(pd.MultiIndex.from_frame(rows[KEY])).to_numpy(dtype=object)
    return _sorted(rows.assign(exception=found))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Most severe first, then rule id and UPN; index 0..n-1."""
    if frame.empty:
        return frame.reset_index(drop=True)
    rank = -frame["severity"].astype(object).map(_RANK).fillna(-1).astype(int)
    order = pd.DataFrame(
        {"r": rank, "i": frame["rule_id"], "u": frame["user_principal_name"].fillna("")}
    ).sort_values(["r", "i", "u"], kind="stable")
    return frame.loc[order.index].reset_index(drop=True)


def _outcome_map(result: AuditResult) -> dict[str, str]:
    """Object id → predicted outcome."""
    outcomes = result.outcomes
    ids = py_values(column(outcomes, "object_id"))
    values = py_values(column(outcomes, "outcome"))
    return {str(i): str(v) for i, v in zip(ids, values, strict=True) if v is not None}


def _outcome_changes(old: AuditResult, new: AuditResult) -> pd.DataFrame:
    """Guests in both runs whose predicted outcome changed (with both runs' reasons)."""
    a = _outcome_frame(old).rename(columns={"outcome": "old_outcome", "reasons": "old_reasons"})
    b = _outcome_frame(new).rename(columns={"outcome": "new_outcome", "reasons": "new_reasons"})
    both = a.merge(b, on="object_id", how="inner")
    changed = both[both["old_outcome"].fillna("") != both["new_outcome"].fillna("")]
    names = _names(new.guests)
    changed = changed.merge(names, on="object_id", how="left")
    order = {o: i for i, o in enumerate(("blocked", "unmanaged", "unknown", "out_of_scope"))}
    rank = changed["new_outcome"].map(lambda o: order.get(o, 9))
    changed = changed.assign(_r=rank).sort_values(
        ["_r", "user_principal_name"], kind="stable", na_position="last"
    )
    return changed[list(OUTCOME_CHANGE_FIELDS)].reset_index(drop=True)


def _outcome_frame(result: AuditResult) -> pd.DataFrame:
    """object_id, outcome, reasons (one row per guest; values stay as pandas holds them)."""
    return _objects(result.outcomes, ("object_id", "outcome", "reasons"))


def _names(guests: pd.DataFrame) -> pd.DataFrame:
    """object_id, user_principal_name, display_name of every guest."""
    return _objects(guests, ("object_id", "user_principal_name", "display_name"))


def _objects(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """Some columns of ``frame`` as object columns (missing ones all-NA), one row per object."""
    data = {name: column(frame, name).to_numpy(dtype=object) for name in names}
    return pd.DataFrame(data, dtype=object).drop_duplicates("object_id")


def _guests(result: AuditResult, open_: pd.DataFrame, ids: set[Any]) -> pd.DataFrame:
    """Guests of ``result`` among ``ids`` with their outcome and number of open findings."""
    names = _names(result.guests)
    chosen = names[names["object_id"].isin(ids)]
    outcomes = _outcome_map(result)
    counts = open_["object_id"].value_counts()
    frame = chosen.assign(
        outcome=pd.Series(
            [outcomes.get(str(i)) for i in chosen["object_id"]], index=chosen.index, dtype=object
        ),
        open_findings=[int(counts.get(i, 0)) for i in chosen["object_id"]],
    )
    frame = frame.sort_values("user_principal_name", kind="stable", na_position="last")
    return frame[list(GUEST_CHANGE_FIELDS)].reset_index(drop=True)


def _warnings(old: DiffSide, new: DiffSide) -> list[str]:
    """Reasons to distrust the comparison: different tenants, or the runs in the wrong order."""
    out = []
    if old.tenant_id and new.tenant_id and old.tenant_id != new.tenant_id:
        out.append(f"the runs are of different tenants ({old.tenant_id} and {new.tenant_id})")
    if _aware(old.when) > _aware(new.when):
        out.append("the earlier run is newer than the later one (arguments swapped?)")
    return out


def _aware(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC so both sides compare."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
