"""Target-side evidence: the organization's verified domains, each guest's target account, and the
target users frame (one row per user of the target's provisioning directory).

The snapshot tables come from a target's own collector, stored under the names in
``Target.evidence`` with the columns of :mod:`audit.target_tables`; nothing here knows a vendor.

A guest's **target account** (``target_account``) says what provisioning it would meet:

- ``already_provisioned``: the provisioning directory holds the guest: a directory user whose
  ``externalId`` is the guest's object id, or whose ``userName`` is the key the guest sends
  (``target_key``); the SCIM service guarantees ``userName`` unique (RFC 7643 §4.1.1) and Entra
  queries existing users by it.
- ``conflict``: the e-mail the guest sends already belongs to another directory user, or to an
  account linked to another directory user. Creating a user whose e-mail exists fails: "Resource
  [USER]: with email[...] already exists" (HTTP 409,
  https://confluence.atlassian.com/cloudkb/409-error-when-attempting-to-update-email-address-via-user-provisioning-1035734019.html);
  an e-mail address belongs to a single account there (same page).
- ``links_managed``: a managed account has that e-mail: the target documents that provisioning
  then connects (links) the identity provider's user to that managed account instead of creating
  one (https://developer.atlassian.com/cloud/admin/user-provisioning/rest/api-group-users/, "Create
  a user").
- ``links_unmanaged``: an account the organization does not manage has it. What provisioning does
  then (link or create) is not documented; the reconciliation shows what it did for guests
  already provisioned.
- ``new``: no account the organization can see, and no directory user, has it (accounts outside
  the organization's directories are invisible to its APIs).
- ``unknown``: the guest sends no e-mail, or a listing needed to tell was not read.

Without target-side evidence the column is NA.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from audit import addresses as addr
from audit.analysis.columns import TARGET_USER_COLUMNS
from audit.models import SourceStatus
from audit.snapshot import Snapshot
from audit.targets import Target

__all__ = [
    "TargetSide",
    "add_target_accounts",
    "empty_target_users",
    "evidence_statuses",
    "organization_verified",
    "target_side",
    "target_users_frame",
]

_MANAGED, _UNMANAGED = "managed", "unmanaged"


@dataclass(frozen=True)
class TargetSide:
    """The usable target-side tables of a snapshot.

    ``accounts`` concatenates every usable account listing; ``managed_known`` /
    ``unmanaged_known`` say whether managed / unmanaged accounts were listed at all (a listing's
    status says which it holds in ``detail["accounts"]``).
    """

    domains: pd.DataFrame | None = None
    accounts: pd.DataFrame | None = None
    managed_known: bool = False
    unmanaged_known: bool = False
    provisioned: pd.DataFrame | None = None

    @property
    def accounts_read(self) -> bool:
        """True when accounts or directory users were read (target accounts can be predicted)."""
        return self.accounts is not None or self.provisioned is not None


def target_side(snapshot: Snapshot, target: Target) -> TargetSide:
    """The snapshot's usable target-side tables for ``target``."""
    evidence = target.evidence
    listings = []
    covers: set[str] = set()
    for name in evidence.accounts:
        table = snapshot.table(name)
        if table is not None:
            listings.append(table)
            kind = snapshot.source(name).detail.get("accounts")
            covers |= {_MANAGED, _UNMANAGED} if kind == "all" else {str(kind)}
    accounts = pd.concat(listings, ignore_index=True) if listings else None
    return TargetSide(
        domains=snapshot.table(evidence.domains) if evidence.domains else None,
        accounts=accounts,
        managed_known=_MANAGED in covers,
        unmanaged_known=_UNMANAGED in covers,
        provisioned=snapshot.table(evidence.provisioned) if evidence.provisioned else None,
    )


def evidence_statuses(snapshot: Snapshot, target: Target) -> dict[str, SourceStatus]:
    """The statuses of the target's evidence sources under the names rules use
    (``target_provisioned``...), for the engine's skip decisions."""
    return {
        alias: snapshot.sources[name]
        for alias, name in target.evidence.aliases().items()
        if name in snapshot.sources
    }


def organization_verified(side: TargetSide) -> set[str] | None:
    """A-labels of the domains the target organization has verified; None when not read."""
    if side.domains is None:
        return None
    verified = side.domains.loc[side.domains["verified"].astype(bool), "domain"]
    return {str(d) for d in verified.dropna()}


def add_target_accounts(frame: pd.DataFrame, side: TargetSide) -> pd.DataFrame:
    """``target_account`` (and ``whatif_``), ``target_user_id`` and ``target_conflict``."""
    if not side.accounts_read:
        for column in ("target_account", "whatif_target_account", "target_user_id", "target_conflict"):  # fmt: skip
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="str")
        return frame
    index = _Index.of(side)
    kind, holder, conflict = index.predict(frame, "target_key", "target_email")
    frame["target_account"] = pd.Series(kind, index=frame.index, dtype="str")
    frame["target_user_id"] = pd.Series(holder, index=frame.index, dtype="str")
    frame["target_conflict"] = pd.Series(conflict, index=frame.index, dtype="str")
    whatif, _, _ = index.predict(frame, "whatif_target_key", "whatif_target_email")
    frame["whatif_target_account"] = pd.Series(whatif, index=frame.index, dtype="str")
    return frame


def _lower(values: Iterable[object]) -> list[str | None]:
    return [v.lower() if isinstance(v, str) and v else None for v in values]


class _Index:
    """Lookups over the target side: directory users by externalId, userName and e-mail;
    accounts by e-mail; which directory user each account is linked to."""

    def __init__(self, side: TargetSide) -> None:
        self.side = side
        self.by_external: dict[str, str] = {}
        self.by_name: dict[str, str] = {}
        self.holders: dict[str, list[str]] = {}
        self.linked: dict[str, str] = {}
        self.accounts: dict[str, tuple[str, bool | None]] = {}

    @classmethod
    def of(cls, side: TargetSide) -> _Index:
        index = cls(side)
        if side.provisioned is not None:
            index._directory(side.provisioned)
        if side.accounts is not None:
            index._accounts(side.accounts)
        return index

    def _directory(self, users: pd.DataFrame) -> None:
        rows = zip(users["id"], _lower(users["external_id"]), _lower(users["user_name"]),
                   users["emails"], users["email"], users["account_id"], strict=True)  # fmt: skip
        for uid, external, name, emails, email, account in rows:
            if not isinstance(uid, str):
                continue
            if external:
                self.by_external.setdefault(external, uid)
            if name:
                self.by_name.setdefault(name, uid)
            for address in set(_lower([*(emails if isinstance(emails, list) else []), email])):
                if address:
                    self.holders.setdefault(address, []).append(uid)
            if isinstance(account, str) and account:
                self.linked.setdefault(account, uid)

    def _accounts(self, accounts: pd.DataFrame) -> None:
        rows = zip(accounts["account_id"], _lower(accounts["email"]), accounts["managed"], strict=True)  # fmt: skip
        for account, email, managed in rows:
            if not email or not isinstance(account, str):
                continue
            known = None if pd.isna(managed) else bool(managed)
            if email not in self.accounts or known is True:  # a managed one wins
                self.accounts[email] = (account, known)

    def predict(
        self, frame: pd.DataFrame, key_column: str, email_column: str
    ) -> tuple[list[str], list[str | None], list[str | None]]:
        """Per guest: target account, the directory user holding it, who else holds its e-mail."""
        ids, keys = _lower(frame["object_id"]), _lower(frame[key_column])
        emails = _lower(frame[email_column])
        kinds: list[str] = []
        holders: list[str | None] = []
        conflicts: list[str | None] = []
        for oid, key, email in zip(ids, keys, emails, strict=True):
            own = self._own(oid, key)
            other = self._other(own, email)
            holders.append(own)
            conflicts.append(other)
            kinds.append(self._kind(own, other, email))
        return kinds, holders, conflicts

    def _own(self, object_id: str | None, key: str | None) -> str | None:
        if self.side.provisioned is None:
            return None
        found = self.by_external.get(object_id) if object_id else None
        return found or (self.by_name.get(key) if key else None)

    def _other(self, own: str | None, email: str | None) -> str | None:
        """Who else holds ``email``: another directory user, or an account linked to one."""
        if not email:
            return None
        for uid in self.holders.get(email, ()):
            if uid != own:
                return f"directory user {uid}"
        account = self.accounts.get(email)
        if account is not None:
            linked = self.linked.get(account[0])
            if linked is not None and linked != own:
                return f"account {account[0]} (linked to directory user {linked})"
        return None

    def _kind(self, own: str | None, other: str | None, email: str | None) -> str:
        if other is not None:
            return "conflict"
        if own is not None:
            return "already_provisioned"
        account = self.accounts.get(email) if email else None
        if account is not None and account[1] is not None:
            return "links_managed" if account[1] else "links_unmanaged"
        side = self.side
        if email and side.managed_known and side.unmanaged_known and side.provisioned is not None:
            return "new"
        return "unknown"


def empty_target_users() -> pd.DataFrame:
    """A target users frame without rows (every column, its dtype)."""
    return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in TARGET_USER_COLUMNS})


def target_users_frame(
    side: TargetSide, guests: pd.DataFrame, own_domains: Iterable[str]
) -> pd.DataFrame | None:
    """One row per directory user (columns: ``TARGET_USER_COLUMNS``); None when not read."""
    users = side.provisioned
    if users is None:
        return None
    users = users.reset_index(drop=True)
    frame = pd.DataFrame(index=users.index)
    for name, source in (("tu_id", "id"), ("tu_user_name", "user_name"),
                         ("tu_external_id", "external_id"), ("tu_display_name", "display_name"),
                         ("tu_email", "email"), ("tu_account_id", "account_id")):  # fmt: skip
        frame[name] = users[source].astype("str")
    frame["tu_email_domain"] = addr.domain_of(frame["tu_email"])
    frame["tu_active"] = users["active"].astype("boolean")
    frame["tu_account_state"] = _account_state(frame["tu_account_id"], side)
    guest, guest_email = _held_guests(frame, guests)
    frame["tu_guest_id"] = pd.Series(guest, index=frame.index, dtype="str")
    frame["tu_guest_email"] = pd.Series(guest_email, index=frame.index, dtype="str")
    frame["tu_external"] = _external(frame, {d.lower() for d in own_domains})
    return frame[[c.name for c in TARGET_USER_COLUMNS]]


def _account_state(account_ids: pd.Series, side: TargetSide) -> pd.Series:
    managed: dict[str, bool | None] = {}
    if side.accounts is not None:
        for account, flag in zip(side.accounts["account_id"], side.accounts["managed"], strict=True):  # fmt: skip
            if isinstance(account, str) and (account not in managed or flag is True):
                managed[account] = None if pd.isna(flag) else bool(flag)
    states = []
    for account in account_ids:
        if not isinstance(account, str) or not account:
            states.append("unlinked")
        elif managed.get(account) is True:
            states.append("managed")
        elif managed.get(account) is False:
            states.append("unmanaged")
        else:
            states.append("unknown")
    return pd.Series(states, index=account_ids.index, dtype="str")


def _held_guests(
    frame: pd.DataFrame, guests: pd.DataFrame
) -> tuple[list[str | None], list[str | None]]:
    """The guest each directory user holds (by externalId, else userName) and its target e-mail."""
    by_id = {oid: i for i, oid in enumerate(_lower(guests["object_id"])) if oid}
    by_key: dict[str, int] = {}
    for i, key in enumerate(_lower(guests["target_key"])):
        if key:
            by_key.setdefault(key, i)
    ids, emails = guests["object_id"].tolist(), guests["target_email"].tolist()
    held: list[str | None] = []
    mail: list[str | None] = []
    for external, name in zip(_lower(frame["tu_external_id"]), _lower(frame["tu_user_name"]), strict=True):  # fmt: skip
        row = by_id.get(external) if external else None
        row = row if row is not None else (by_key.get(name) if name else None)
        held.append(None if row is None else ids[row])
        mail.append(None if row is None or not isinstance(emails[row], str) else emails[row])
    return held, mail


def _external(frame: pd.DataFrame, own: set[str]) -> pd.Series:
    """True: a guest's directory user; False: a member's (on the tenant's own domains); NA: unknown."""
    out: list[bool | None] = []
    for guest, name, email in zip(frame["tu_guest_id"], _lower(frame["tu_user_name"]),
                                  _lower(frame["tu_email"]), strict=True):  # fmt: skip
        texts = [t for t in (name, email) if t]
        domains = {t.rpartition("@")[2] for t in texts if "@" in t}
        if isinstance(guest, str) or any("#ext#" in t for t in texts):
            out.append(True)
        elif domains and domains <= own:
            out.append(False)
        elif domains:
            out.append(True)
        else:
            out.append(None)
    return pd.Series(out, index=frame.index, dtype="boolean")
