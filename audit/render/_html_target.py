"""The "Target side" section of report.html: what the target itself said (target accounts, the
organization's domains against the configured ones, the reconciliation, directory users to review).

Only formats what the :class:`~audit.analysis.result.AuditResult` holds; tables are capped at
:data:`TARGET_LIMIT` rows and say how many more the workbook and CSVs hold.
"""

from __future__ import annotations

from typing import Any

from audit._values import column
from audit.analysis.result import AuditResult
from audit.render._common import OUTCOMES
from audit.render.json_out import records as json_records

__all__ = ["TARGET_LIMIT", "target_section"]

TARGET_LIMIT = 50
"""Rows of the target section's tables (mismatches, directory users); the rest is counted."""

_ACCOUNT_MEANINGS = {
    "new": "no account the organization can see has the e-mail",
    "links_managed": "a managed account has the e-mail: provisioning links it",
    "links_unmanaged": "an unmanaged account has the e-mail (link or create: not documented)",
    "already_provisioned": "the provisioning directory already holds the guest",
    "conflict": "the e-mail belongs to another directory user (see target-email-conflict)",
    "unknown": "no e-mail, or a listing needed to tell was not read",
}


def target_section(result: AuditResult) -> dict[str, Any] | None:
    """The "Target side" section: target accounts, domains, reconciliation, directory users."""
    accounts = column(result.guests, "target_account")
    users = result.findings[column(result.findings, "level") == "target"]
    if accounts.isna().all() and result.target_domains is None and users.empty:
        return None
    counts = accounts.value_counts()
    return {
        "accounts": [
            {"key": key, "count": int(counts.get(key, 0)), "means": means}
            for key, means in _ACCOUNT_MEANINGS.items()
        ]
        if accounts.notna().any()
        else [],
        "directory_read": result.reconciliation is not None,
        "domains": result.target_domains,
        "reconciliation": _reconciliation(result),
        "users": json_records(users.head(TARGET_LIMIT), _TARGET_USER_FIELDS),
        "users_total": len(users),
    }


_TARGET_USER_FIELDS = ("rule_id", "severity", "status", "object_id", "user_principal_name",
                       "display_name", "detail")  # fmt: skip


def _reconciliation(result: AuditResult) -> dict[str, Any] | None:
    counts = result.reconciliation_counts()
    table = result.reconciliation
    if counts is None or table is None:
        return None
    mismatches = table[table["agrees"].eq(False).fillna(False).astype(bool)]
    fields = ("display_name", "user_principal_name", "predicted", "actual_account", "mismatch")
    return {
        "summary": counts,
        "by_outcome": [{"key": o} | counts["by_outcome"][o] for o in OUTCOMES],
        "mismatches": json_records(mismatches.head(TARGET_LIMIT), fields),
        "more": max(len(mismatches) - TARGET_LIMIT, 0),
    }
