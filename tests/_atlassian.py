"""Hand-made Atlassian organizations for the target-side tests (data, not code: the collector runs
for real against :class:`~audit.demo.atlassian_emulator.AtlassianEmulator` over loopback HTTP)."""

from __future__ import annotations

from typing import Any

from audit.collectors.atlassian import AtlassianOptions
from audit.demo.atlassian_emulator import AtlassianEmulator
from audit.demo.atlassian_org import AtlassianOrg

JSON = dict[str, Any]
ORG, DIRECTORY = "org-5c1e", "dir-77aa"
API_KEY, SCIM_KEY = "test-org-key-1f9d", "test-scim-key-a51c"
LINK = "urn:scim:schemas:extension:atlassian-external:1.0"
STATUSES = ("verified", "unverified", "superseded", "missing_token", "deleted")


def domain(name: str, status: str, kind: str = "dns") -> JSON:
    """A ``data[]`` item of ``GET /v1/orgs/{orgId}/domains`` (DAC example shape)."""
    return {
        "id": f"dom-{name}",
        "type": "domains",
        "attributes": {"name": name, "claim": {"type": kind, "status": status}},
        "links": {"self": f"https://api.atlassian.com/admin/v1/orgs/{ORG}/domains/dom-{name}"},
    }


def managed(account_id: str, email: str | None, status: str = "active") -> JSON:
    """A ``data[]`` item of ``GET /v1/orgs/{orgId}/users`` (managed accounts)."""
    item: JSON = {"account_id": account_id, "account_type": "atlassian",
                  "account_status": status, "name": f"Name {account_id}", "picture": "p"}  # fmt: skip
    if email is not None:
        item["email"] = email
    return item


def directory_user(account_id: str, email: str, claim: str = "unmanaged") -> JSON:
    """A ``data[]`` item of the v2 directory users listing."""
    return {"accountId": account_id, "accountType": "atlassian", "status": "active",
            "accountStatus": "active", "membershipStatus": "active", "name": f"N {account_id}",
            "email": email, "claimStatus": claim}  # fmt: skip


def scim_user(
    uid: str,
    user_name: str,
    email: str,
    *,
    external: str | None = None,
    account: str | None = None,
    active: bool | None = True,
    display: str = "SCIM User",
) -> JSON:
    """A SCIM ``User`` resource of ``GET /scim/directory/{directoryId}/Users``."""
    user: JSON = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": uid,
        "userName": user_name,
        "displayName": display,
        "emails": [{"value": email, "type": "work", "primary": True}],
    }
    if active is not None:
        user["active"] = active
    if external is not None:
        user["externalId"] = external
    if account is not None:
        user[LINK] = {"atlassianAccountId": account}
    return user


def org(**lists: list[JSON]) -> AtlassianOrg:
    """An organization holding ``lists`` (domains, managed, directory_users, scim_users)."""
    return AtlassianOrg(ORG, DIRECTORY, API_KEY, SCIM_KEY, **lists)


def options(emulator: AtlassianEmulator, **changes: Any) -> AtlassianOptions:
    """Options reading every source of ``emulator`` with the right keys."""
    values: dict[str, Any] = dict(org=ORG, directory=DIRECTORY, url=emulator.base_url,
                                  api_key=API_KEY, scim_key=SCIM_KEY)  # fmt: skip
    return AtlassianOptions(**(values | changes))
