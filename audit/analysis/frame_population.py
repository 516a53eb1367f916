"""The users the provisioning service would read: the guests plus the snapshot's other users.

Users who are not guests (employees, contractors) are provisioned by the same job when they are in
scope, so they take part in collisions. The snapshot holds them in ``member_users`` (the live
collector's minimal read of every member) and, in an export whose ``users.json`` lists every user,
in ``users`` itself. Each row carries the provisioning source attributes the guests frame has, its
assignment (``scope``), and the extra source attributes a mapping or scoping filter names (read
from ``user_attributes``; a name missing there stays unmapped, so its expressions are unknown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from audit import addresses as addr
from audit._text import text_isin
from audit.analysis.frame_join import ScopeSets, add_scope
from audit.guests import guest_mask
from audit.mapping.schema import UserMapping
from audit.mapping.sources import FRAME_ATTRIBUTES, extra_attributes
from audit.mapping.sources import named_attributes as sources_named
from audit.snapshot import Snapshot

if TYPE_CHECKING:
    from audit.analysis.frame_engine import MappingPlan

__all__ = ["RENAME", "SOURCE_COLUMNS", "named_attributes", "population"]

RENAME = {
    "id": "object_id",
    "displayName": "display_name",
    "givenName": "given_name",
    "surname": "surname",
    "mailNickname": "mail_nickname",
    "userType": "user_type",
    "creationType": "creation_type",
    "externalUserState": "external_user_state",
    "externalUserStateChangeDateTime": "external_user_state_changed",
    "accountEnabled": "account_enabled",
    "createdDateTime": "created",
    "licenseCount": "license_count",
    "lastSignInDateTime": "last_sign_in",
    "userPrincipalName": "user_principal_name",
    "mail": "mail",
    "otherMails": "other_mails",
    "proxyAddresses": "proxy_addresses",
}
"""Users-table columns → guests-frame columns."""

SOURCE_COLUMNS = (
    "object_id",
    "provisioning_upn",
    "original_upn",
    "mail",
    "display_name",
    "given_name",
    "surname",
    "mail_nickname",
    "account_enabled",
    "other_mails",
    "proxy_addresses",
    "scope",
)
"""Guests-frame columns the simulation reads for every user."""


def named_attributes(plan: MappingPlan) -> set[str]:
    """Every source attribute the plan's mappings and scoping filter name."""
    user = UserMapping(plan.name, True, frozenset(), plan.mappings, plan.scope)
    return sources_named(user)


def population(
    frame: pd.DataFrame,
    snapshot: Snapshot,
    plan: MappingPlan,
    sets: ScopeSets | None = None,
    users: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Guests first (the frame's order), then the other users; and attribute → column.

    ``sets``: the assignment sets (None: assignments not collected, scope unknown); ``users``:
    the rows of the snapshot's ``users`` table that matter here, its non-guests (None: read the
    table; a caller that let go of it passes them)."""
    guests = frame.loc[:, list(SOURCE_COLUMNS)].reset_index(drop=True)
    others = _others(snapshot, guests["object_id"].dropna(), sets, users)
    pop = pd.concat([guests, others], ignore_index=True) if len(others) else guests.copy()
    enabled = pop["account_enabled"].astype("boolean")
    pop["is_soft_deleted"] = (~enabled).astype("boolean")
    columns = dict(FRAME_ATTRIBUTES)
    wanted = extra_attributes(named_attributes(plan))
    table = snapshot.table("user_attributes")
    if wanted and table is not None and "id" in table:
        found = table.drop_duplicates("id").set_index("id")
        ids = pop["object_id"]
        for name in wanted:
            if name in found.columns:
                column = f"src:{name}"
                pop[column] = ids.map(found[name]).astype("str")
                columns[name] = column
    return pop, columns


def _others(
    snapshot: Snapshot, guest_ids: pd.Series, sets: ScopeSets | None, users: pd.DataFrame | None
) -> pd.DataFrame:
    """Users who are not guests, from ``users`` (or the rows of it given) and ``member_users``,
    once each."""
    parts = []
    for name in ("users", "member_users"):
        table = users if name == "users" and users is not None else snapshot.table(name)
        if table is not None and len(table):
            parts.append(table.loc[~guest_mask(table)])
    if not parts:
        return pd.DataFrame(columns=list(SOURCE_COLUMNS))
    users = pd.concat(parts, ignore_index=True).drop_duplicates("id")
    users = users.loc[~text_isin(users["id"], guest_ids)]
    keep = [c for c in RENAME if c in users.columns]
    others = users.loc[:, keep].rename(columns=RENAME).reset_index(drop=True)
    others["original_upn"] = others["user_principal_name"]
    others["provisioning_upn"] = addr.demangle_upn(others["user_principal_name"])
    others = add_scope(others, None, None, sets=sets)
    return others.loc[:, list(SOURCE_COLUMNS)]
