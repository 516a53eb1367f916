"""Which target profile a snapshot is analysed for: the configured one, or for ``auto`` the one the
collected service principal matches (:func:`audit.targets.choose_target`)."""

from __future__ import annotations

from typing import Any

from audit.config import AuditConfig
from audit.snapshot import Snapshot
from audit.targets import TargetChoice, choose_target

__all__ = ["collected_app", "target_for"]

_APP_FIELDS = ("id", "appId", "displayName", "appDisplayName", "applicationTemplateId")


def collected_app(snapshot: Snapshot) -> dict[str, Any] | None:
    """The collected service principal's identifying fields (None when none was collected).

    Snapshots written before ``appDisplayName`` and ``applicationTemplateId`` were kept lack them:
    those fields are then None.
    """
    table = snapshot.table("service_principal")
    if table is None or table.empty:
        return None
    row = table.iloc[0]
    return {
        f: (str(row[f]) if f in row.index and isinstance(row[f], str) else None)
        for f in _APP_FIELDS
    }


def target_for(snapshot: Snapshot, config: AuditConfig) -> TargetChoice:
    """The profile ``config.target`` names, or for ``auto`` the one the snapshot's app matches."""
    return choose_target(config.target, collected_app(snapshot))
