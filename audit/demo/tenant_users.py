"""Graph ``user`` objects and Get-MailUser rows for the demo tenant, built from :class:`GuestSpec`.

Shapes follow Microsoft Graph v1.0 (``user``, ``objectIdentity``, ``signInActivity``,
``assignedLicense``) and the ``Get-MailUser | Select ... | Export-Csv`` columns of the README. This
is the hot path of the generator (a million guests in seconds), so it builds plain dicts with no
helpers per field.
"""

from __future__ import annotations

import time
from typing import Any

from audit.demo.tenant_domains import DEFAULT_DOMAIN, INITIAL_DOMAIN
from audit.demo.tenant_spec import DAY, Builder, GuestSpec

__all__ = ["MAILUSER_COLUMNS", "internal_member", "mailuser_row", "ts", "user_json"]

JSON = dict[str, Any]
MAILUSER_COLUMNS = (
    "DisplayName",
    "UserPrincipalName",
    "ExternalDirectoryObjectId",
    "PrimarySmtpAddress",
    "ExternalEmailAddress",
    "EmailAddresses",
    "HiddenFromAddressListsEnabled",
    "RecipientTypeDetails",
)
_GUEST_SKU = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS E3 (a licence a guest should not hold)
_MEMBER_SKU = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # Microsoft 365 E3


def ts(epoch: float) -> str:
    """Graph's UTC timestamp form, ``2024-05-01T12:34:56Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def user_json(spec: GuestSpec, b: Builder, now: int) -> JSON:
    """The Graph user for ``spec``; times are relative to ``now`` (epoch seconds)."""
    rng = b.rng
    sign_in = spec.sign_in_days
    created_days = max(spec.created_days, (sign_in or 0.0) + 4.0)
    created = now - created_days * DAY
    accepted = spec.state == "Accepted"
    changed = created
    if accepted:  # redeemed soon after the invitation, and before the last sign-in
        room = created_days - (sign_in or 0.0)
        changed = created + min(rng.uniform(0.01, 2.0), room / 2) * DAY
    upn = spec.upn
    user: JSON = {
        "id": b.guid(),
        "businessPhones": [],
        "displayName": spec.display,
        "givenName": spec.given,
        "jobTitle": None,
        "mail": spec.mail,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": spec.surname,
        "userPrincipalName": upn,
        "accountEnabled": spec.enabled,
        "assignedLicenses": [{"disabledPlans": [], "skuId": _GUEST_SKU}] if spec.licensed else [],
        "createdDateTime": b.ts(created),
        "creationType": "Invitation",
        "externalUserState": spec.state,
        "externalUserStateChangeDateTime": b.ts(changed),
        "identities": _identities(spec, accepted),
        "mailNickname": upn.rpartition("@")[0],
        "otherMails": spec.other_mails,
        "proxyAddresses": spec.proxies,
        "userType": spec.user_type,
    }
    if sign_in is not None:
        user["signInActivity"] = _sign_in(b, now - sign_in * DAY)
    return user


def _identities(spec: GuestSpec, accepted: bool) -> list[JSON]:
    """A redeemed guest signs in at its home issuer; an unredeemed one has just the host one."""
    host = {
        "signInType": "userPrincipalName",
        "issuer": INITIAL_DOMAIN,
        "issuerAssignedId": spec.upn,
    }
    if not accepted:
        return [host]
    home = {"signInType": "federated", "issuer": spec.domain.issuer, "issuerAssignedId": None}
    return [home, host]


def _sign_in(b: Builder, last: float) -> JSON:
    """signInActivity: last interactive (= last successful) sign-in, an older non-interactive."""
    request, when = b.guid(), b.ts(last)
    return {
        "lastSignInDateTime": when,
        "lastSignInRequestId": request,
        "lastNonInteractiveSignInDateTime": b.ts(last - b.rng.uniform(0.0, 5.0) * DAY),
        "lastNonInteractiveSignInRequestId": b.guid(),
        "lastSuccessfulSignInDateTime": when,
        "lastSuccessfulSignInRequestId": request,
    }


def internal_member(b: Builder, now: int) -> JSON:
    """An employee of the tenant (not a guest; the audit must leave it out)."""
    p = b.person()
    alias = b.unique(f"{p.g}.{p.s}", DEFAULT_DOMAIN)
    upn = f"{alias}@{DEFAULT_DOMAIN}"
    created = now - b.rng.uniform(100.0, 2000.0) * DAY
    return {
        "id": b.guid(),
        "businessPhones": ["+1 425 555 0100"],
        "displayName": f"{p.given} {p.surname}",
        "givenName": p.given,
        "jobTitle": b.rng.choice(("Project Manager", "Engineer", "Designer", "Analyst")),
        "mail": upn,
        "mobilePhone": None,
        "officeLocation": "Building 4",
        "preferredLanguage": "en-US",
        "surname": p.surname,
        "userPrincipalName": upn,
        "accountEnabled": True,
        "assignedLicenses": [{"disabledPlans": [], "skuId": _MEMBER_SKU}],
        "createdDateTime": ts(created),
        "creationType": None,
        "externalUserState": None,
        "externalUserStateChangeDateTime": None,
        "identities": [
            {"signInType": "userPrincipalName", "issuer": INITIAL_DOMAIN, "issuerAssignedId": upn}
        ],
        "mailNickname": alias,
        "otherMails": [],
        "proxyAddresses": ["SMTP:" + upn, f"smtp:{alias}@{INITIAL_DOMAIN}"],
        "userType": "Member",
        "signInActivity": _sign_in(b, now - b.rng.uniform(0.05, 7.0) * DAY),
    }


def mailuser_row(spec: GuestSpec, user_id: str) -> dict[str, str] | None:
    """The guest's ``Get-MailUser`` export row (None when the guest is not mail-enabled)."""
    if not spec.mailuser:
        return None
    primary = spec.mu_primary
    for proxy in spec.proxies:
        if primary is None and proxy.startswith("SMTP:"):
            primary = proxy[5:]
    primary = primary or spec.mail or spec.upn
    emails = spec.mu_emails
    if emails is None:
        emails = [*spec.proxies] or ["SMTP:" + primary]
        upn = spec.upn.lower()
        if not any(e[5:].lower() == upn for e in emails):
            emails.append("smtp:" + spec.upn)
    return {
        "DisplayName": spec.display,
        "UserPrincipalName": spec.upn,
        "ExternalDirectoryObjectId": user_id,
        "PrimarySmtpAddress": primary,
        "ExternalEmailAddress": spec.mu_external or f"SMTP:{spec.mail}",
        "EmailAddresses": ";".join(emails),
        "HiddenFromAddressListsEnabled": "True",
        "RecipientTypeDetails": "GuestMailUser",
    }
