"""The demo app: the target's gallery app service principal, its assignments, groups, job and schema.

The app is Atlassian Cloud unless the demo runs for another target (``demo --target``): then the
service principal carries that gallery app's display name (what ``--target auto`` recognises).

Shapes follow Graph v1.0 ``servicePrincipal``, ``appRoleAssignment`` and ``group`` (the job and its
schema are in :mod:`audit.demo.tenant_sync`). The gallery app's real ids are per tenant (an
instance of a gallery template), so every id here is synthetic: seeded, except the fixed ``appId``
and ``applicationTemplateId``. The schema's user mapping is the Atlassian Cloud gallery default from
Microsoft's provisioning tutorial: it sends ``[mail]`` as the work e-mail, which is exactly what the
app-level rule ``mapping-sends-external-address`` reports.
"""

from __future__ import annotations

import base64
import random
import uuid
from dataclasses import dataclass
from typing import Any

from audit.demo.tenant_spec import DAY, Builder
from audit.demo.tenant_users import ts

__all__ = [
    "APPLICATION_TEMPLATE_ID",
    "APP_ID",
    "APP_NAME",
    "TEMPLATE_ID",
    "AppIds",
    "app_ids",
    "assignment",
    "group_json",
    "group_ref",
    "service_principal",
    "user_ref",
]

JSON = dict[str, Any]
APP_NAME = "Atlassian Cloud"
# Fixed (not seeded) so configurations can name the demo app; synthetic: a gallery app's appId is
# minted per tenant, and the gallery template id of Atlassian Cloud was not found in our sources.
APP_ID = "2d0a6b3e-8c41-4f7a-9b5e-6a1c3f8e2d47"
APPLICATION_TEMPLATE_ID = "5e1b9f02-7d3c-4a86-b1e4-9c2f7a0d8e63"
TEMPLATE_ID = "atlassianCloud"


@dataclass(frozen=True)
class AppIds:
    """Every fixed id of the tenant and its app, drawn once from the seed."""

    tenant: str
    sp: str
    app: str
    template: str
    role_user: str
    role_default: str
    group_a: str
    group_b: str
    group_nested: str
    job: str
    name: str = APP_NAME
    target: str = "atlassian"
    job_template: str = TEMPLATE_ID

    @property
    def group_m365(self) -> str:
        """An assigned Microsoft 365 group (not security-enabled: it grants no scope). Derived,
        not drawn, so adding it moved no other seeded value."""
        return str(uuid.uuid5(uuid.UUID(self.group_a), "m365"))


def app_ids(rng: random.Random, target: str = "atlassian", name: str = APP_NAME) -> AppIds:
    """Draw the tenant's fixed ids (first, so they do not move when sizes change); ``name`` is
    the gallery app's display name of ``target``."""
    draws = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(9)]
    tenant, sp, _, _, role_user, role_default, ga, gb, gn = draws
    app, template = APP_ID, APPLICATION_TEMPLATE_ID
    job_template = TEMPLATE_ID if target == "atlassian" else target.replace("-", "")
    job = f"{job_template}.{tenant.replace('-', '')}.{app}"
    ids = (tenant, sp, app, template, role_user, role_default, ga, gb, gn, job)
    return AppIds(*ids, name=name, target=target, job_template=job_template)


def _assignment_id(b: Builder) -> str:
    """Graph's appRoleAssignment ids are 43-character base64url strings."""
    return base64.urlsafe_b64encode(b.rng.randbytes(32)).decode("ascii").rstrip("=")


def service_principal(ids: AppIds, created: float) -> JSON:
    """The enterprise app (service principal) of the gallery application (Atlassian's carries its
    URLs; another target's only its gallery name)."""
    sp: JSON = {
        "id": ids.sp,
        "deletedDateTime": None,
        "accountEnabled": True,
        "alternativeNames": [],
        "appDisplayName": ids.name,
        "appDescription": None,
        "appId": ids.app,
        "applicationTemplateId": ids.template,
        "appOwnerOrganizationId": ids.tenant,
        "appRoleAssignmentRequired": True,
        "description": None,
        "displayName": ids.name,
        "homepage": None,
        "loginUrl": None,
        "logoutUrl": None,
        "notes": None,
        "notificationEmailAddresses": ["identity-team@contoso-demo.com"],
        "preferredSingleSignOnMode": "saml",
        "replyUrls": [],
        "servicePrincipalNames": [ids.app],
        "servicePrincipalType": "Application",
        "signInAudience": "AzureADMyOrg",
        "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
        "tokenEncryptionKeyId": None,
        "appRoles": [_role(ids.role_user, "User"), _role(ids.role_default, "msiam_access")],
        "keyCredentials": [],
        "oauth2PermissionScopes": [],
        "passwordCredentials": [],
    }
    if ids.target == "atlassian":
        sp |= {
            "homepage": "https://www.atlassian.com/?metadata=customappsso|ISV9.1|primary|z",
            "replyUrls": [f"https://auth.atlassian.com/login/callback?connection=saml-{ids.app}"],
            "servicePrincipalNames": [ids.app, f"https://auth.atlassian.com/saml/{ids.app}"],
            "tags": [
                "WindowsAzureActiveDirectoryCustomSingleSignOnApplication",
                "WindowsAzureActiveDirectoryIntegratedApp",
            ],
        }
    return sp


def _role(role_id: str, name: str) -> JSON:
    return {
        "allowedMemberTypes": ["User"],
        "description": name,
        "displayName": name,
        "id": role_id,
        "isEnabled": True,
        "origin": "Application",
        "value": None,
    }


def assignment(
    b: Builder, ids: AppIds, principal: JSON, principal_type: str, created: float
) -> JSON:
    """An appRoleAssignedTo entry granting ``principal`` (a user or group) the app's User role."""
    return {
        "id": _assignment_id(b),
        "deletedDateTime": None,
        "appRoleId": ids.role_user,
        "createdDateTime": ts(created),
        "principalDisplayName": principal["displayName"],
        "principalId": principal["id"],
        "principalType": principal_type,
        "resourceDisplayName": ids.name,
        "resourceId": ids.sp,
    }


def group_json(
    b: Builder, group_id: str, name: str, description: str, now: int, *, unified: bool = False
) -> JSON:
    """A cloud security group (the kind provisioning can be assigned), or with ``unified`` a
    Microsoft 365 group that is mail-enabled and not security-enabled."""
    created = ts(now - b.rng.uniform(200.0, 900.0) * DAY)
    return {
        "id": group_id,
        "deletedDateTime": None,
        "classification": None,
        "createdDateTime": created,
        "description": description,
        "displayName": name,
        "expirationDateTime": None,
        "groupTypes": ["Unified"] if unified else [],
        "isAssignableToRole": None,
        "mail": f"{name.replace(' ', '-')}@contoso-demo.com" if unified else None,
        "mailEnabled": unified,
        "mailNickname": name.replace(" ", "-"),
        "membershipRule": None,
        "onPremisesSyncEnabled": None,
        "proxyAddresses": [],
        "renewedDateTime": created,
        "securityEnabled": not unified,
        "securityIdentifier": f"S-1-12-1-{b.rng.getrandbits(32)}-{b.rng.getrandbits(32)}",
        "visibility": None,
    }


def user_ref(user: JSON) -> JSON:
    """A user as a directoryObject in ``/groups/{id}/members`` (strings shared with ``user``)."""
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": user["id"],
        "displayName": user["displayName"],
        "mail": user["mail"],
        "userPrincipalName": user["userPrincipalName"],
    }


def group_ref(group: JSON) -> JSON:
    """A group as a directoryObject member of another group."""
    keys = ("id", "displayName", "description", "groupTypes", "mailEnabled", "securityEnabled")
    return {"@odata.type": "#microsoft.graph.group", **{k: group[k] for k in keys}}
