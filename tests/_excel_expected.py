"""What each table sheet of report.xlsx must hold, computed from an ``AuditResult`` directly.

An oracle for the workbook tests, written without the writer's code: the headers of each sheet
spelled out, the Guests order (worst outcome first), the ``outcome`` and ``fix`` columns, and
every cell's value as a spreadsheet program must read it back (``None`` for an empty cell).
Text goes through :func:`audit.render.safe.excel_text` (the neutralisation rules, tested on
their own in ``test_render_safe.py``); nothing else of ``audit.render`` is used beyond
``guest_view``, the display join every renderer shares.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from audit.analysis.result import AuditResult
from audit.render._common import guest_view
from audit.render.safe import excel_text

GUEST_ORDER = ("blocked", "unmanaged", "unknown", "out_of_scope", "ready")

# Per sheet: (header, source column, kind), in sheet order.
_T, _L, _S, _I, _B, _D, _J = "text", "list", "styled", "int", "bool", "datetime", "json"
SHEETS: dict[str, list[tuple[str, str, str]]] = {
    "Changes": [
        ("kind", "kind", _S),
        ("rule_id", "rule_id", _T),
        ("severity", "severity", _S),
        ("object_id", "object_id", _T),
        ("user_principal_name", "user_principal_name", _T),
        ("display_name", "display_name", _T),
        ("old outcome", "old_outcome", _S),
        ("new outcome", "new_outcome", _S),
        ("detail", "detail", _T),
    ],
    "Findings": [
        ("rule_id", "rule_id", _T),
        ("severity", "severity", _S),
        ("status", "status", _S),
        ("user_principal_name", "user_principal_name", _T),
        ("outcome", "outcome", _S),
        ("detail", "detail", _T),
        ("fix", "fix", _T),
        ("display_name", "display_name", _T),
        ("mail", "mail", _T),
        ("domain", "domain", _T),
        ("level", "level", _T),
        ("muted_by", "muted_by", _T),
        ("object_id", "object_id", _T),
    ],
    "Guests": [
        ("display_name", "display_name", _T),
        ("user_principal_name", "user_principal_name", _T),
        ("outcome", "outcome", _S),
        ("reasons", "reasons", _L),
        ("fix", "fix", _T),
        ("what-if outcome", "whatif_outcome", _S),
        ("what-if reasons", "whatif_reasons", _L),
        ("flagged_rules", "flagged_rules", _L),
        ("muted_rules", "muted_rules", _L),
        ("mail", "mail", _T),
        ("mail_domain", "mail_domain", _T),
        ("other_mails", "other_mails", _L),
        ("primary_smtp", "primary_smtp", _T),
        ("proxy_addresses", "proxy_addresses", _L),
        ("provisioning_upn", "provisioning_upn", _T),
        ("original_upn", "original_upn", _T),
        ("target_key", "target_key", _T),
        ("target_email", "target_email", _T),
        ("what-if target_email", "whatif_target_email", _T),
        ("mu_primary_smtp", "mu_primary_smtp", _T),
        ("mu_external_email", "mu_external_email", _T),
        ("mu_email_addresses", "mu_email_addresses", _L),
        ("scope", "scope", _T),
        ("user_type", "user_type", _T),
        ("account_enabled", "account_enabled", _B),
        ("external_user_state", "external_user_state", _T),
        ("created", "created", _D),
        ("last_sign_in", "last_sign_in", _D),
        ("target account", "target_account", _T),
        ("in_scope", "in_scope", _B),
        ("match_value", "match_value", _T),
        ("step 1: scope", "step_scope", _T),
        ("step 2: match", "step_match", _T),
        ("step 3: action", "step_action", _T),
        ("step 4: attributes", "step_attributes", _T),
        ("step 5: result", "step_result", _T),
        ("object_id", "object_id", _T),
    ],
    "Domains": [
        ("domain", "domain", _T),
        ("guests", "guests", _I),
        ("affected", "affected", _I),
        ("verified_in_target", "verified_in_target", _B),
        ("claimed_elsewhere", "claimed_elsewhere", _B),
        ("public_provider", "public_provider", _B),
        ("mail_state", "mail_state", _T),
        ("mx", "mx", _T),
        ("txt_state", "txt_state", _T),
    ],
    "Rules": [
        ("rule_id", "rule_id", _T),
        ("title", "title", _T),
        ("severity", "severity", _S),
        ("state", "state", _S),
        ("flagged", "flagged", _I),
        ("muted", "muted", _I),
        ("remediation", "remediation", _T),
        ("level", "level", _T),
        ("reason", "reason", _T),
        ("passed", "passed", _I),
        ("not evaluated", "not_evaluated", _I),
        ("rationale", "rationale", _T),
    ],
    "Sources": [
        ("name", "name", _T),
        ("state", "state", _S),
        ("rows", "rows", _I),
        ("error", "error", _T),
        ("missing_permission", "missing_permission", _T),
        ("detail", "detail", _J),
    ],
}
PRINTED = {"Findings": 7, "Guests": 6, "Rules": 7}
"""Leading columns that print on wide sheets."""


def headers(title: str) -> list[str]:
    """The header row of a sheet (continuation sheets ``Guests (2)`` like ``Guests``)."""
    return [h for h, _, _ in SHEETS[title.split(" (")[0]]]


def frames(result: AuditResult) -> dict[str, pd.DataFrame]:
    """Each table sheet's source rows, in sheet order, with the computed columns."""
    remediation = dict(zip(result.rules["rule_id"], result.rules["remediation"], strict=True))
    outcome_of = dict(zip(result.outcomes["object_id"], result.outcomes["outcome"], strict=True))
    findings = result.findings.reset_index(drop=True).copy()
    findings["outcome"] = [outcome_of.get(i) for i in findings["object_id"]]
    findings["fix"] = [remediation.get(r) for r in findings["rule_id"]]
    guests = guest_view(result).copy()
    guests["fix"] = [remediation.get(r[0]) if len(r) else None for r in guests["reasons"]]
    rank = [
        GUEST_ORDER.index(o) if o in GUEST_ORDER else len(GUEST_ORDER) for o in guests["outcome"]
    ]
    guests = guests.iloc[np.argsort(np.array(rank), kind="stable")].reset_index(drop=True)
    sources = pd.DataFrame([s.to_dict() for s in result.sources])
    out = {
        "Findings": findings,
        "Guests": guests,
        "Domains": result.domains.reset_index(drop=True),
        "Rules": result.rules.reset_index(drop=True),
        "Sources": sources,
    }
    if result.diff is not None:
        out = {"Changes": result.diff.changes().reset_index(drop=True), **out}
    return out


def rows(result: AuditResult) -> dict[str, list[list[Any]]]:
    """Each table sheet's data rows (no header) as values read back from the workbook."""
    out = {}
    for title, frame in frames(result).items():
        columns = [[value(v, kind) for v in _values(frame, key)] for _, key, kind in SHEETS[title]]
        out[title] = [list(row) for row in zip(*columns, strict=True)]
    return out


def value(raw: Any, kind: str) -> Any:
    """One cell as read back: typed, text neutralised for Excel, ``None`` when empty."""
    if raw is None:
        return None
    if kind == "int":
        return int(raw)
    if kind == "bool":
        return bool(raw)
    if kind == "datetime":
        return raw.astimezone(UTC).replace(tzinfo=None)
    if kind == "json":
        if isinstance(raw, dict | list) and not raw:
            return None
        raw = orjson.dumps(raw, default=str).decode()
    elif kind == "list" and isinstance(raw, list | tuple | np.ndarray):
        raw = "; ".join("" if x is None else str(x) for x in raw)
    text = excel_text(str(raw))
    return text or None


def shown(cell: Any) -> str:
    """A cell as LibreOffice's CSV export shows it (dates in the workbook's format)."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, datetime):
        return cell.strftime("%Y-%m-%d %H:%M:%S")
    return str(cell)


def _values(frame: pd.DataFrame, key: str) -> list[Any]:
    """A column as plain Python values (NA → None, timestamps as datetimes)."""
    if key not in frame.columns:
        return [None] * len(frame)
    series = frame[key]
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return [None if pd.isna(v) else v.to_pydatetime() for v in series]
    values = series.astype(object).where(series.notna(), None).tolist()
    return [v.tolist() if isinstance(v, np.ndarray) else v for v in values]
