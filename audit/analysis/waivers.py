"""Exceptions from the config mute matching findings until they expire; muted findings stay visible."""

from __future__ import annotations

from datetime import date

import pandas as pd

from audit.config import AuditConfig, AuditException


def apply_exceptions(
    findings: pd.DataFrame, frame: pd.DataFrame, config: AuditConfig, today: date
) -> pd.DataFrame:
    """Set ``status`` to ``muted`` (and ``muted_by``) for findings an active exception covers."""
    active = [e for e in config.exceptions if e.active(today)]
    if not active or findings.empty:
        return findings
    findings = findings.copy()
    upn_by_id = frame.set_index("object_id")["provisioning_upn"].str.lower()
    for exc in active:
        hit = _matches(findings, upn_by_id, exc) & (findings["status"] == "flagged")
        findings.loc[hit, "status"] = "muted"
        findings.loc[hit, "muted_by"] = _label(exc)
    return findings


def _matches(findings: pd.DataFrame, upn_by_id: pd.Series, exc: AuditException) -> pd.Series:
    key = exc.match.strip().lower()
    rule_ok = findings["rule_id"].eq(exc.rule) if exc.rule != "*" else True
    who = (
        findings["object_id"].str.lower().eq(key)
        | findings["user_principal_name"].str.lower().eq(key)
        | findings["object_id"].map(upn_by_id).eq(key)
        | findings["mail"].str.lower().eq(key)
        | findings["domain"].str.lower().eq(key)
    )
    return (who.fillna(False).astype(bool) & rule_ok).astype(bool)


def _label(exc: AuditException) -> str:
    until = f" until {exc.expires.isoformat()}" if exc.expires else ""
    owner = f" ({exc.owner})" if exc.owner else ""
    return f"{exc.reason or 'exception'}{owner}{until}"


def expired(config: AuditConfig, today: date) -> list[AuditException]:
    """Exceptions whose expiry date has passed (their findings are open again)."""
    return [e for e in config.exceptions if not e.active(today)]
