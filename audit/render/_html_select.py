"""Which guests and domains report.html embeds when not all of them fit its budget.

Past the row or byte budget the page keeps the guests with open findings, worst outcome first
(blocked, unmanaged, unknown, out of scope, ready), then worst severity, then most open findings,
then table order (the page's default sort agrees). Everything here is
vectorised: at a million guests and findings, boolean-indexing whole frames costs seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from audit._values import column
from audit.analysis.result import AuditResult
from audit.render._common import SEVERITIES

GUEST_VIEW_COLUMNS = (
    "object_id",
    "display_name",
    "user_principal_name",
    "mail",
    "mail_domain",
    "target_email",
    "target_key",
    "scope",
    "external_user_state",
    "account_enabled",
    "match_attribute",
    "step_scope",
    "step_match",
    "step_action",
    "step_attributes",
    "step_result",
)
"""Guest columns the page's table shows (the outcome and rule columns are joined on later)."""

_FINDING_COLUMNS = ("object_id", "rule_id", "severity", "status", "level", "detail")


@dataclass(frozen=True)
class GuestIndex:
    """Guests and findings coded by object id, so selections are array lookups."""

    guest_codes: np.ndarray  # one code per guest row, -1 for a missing id
    finding_codes: np.ndarray  # one code per finding row, -1 for a missing id
    outcome_codes: np.ndarray  # one code per outcome row, -1 for a missing id
    codes: int  # number of distinct ids

    @classmethod
    def of(cls, result: AuditResult) -> GuestIndex:
        """Factorise the object ids of guests, findings and outcomes together (ids may repeat,
        or be missing)."""
        frames = (result.guests, result.findings, result.outcomes)
        ids = [column(frame, "object_id").astype("str") for frame in frames]
        codes, uniques = pd.factorize(pd.concat(ids, ignore_index=True), use_na_sentinel=True)
        ends = np.cumsum([len(i) for i in ids])
        guests, findings, outcomes = np.split(np.asarray(codes), ends[:-1])
        return cls(guests, findings, outcomes, len(uniques))

    def rows_of(self, codes: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        """Positions of the rows (coded ``codes``) whose id is marked in ``chosen``."""
        return np.flatnonzero(chosen[np.where(codes >= 0, codes, self.codes)])


OUTCOME_ORDER = ("blocked", "unmanaged", "unknown", "out_of_scope", "ready")
"""Worst outcome first: the order of the page's default sort and of the embedded subset."""


def open_guests_by_severity(result: AuditResult, index: GuestIndex) -> np.ndarray:
    """Row positions of the guests with open findings, worst outcome, then most severe first."""
    findings = result.findings
    flagged = (column(findings, "status") == "flagged") & (column(findings, "level") != "app")
    mask = flagged.fillna(False).to_numpy(dtype=bool) & (index.finding_codes >= 0)
    ranks = _severity_ranks(column(findings, "severity"))[mask]
    codes = index.finding_codes[mask]
    worst = np.full(index.codes + 1, len(SEVERITIES) + 1, dtype=np.int64)
    np.minimum.at(worst, codes, ranks)
    count = np.bincount(codes, minlength=index.codes + 1)
    guest_codes = np.where(index.guest_codes >= 0, index.guest_codes, index.codes)
    guest_worst, guest_count = worst[guest_codes], count[guest_codes]
    positions = np.flatnonzero(guest_count > 0)
    outcome = _outcome_ranks(result, index)[guest_codes][positions]
    order = np.lexsort((positions, -guest_count[positions], guest_worst[positions], outcome))
    return positions[order]


def _outcome_ranks(result: AuditResult, index: GuestIndex) -> np.ndarray:
    """Per object-id code (plus one for "no id"), the rank of its outcome in OUTCOME_ORDER."""
    ranks = np.full(index.codes + 1, len(OUTCOME_ORDER), dtype=np.int64)
    rank = {o: i for i, o in enumerate(OUTCOME_ORDER)}
    values = column(result.outcomes, "outcome").astype(object).tolist()
    table = np.array([rank.get(v, len(OUTCOME_ORDER)) for v in values], dtype=np.int64)
    codes = index.outcome_codes
    keep = codes >= 0
    ranks[codes[keep][::-1]] = table[keep][::-1]  # an id's first outcome row wins
    return ranks


def _severity_ranks(severity: pd.Series) -> np.ndarray:
    """0 for the most severe value of :data:`SEVERITIES`; unknown and missing values rank last."""
    codes, uniques = pd.factorize(severity, use_na_sentinel=True)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    table = np.array([rank.get(str(u), len(SEVERITIES)) for u in uniques] + [len(SEVERITIES)])
    return table[np.asarray(codes)]  # code -1 picks the last entry: unknown


def guest_subset(result: AuditResult, index: GuestIndex, rows: np.ndarray) -> AuditResult:
    """``result`` narrowed to the guests at ``rows`` (kept in table order), their findings and
    outcomes, with only the columns the page shows."""
    rows = np.sort(rows)
    keep = [c for c in GUEST_VIEW_COLUMNS if c in result.guests.columns]
    guests = result.guests[keep].take(rows).reset_index(drop=True)
    chosen = np.zeros(index.codes + 1, dtype=bool)
    chosen[index.guest_codes[rows]] = True
    chosen[index.codes] = False  # guests without an id own no finding and no outcome
    cols = [c for c in _FINDING_COLUMNS if c in result.findings.columns]
    findings = result.findings[cols].take(index.rows_of(index.finding_codes, chosen))
    outcomes = result.outcomes.take(index.rows_of(index.outcome_codes, chosen))
    return replace(result, guests=guests, findings=findings, outcomes=outcomes)


def domain_selection(domains: pd.DataFrame, max_rows: int) -> np.ndarray | None:
    """None (every domain) up to ``max_rows``; else the positions of the most affected ones."""
    if len(domains) <= max_rows:
        return None
    affected = pd.to_numeric(column(domains, "affected"), errors="coerce").fillna(0).to_numpy()
    guests = pd.to_numeric(column(domains, "guests"), errors="coerce").fillna(0).to_numpy()
    positions = np.arange(len(domains))
    return np.sort(np.lexsort((positions, -guests, -affected))[:max_rows])
