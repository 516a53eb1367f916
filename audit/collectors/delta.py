"""Incremental collection with ``/users/delta``: read what changed since the last snapshot, not everything.

A full collection that tracks changes asks ``/users/delta?$select=...&$deltatoken=latest`` first
(Entra's "sync from now": a ``deltaLink`` and no data, one request), then reads the guests as usual,
partitions and all; the link is stored in the snapshot (``extra["delta_link"]``, with the
``$select`` it was made for in ``extra["delta_select"]``). Taking the link *before* the read means a
change made during it is replayed by the next round, which is harmless: changes are applied as
upserts by id. A later run follows the link to the next ``deltaLink`` and applies the changes to the
previous snapshot's users table:

- ``@removed`` entries delete the user;
- other entries replace the user's row when the user is one the audit collects (``userType`` Guest,
  or an invited Member: the server-side filters of a full read, applied client-side because
  ``/users/delta`` cannot filter on ``userType``) and delete it otherwise (a guest turned member);
- an entry that lacks selected properties (Graph may send only the changed ones) is read again by
  id before it is applied.

The result equals a full collection's table (rows of changed users keep their old position, new
users come last). ``signInActivity`` is not tracked by delta query: an incremental table has no
sign-in times, and the run reports ``sign_in_activity`` as not collected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit.collectors.tables import users_table

if TYPE_CHECKING:
    from audit.snapshot import Snapshot

__all__ = [
    "DELTA_LINK",
    "DELTA_SELECT",
    "DeltaChanges",
    "DeltaState",
    "apply_changes",
    "fold_changes",
    "is_collected",
    "needs_refetch",
]

JSON = dict[str, Any]
DELTA_LINK = "delta_link"
DELTA_SELECT = "delta_select"
_SIGN_IN = "signInActivity"


@dataclass(frozen=True)
class DeltaState:
    """Where an incremental run starts: the stored ``deltaLink``, its ``$select``, the tenant and
    the ids already in the previous users table."""

    link: str
    select: tuple[str, ...]
    tenant_id: str | None = None
    known_ids: frozenset[str] = frozenset()

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> DeltaState | None:
        """The state stored by a run that tracked changes; None when the snapshot has none (or no
        usable users table to apply changes to)."""
        link = snapshot.extra.get(DELTA_LINK)
        select = snapshot.extra.get(DELTA_SELECT)
        users = snapshot.table("users")
        if not isinstance(link, str) or not link or not isinstance(select, list) or users is None:
            return None
        return cls(
            link=link,
            select=tuple(str(s) for s in select),
            tenant_id=snapshot.tenant.get("id"),
            known_ids=frozenset(users["id"].dropna().astype(str)),
        )


@dataclass
class DeltaChanges:
    """The net changes of one delta round: the latest object per changed id (in first-seen order),
    the removed ids, the next round's ``deltaLink`` and how many objects were read again."""

    upserts: dict[str, JSON] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    link: str | None = None
    refetched: int = 0

    def to_detail(self) -> JSON:
        """Counts for the users source's status detail."""
        return {
            "paging": "delta",
            "changed": len(self.upserts),
            "removed": len(self.removed),
            "refetched": self.refetched,
        }


def is_collected(user: JSON) -> bool:
    """True for a user the full collection reads: a guest, or an externally invited member."""
    kind = str(user.get("userType") or "").casefold()
    invited = str(user.get("creationType") or "").casefold() == "invitation"
    return kind == "guest" or (kind == "member" and invited)


def fold_changes(changes: DeltaChanges, items: Iterable[JSON]) -> None:
    """Apply delta entries in order: the last word on an id wins; partial entries are merged."""
    for item in items:
        uid = str(item.get("id") or "")
        if not uid:
            continue
        if "@removed" in item:
            changes.upserts.pop(uid, None)
            changes.removed.add(uid)
            continue
        changes.removed.discard(uid)
        changes.upserts[uid] = {**changes.upserts.get(uid, {}), **item}


def needs_refetch(changes: DeltaChanges, select: Iterable[str], known: frozenset[str]) -> list[str]:
    """Ids whose entry lacks selected properties and may matter: a user already in the table, or
    one whose ``userType`` changed (it may have become a guest)."""
    wanted = set(select) - {_SIGN_IN}
    return [
        uid
        for uid, user in changes.upserts.items()
        if not wanted <= user.keys() and (uid in known or "userType" in user)
    ]


def apply_changes(previous: pd.DataFrame, changes: DeltaChanges) -> pd.DataFrame:
    """The previous users table with the changes applied; sign-in times are cleared (not tracked)."""
    fresh = users_table(u for u in changes.upserts.values() if is_collected(u))
    ids = previous["id"].astype(str)
    touched = ids.isin(set(changes.upserts) | changes.removed).to_numpy()
    keep = previous.loc[~touched]
    if len(fresh):
        old = pd.Series(np.arange(len(previous)), index=ids.to_numpy())
        order = fresh["id"].map(old).to_numpy(dtype=float, copy=True)
        new = np.isnan(order)
        order[new] = len(previous) + np.arange(int(new.sum()))
        keep = keep.assign(_order=np.flatnonzero(~touched).astype(float))
        keep = pd.concat([keep, fresh.assign(_order=order)], ignore_index=True)
        keep = keep.sort_values("_order", kind="stable").drop(columns="_order")
    table = keep.reset_index(drop=True)
    table["lastSignInDateTime"] = pd.Series(pd.NaT, index=table.index, dtype="datetime64[us, UTC]")
    return table
