"""Assemble a :class:`Snapshot` from raw source records (live or from an export folder)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd

from audit import addresses as addr
from audit.collectors import tables
from audit.collectors.attributes import attributes_table, wanted_attributes
from audit.models import SourceState, SourceStatus
from audit.snapshot import Snapshot

JSON = dict[str, Any]

_TABLES = {
    "service_principal": tables.service_principal_table,
    "app_role_assignments": tables.assignments_table,
    "group_members": tables.group_members_table,
    "groups": tables.groups_table,
    "member_users": tables.users_table,
    "sync_jobs": tables.json_table,
    "sync_schema": tables.json_table,
    "provisioning_logs": tables.provisioning_logs_table,
}


def build_snapshot(
    records: dict[str, list[JSON]],
    statuses: dict[str, SourceStatus],
    *,
    collected_at: datetime,
    extra_tables: dict[str, pd.DataFrame] | None = None,
    config: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Snapshot:
    """Typed tables for every usable source; failed sources keep their status and no table."""
    domains = tables.domains_table(records.get("domains", []))
    users = tables.users_table(records.get("users", []))
    built = {"domains": domains, "users": users}
    built |= source_tables(records, statuses, take=False)
    built |= extra_tables or {}
    tenant = tables.organization_info(records.get("organization", []), domains)
    statuses = dict(statuses) | _table_counts(statuses, built)
    return Snapshot(
        tenant=tenant,
        collected_at=collected_at,
        sources=statuses,
        tables=built,
        config=config or {},
        extra=extra or {},
    )


def source_tables(
    records: dict[str, list[JSON]], statuses: dict[str, SourceStatus], *, take: bool
) -> dict[str, pd.DataFrame]:
    """Typed tables of the app's usable sources (service principal, assignments, group members and
    groups, jobs, schema, logs, the users who are not guests) and the extra source attributes the
    schema names (``user_attributes``).

    With ``take``, each source's raw records are removed from ``records`` once converted, so
    a collection can turn them into (far smaller) tables early and let the raw objects go
    (hundreds of MB of group members at a million guests); ``build_snapshot`` then takes the
    tables through ``extra_tables``.
    """
    built = {}
    extra = attributes_table(records, wanted_attributes(records))  # before records are taken
    if extra is not None:
        built["user_attributes"] = extra
        status = statuses.get("user_attributes")
        if status is None or not status.usable:  # an export's users.json carried them
            detail = {"from": "the users' own records"}
            statuses["user_attributes"] = SourceStatus(
                "user_attributes", SourceState.OK, rows=len(extra), detail=detail
            )
    if take:
        records.pop("user_attributes", None)
    for source, make in _TABLES.items():
        status = statuses.get(source)
        if status is not None and status.usable and source in records:
            built[source] = make(records.pop(source) if take else records[source])
    return built


def _table_counts(
    statuses: dict[str, SourceStatus], built: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    """Row counts as stored (after de-duplication), for sources that produced a table."""
    out = {}
    for name, status in statuses.items():
        if name in built and status.state in (SourceState.OK, SourceState.PARTIAL):
            out[name] = SourceStatus(
                name, status.state, len(built[name]), status.error, status.missing_permission,
                status.detail,
            )  # fmt: skip
    return out


def guest_domains(users: pd.DataFrame) -> list[str]:
    """Distinct A-label domains of guests' mail, otherMails and de-mangled UPNs (what DNS looks up)."""
    from audit.guests import guest_mask

    guests = users[guest_mask(users)]
    others = guests["otherMails"].explode().dropna().astype("str")
    values: Iterable[pd.Series] = (
        guests["mail"],
        others,
        addr.demangle_upn(guests["userPrincipalName"]),
    )
    found: set[str] = set()
    for series in values:
        found |= set(addr.domain_of(series.astype("str")).dropna())
    return sorted(found)
