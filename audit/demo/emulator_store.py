"""The Graph emulator's users: live objects, change versions for delta query, filter caches.

Speed is the point. The users matching a ``$filter`` are found once per filter text; a page is then
projected for its ``$select`` and encoded by orjson in one call, with the cyclic GC paused. Encoding
on every request (about 2 µs a user) beats caching encoded users: a million cached encodings cost
more in fresh memory than the encoding they save. Mutations (delta query tests) clear the cache.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

JSON = dict[str, Any]
Select = tuple[str, ...] | None

# What GET /users returns without $select (Graph v1.0 "List users").
USER_DEFAULT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
# User properties the emulator accepts in $select (a typo must fail, as it does in Graph).
USER_PROPERTIES = frozenset(
    (
        *USER_DEFAULT,
        *[
            "accountEnabled",
            "ageGroup",
            "assignedLicenses",
            "assignedPlans",
            "city",
            "companyName",
            "country",
        ],
        *[
            "createdDateTime",
            "creationType",
            "customSecurityAttributes",
            "deletedDateTime",
            "department",
        ],
        *[
            "employeeHireDate",
            "employeeId",
            "employeeLeaveDateTime",
            "employeeOrgData",
            "employeeType",
        ],
        *[
            "externalUserState",
            "externalUserStateChangeDateTime",
            "faxNumber",
            "identities",
            "imAddresses",
        ],
        *[
            "isResourceAccount",
            "lastPasswordChangeDateTime",
            "licenseAssignmentStates",
            "mailNickname",
        ],
        *["onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesExtensionAttributes"],
        *["onPremisesImmutableId", "onPremisesLastSyncDateTime", "onPremisesSamAccountName"],
        *["onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "onPremisesUserPrincipalName"],
        *[
            "otherMails",
            "passwordPolicies",
            "postalCode",
            "preferredDataLocation",
            "provisionedPlans",
        ],
        *["proxyAddresses", "securityIdentifier", "showInAddressList", "signInActivity", "state"],
        *["signInSessionsValidFromDateTime", "streetAddress", "usageLocation", "userType"],
    )
)
SIGN_IN = "signInActivity"


def project_user(user: JSON, select: Select) -> JSON:
    """A user as Graph returns it for this ``$select``: unset properties are null, ``id`` always.

    ``signInActivity`` is the exception: Graph omits it for users who never signed in.
    """
    names = USER_DEFAULT if select is None else (*select, *(() if "id" in select else ("id",)))
    out = {name: user.get(name) for name in names if name != SIGN_IN}
    if select is not None and SIGN_IN in select and SIGN_IN in user:
        out[SIGN_IN] = user[SIGN_IN]
    return out


class UserStore:
    """Thread-safe user directory with versioned changes (for ``/users/delta``) and caches."""

    def __init__(self, users: Iterable[JSON]) -> None:
        self._lock = threading.RLock()
        self._live: dict[str, JSON] = {str(u["id"]): u for u in users}
        self._changed: dict[str, int] = dict.fromkeys(self._live, 0)
        self._removed: dict[str, int] = {}
        self.version = 0
        self._matches: dict[str, list[JSON]] = {}
        self._since: dict[int, list[tuple[str, JSON | None]]] = {}

    def get(self, user_id: str) -> JSON | None:
        """The live user with this id, if any."""
        return self._live.get(user_id)

    def matching(self, key: str, predicate: Callable[[JSON], bool] | None) -> list[JSON]:
        """Live users passing ``predicate`` in directory order, cached under ``key``."""
        with self._lock:
            found = self._matches.get(key)
            if found is None:
                users = self._live.values()
                found = list(users) if predicate is None else [u for u in users if predicate(u)]
                self._matches[key] = found
            return found

    def project(self, users: Sequence[JSON], select: Select) -> list[JSON]:
        """Each user as Graph returns it for ``select`` (the cyclic GC paused: no cycles here)."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return [project_user(user, select) for user in users]
        finally:
            if was_enabled:
                gc.enable()

    def changes_since(self, version: int) -> list[tuple[str, JSON | None]]:
        """Users changed (object) or deleted (None) after ``version``, oldest change first
        (cached per version until the next change: every page of a delta round asks again)."""
        with self._lock:
            found = self._since.get(version)
            if found is None:
                events: list[tuple[int, str, JSON | None]] = [
                    (v, uid, self._live[uid]) for uid, v in self._changed.items() if v > version
                ]
                events += [(v, uid, None) for uid, v in self._removed.items() if v > version]
                found = [(uid, user) for _, uid, user in sorted(events, key=lambda t: t[0])]
                self._since[version] = found
            return found

    def put(self, user: JSON) -> None:
        """Add or replace a user (a change that the next delta round reports)."""
        with self._lock:
            uid = str(user["id"])
            self._bump()
            self._live[uid] = user
            self._changed[uid] = self.version
            self._removed.pop(uid, None)

    def update(self, user_id: str, changes: JSON) -> None:
        """Merge ``changes`` into a user (a new dict: the tenant's own objects stay untouched)."""
        with self._lock:
            current = self._live.get(user_id)
            if current is None:
                raise KeyError(user_id)
            self.put({**current, **changes})

    def delete(self, user_id: str) -> None:
        """Delete a user (soft delete: delta reports ``@removed`` with reason ``changed``)."""
        with self._lock:
            if self._live.pop(user_id, None) is None:
                raise KeyError(user_id)
            self._bump()
            self._changed.pop(user_id, None)
            self._removed[user_id] = self.version

    def _bump(self) -> None:
        self.version += 1
        self._matches = {}
        self._since = {}

    @staticmethod
    def removed(user_id: str) -> JSON:
        """The delta entry of a deleted user."""
        return {"id": user_id, "@removed": {"reason": "changed"}}
