"""Waivers: the config's ``[[exceptions]]`` mute matching findings until they expire.

A waiver names a guest (object id or UPN), an address or a mail domain, a rule id (or ``*``), a
reason, an owner and an expiry date. Muted findings stay visible as ``muted``; expired waivers
open their findings again (the monthly diff lists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

__all__ = ["Waiver", "apply_waivers", "expired", "unused_waivers"]


@dataclass(frozen=True)
class Waiver:
    """A muted finding: a guest (id or UPN), address or domain, for one rule or all, until expiry."""

    match: str
    rule: str = "*"
    reason: str = ""
    owner: str = ""
    expires: date | None = None

    def active(self, today: date) -> bool:
        """True until (and including) the expiry date."""
        return self.expires is None or today <= self.expires


def apply_waivers(
    findings: pd.DataFrame, frame: pd.DataFrame, waivers: tuple[Waiver, ...], today: date
) -> pd.DataFrame:
    """Set ``status`` to ``muted`` (and ``muted_by``) for findings an active waiver covers."""
    active = [w for w in waivers if w.active(today)]
    if not active or findings.empty:
        return findings
    findings = findings.copy()
    upn_by_id = frame.set_index("object_id")["provisioning_upn"].str.lower()
    for waiver in active:
        hit = _matches(findings, upn_by_id, waiver) & (findings["status"] == "flagged")
        findings.loc[hit, "status"] = "muted"
        findings.loc[hit, "muted_by"] = _label(waiver)
    return findings


def unused_waivers(
    findings: pd.DataFrame, frame: pd.DataFrame, waivers: tuple[Waiver, ...], today: date
) -> list[Waiver]:
    """Active waivers that match no finding of this result (a typo, or the problem is gone)."""
    if findings.empty:
        return [w for w in waivers if w.active(today)]
    upn_by_id = frame.set_index("object_id")["provisioning_upn"].str.lower()
    return [w for w in waivers if w.active(today) and not _matches(findings, upn_by_id, w).any()]


def _matches(findings: pd.DataFrame, upn_by_id: pd.Series, waiver: Waiver) -> pd.Series:
    key = waiver.match.strip().lower()
    rule_ok = findings["rule_id"].eq(waiver.rule) if waiver.rule != "*" else True
    who = (
        findings["object_id"].str.lower().eq(key)
        | findings["user_principal_name"].str.lower().eq(key)
        | findings["object_id"].map(upn_by_id).eq(key)
        | findings["mail"].str.lower().eq(key)
        | findings["domain"].str.lower().eq(key)
    )
    return (who.fillna(False).astype(bool) & rule_ok).astype(bool)


def _label(waiver: Waiver) -> str:
    until = f" until {waiver.expires.isoformat()}" if waiver.expires else ""
    owner = f" ({waiver.owner})" if waiver.owner else ""
    return f"{waiver.reason or 'exception'}{owner}{until}"


def expired(waivers: tuple[Waiver, ...], today: date) -> list[Waiver]:
    """Waivers whose expiry date has passed (their findings are open again)."""
    return [w for w in waivers if not w.active(today)]
