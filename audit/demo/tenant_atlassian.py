"""The demo tenant's Atlassian organization, consistent with its Graph side.

Domains: the tenant's two domains and the verified partners (DNS or HTTPS claims), plus the two
partners whose DNS never answers (verified over HTTPS: the organization knows what DNS cannot
tell), one unverified partner listed as ``superseded`` and one as ``unverified``. Accounts and
directory users follow from each guest's ``target_side`` (set by the demo cases of
``target-email-conflict``, or drawn for a few ordinary guests):

==========================  ===================================================================
``target_side``             on the Atlassian side
==========================  ===================================================================
``provisioned``             a SCIM user (``userName`` = the guest's provisioning UPN, its e-mail;
                            ``externalId`` = the object id for every other one), active when the
                            guest is in scope, linked to a managed account (verified domain) or an
                            unmanaged one
``managed`` / ``unmanaged`` only an account with the guest's e-mail
``conflict``                a stale SCIM user of the guest's earlier object (another alias,
                            another externalId) holding the guest's e-mail
``unclaimed``               provisioned, but linked to an unmanaged account although the domain is
                            verified (verify is not claim): a reconciliation mismatch
``changed``                 provisioned under an earlier e-mail: a reconciliation mismatch and a
                            ``target-unlinked-account`` finding
==========================  ===================================================================

Besides: SCIM users of a few internal members (never flagged) and of guests who left the tenant
(``target-unlinked-account``), some with hostile display names.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from audit.demo.atlassian_org import AtlassianOrg
from audit.demo.model import DemoTenant
from audit.demo.tenant_domains import DEFAULT_DOMAIN, INITIAL_DOMAIN, SPECIAL_DOMAINS, DomainPlan
from audit.demo.tenant_spec import GuestSpec
from audit.demo.tenant_words import HOSTILE_NAMES

__all__ = ["API_KEY", "SCIM_KEY", "TargetSides"]

JSON = dict[str, Any]
API_KEY = "demo-atlassian-org-key-not-a-secret"
SCIM_KEY = "demo-atlassian-scim-key-not-a-secret"
_LINK = "urn:scim:schemas:extension:atlassian-external:1.0"
_SCHEMAS = ["urn:ietf:params:scim:schemas:core:2.0:User", _LINK]
_IN_SCOPE = ("direct", "group_a", "group_b", "both")
_BULK_CAP = 5000


@dataclass(frozen=True)
class _Guest:
    """What the Atlassian side needs of one guest."""

    id: str
    side: str
    mail: str
    alias: str
    domain: str
    verified: bool
    display: str
    active: bool


class TargetSides:
    """Collects guests' target sides while the tenant is assembled, then builds the organization."""

    def __init__(self, rng: random.Random, plan: DomainPlan) -> None:
        self.rng, self.plan = rng, plan
        self.guests: list[_Guest] = []
        self._bulk = 0
        self._special: list[str] = ["unclaimed", "changed"]

    def note(self, spec: GuestSpec, user: JSON) -> None:
        """Record ``spec``'s guest if it has (or draws) a target side."""
        side = spec.target_side or self._draw(spec)
        if side is None or spec.mail is None or spec.mail_domain is None:
            return
        self.guests.append(
            _Guest(
                str(user["id"]),
                side,
                spec.mail,
                spec.alias,
                spec.mail_domain.name,
                spec.mail_domain.verified,
                spec.display,
                spec.scope in _IN_SCOPE and spec.enabled,
            )
        )

    def _draw(self, spec: GuestSpec) -> str | None:
        """A side for a few ordinary guests (at most :data:`_BULK_CAP`)."""
        if spec.case != "bulk" or spec.mail_domain is None or self._bulk >= _BULK_CAP:
            return None
        kind, r = spec.mail_domain.kind, self.rng.random()
        side = None
        if kind == "verified":
            side = "provisioned" if r < 0.3 else "managed" if r < 0.4 else None
            if side == "provisioned" and self._special and spec.scope in _IN_SCOPE:
                side = self._special.pop(0)
        elif kind in ("partner", "claimed"):
            side = "provisioned" if r < 0.08 else "unmanaged" if r < 0.14 else None
        elif kind == "public":
            side = "unmanaged" if r < 0.1 else None
        self._bulk += side is not None
        return side

    def organization(self, tenant: DemoTenant, ids: random.Random) -> AtlassianOrg:
        """The organization holding every recorded guest's side, members and leavers."""
        org = AtlassianOrg(
            org_id=_guid(ids), directory_id=_guid(ids), api_key=API_KEY, scim_key=SCIM_KEY,
            domains=self._domains(ids),
        )  # fmt: skip
        build = _Builder(org, ids)
        for guest in self.guests:
            build.guest(guest)
        members = [u for u in tenant.users if u.get("userType") == "Member" and "#EXT#" not in str(u.get("userPrincipalName"))]  # fmt: skip
        for member in members[:3]:
            build.member(member)
        partners = self.plan.by_kind["partner"]
        for i in range(max(2, len(tenant.expected) // 250)):
            name = HOSTILE_NAMES[i % len(HOSTILE_NAMES)] if i % 2 else None
            build.leaver(partners[i % len(partners)].name, name)
        return org

    def _domains(self, ids: random.Random) -> list[JSON]:
        verified = [INITIAL_DOMAIN, DEFAULT_DOMAIN, *self.plan.verified_names]
        rows = [_domain(ids, d, "dns", "verified") for d in verified]
        rows += [_domain(ids, SPECIAL_DOMAINS[k], "http", "verified") for k in ("unanswered", "servfail")]  # fmt: skip
        partners = self.plan.by_kind["partner"]
        rows.append(_domain(ids, partners[0].ascii, "dns", "superseded"))
        rows.append(_domain(ids, partners[-1].ascii, "http", "unverified"))
        return rows


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"


def _domain(rng: random.Random, name: str, kind: str, status: str) -> JSON:
    return {
        "id": _guid(rng),
        "type": "domains",
        "attributes": {"name": name, "claim": {"type": kind, "status": status}},
        "links": {"self": f"https://api.atlassian.com/admin/v1/orgs/-/domains/{name}"},
    }


class _Builder:
    """Adds accounts and SCIM users to an organization."""

    def __init__(self, org: AtlassianOrg, rng: random.Random) -> None:
        self.org, self.rng = org, rng

    def guest(self, g: _Guest) -> None:
        if g.side in ("managed", "unmanaged"):
            self.account(g.mail, g.display, managed=g.side == "managed")
            return
        if g.side == "conflict":  # the guest's earlier object, still in the directory
            account = self.account(g.mail, g.display, managed=g.verified)
            old = f"{g.alias}.old@{g.domain}"
            self.scim(
                old, g.mail, g.display, external=_guid(self.rng), account=account, active=True
            )
            return
        managed = g.verified and g.side != "unclaimed"
        email = f"{g.alias}.previous@{g.domain}" if g.side == "changed" else g.mail
        account = self.account(email, g.display, managed=managed)
        external = g.id if len(self.org.scim_users) % 2 == 0 else None
        self.scim(g.mail, email, g.display, external=external, account=account, active=g.active)

    def member(self, user: JSON) -> None:
        mail = str(user.get("mail") or user["userPrincipalName"])
        account = self.account(mail, str(user.get("displayName")), managed=True)
        self.scim(str(user["userPrincipalName"]), mail, str(user.get("displayName")),
                  external=str(user["id"]), account=account, active=True)  # fmt: skip

    def leaver(self, domain: str, name: str | None) -> None:
        alias = f"left.guest{len(self.org.scim_users)}"
        mail = f"{alias}@{domain}"
        account = self.account(mail, name or "Former Guest", managed=False)
        self.scim(mail, mail, name or "Former Guest", external=_guid(self.rng), account=account, active=True)  # fmt: skip

    def account(self, email: str, name: str, *, managed: bool) -> str:
        account_id = f"712020:{_guid(self.rng)}"
        if managed:
            self.org.managed.append(
                {"account_id": account_id, "account_type": "atlassian", "account_status": "active",
                 "name": name, "picture": "https://avatar.example/a.png", "email": email,
                 "access_billable": True, "last_active": "2026-01-05T10:00:00.000Z",
                 "product_access": [{"key": "jira-software", "name": "Jira"}],
                 "links": {"self": f"https://api.atlassian.com/users/{account_id}/manage/profile"}}
            )  # fmt: skip
        self.org.directory_users.append(
            {"accountId": account_id, "accountType": "atlassian", "status": "active",
             "accountStatus": "active", "membershipStatus": "active", "name": name,
             "email": email, "emailVerified": True,
             "claimStatus": "managed" if managed else "unmanaged",
             "links": {"self": account_id}}
        )  # fmt: skip
        return account_id

    def scim(
        self, user_name: str, email: str, name: str, *, external: str | None, account: str, active: bool
    ) -> None:  # fmt: skip
        given, _, family = name.partition(" ")
        user: JSON = {
            "schemas": _SCHEMAS,
            "id": _guid(self.rng),
            "userName": user_name,
            "emails": [{"value": email, "type": "work", "primary": True}],
            "name": {"givenName": given, "familyName": family},
            "displayName": name,
            "active": active,
            _LINK: {"atlassianAccountId": account},
            "meta": {"resourceType": "User", "created": "2025-11-02T08:00:00.000Z",
                     "lastModified": "2026-01-04T09:30:00.000Z"},
        }  # fmt: skip
        if external is not None:
            user["externalId"] = external
        self.org.scim_users.append(user)
