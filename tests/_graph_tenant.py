"""Hand-built DemoTenant objects in Graph v1.0 shapes, for the emulator and collector tests.

Independent of the demo generator on purpose: these shapes are checked against msgraph-sdk's typed
models (``tests/test_collect_graph.py``), so they double as a reference for what Graph returns.
"""

from __future__ import annotations

import uuid
from typing import Any

from audit.demo.model import DemoTenant

JSON = dict[str, Any]
TENANT_ID = "5f1c3a0e-7d2b-4c8e-9a61-0b2f4e6d8c10"
INITIAL = "fabrikam.onmicrosoft.com"
APP_NAME = "Atlassian Cloud"
SP_ID = "7d0c4a51-3e9b-4f62-8a17-5c2e9b0d1f30"
APP_ID = "b2c6e1f4-0a3d-4e8b-9c75-1d4f6a8e2b90"
JOB_ID = "atlassianCloud.5f1c3a0e7d2b4c8e9a610b2f4e6d8c10.7d0c4a51-3e9b-4f62-8a17-5c2e9b0d1f30"
GROUP_ID = "0c9e2d71-4b8a-4f3e-b6d2-7a1e5c9f3b40"
NESTED_GROUP_ID = "9a3f7c12-6e4d-4b1a-8f25-3d7b0e9c6a50"


def _id(kind: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"b2b-preflight-test/{kind}/{n}"))


def guest(n: int, *, domain: str = "contoso.com", state: str = "Accepted") -> JSON:
    """A B2B guest as Graph returns it with the collector's ``$select``."""
    alias = f"guest{n:06d}"
    upn = f"{alias}_{domain}#EXT#@{INITIAL}"
    return {
        "id": _id("guest", n),
        "displayName": f"Guest {n} <script>alert(1)</script>" if n % 7 == 0 else f"Guest {n}",
        "givenName": "Guest",
        "surname": str(n),
        "userPrincipalName": upn,
        "mail": f"{alias}@{domain}",
        "otherMails": [f"{alias}@{domain}"],
        "proxyAddresses": [f"SMTP:{alias}@{domain}"],
        "userType": "Guest",
        "creationType": "Invitation",
        "externalUserState": state,
        "externalUserStateChangeDateTime": "2024-03-01T10:00:00Z",
        "identities": [
            {"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": None},
            {"signInType": "userPrincipalName", "issuer": INITIAL, "issuerAssignedId": upn},
        ],
        "accountEnabled": True,
        "assignedLicenses": [],
        "createdDateTime": "2024-02-29T09:00:00Z",
        "mailNickname": f"{alias}_{domain}#EXT#",
        "businessPhones": [],
        "jobTitle": None,
        "signInActivity": {
            "lastSignInDateTime": "2024-05-01T08:00:00Z",
            "lastSignInRequestId": _id("signin", n),
        },
    }


def member(n: int, *, invited: bool = False) -> JSON:
    """An internal member, or an externally-originated member (``creationType`` Invitation)."""
    user = guest(n + 500_000, domain="partner.example")
    user.update(id=_id("member", n), userType="Member", displayName=f"Member {n}")
    if not invited:
        user.update(
            creationType=None,
            externalUserState=None,
            userPrincipalName=f"member{n}@fabrikam.com",
            mail=f"member{n}@fabrikam.com",
            identities=[],
        )
    user.pop("signInActivity")
    return user


def organization() -> JSON:
    return {
        "id": TENANT_ID,
        "displayName": "Fabrikam",
        "tenantType": "AAD",
        "createdDateTime": "2019-01-01T00:00:00Z",
        "verifiedDomains": [
            {
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": False,
                "isInitial": True,
                "name": INITIAL,
                "type": "Managed",
            },
            {
                "capabilities": "Email",
                "isDefault": True,
                "isInitial": False,
                "name": "fabrikam.com",
                "type": "Managed",
            },
        ],
    }


def domains() -> list[JSON]:
    def domain(name: str, *, initial: bool, default: bool) -> JSON:
        return {
            "id": name,
            "authenticationType": "Managed",
            "availabilityStatus": None,
            "isAdminManaged": True,
            "isDefault": default,
            "isInitial": initial,
            "isRoot": True,
            "isVerified": True,
            "supportedServices": ["Email", "OfficeCommunicationsOnline"],
            "passwordValidityPeriodInDays": 2147483647,
            "passwordNotificationWindowInDays": 14,
            "state": None,
        }

    return [
        domain(INITIAL, initial=True, default=False),
        domain("fabrikam.com", initial=False, default=True),
    ]


def service_principal() -> JSON:
    return {
        "id": SP_ID,
        "accountEnabled": True,
        "appDisplayName": APP_NAME,
        "appId": APP_ID,
        "appRoleAssignmentRequired": True,
        "displayName": APP_NAME,
        "servicePrincipalType": "Application",
        "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
        "appRoles": [
            {
                "allowedMemberTypes": ["User"],
                "description": "User",
                "displayName": "User",
                "id": "18d14569-c3bd-439b-9a66-3a2aee01d14f",
                "isEnabled": True,
                "origin": "Application",
                "value": None,
            }
        ],
    }


def assignment(n: int, principal_id: str, kind: str, name: str) -> JSON:
    return {
        "id": f"assignment{n:04d}AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "appRoleId": "18d14569-c3bd-439b-9a66-3a2aee01d14f",
        "createdDateTime": "2024-01-10T12:00:00Z",
        "deletedDateTime": None,
        "principalDisplayName": name,
        "principalId": principal_id,
        "principalType": kind,
        "resourceDisplayName": APP_NAME,
        "resourceId": SP_ID,
    }


def sync_job() -> JSON:
    return {
        "id": JOB_ID,
        "templateId": "atlassianCloud",
        "schedule": {"expiration": None, "interval": "PT40M", "state": "Active"},
        "status": {
            "code": "Active",
            "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": False,
            "lastExecution": None,
            "lastSuccessfulExecution": None,
            "lastSuccessfulExecutionWithExports": None,
            "progress": [],
            "quarantine": None,
            "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
            "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z",
            "synchronizedEntryCountByType": [{"key": "User", "value": "3"}],
            "troubleshootingUrl": None,
        },
        "synchronizationJobSettings": [
            {"name": "QuarantineTooManyDeletesThreshold", "value": "500"}
        ],
    }


def mapping(target: str, expression: str, priority: int = 0) -> JSON:
    return {
        "defaultValue": None,
        "exportMissingReferences": False,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": priority,
        "source": {"expression": expression, "name": expression.strip("[]"), "parameters": [],
                   "type": "Attribute"},
        "targetAttributeName": target,
    }  # fmt: skip


def sync_schema() -> JSON:
    return {
        "id": JOB_ID,
        "version": "Date:2024-01-10T12:00:00Z~Version:1",
        "directories": [
            {
                "id": "66e4a8cc-1b7b-435e-95f8-f06cea133828",
                "name": "Azure Active Directory",
                "discoverabilities": "AttributeNames",
                "discoveryDateTime": None,
                "readOnly": True,
                "version": None,
                "objects": [
                    {
                        "name": "User",
                        "metadata": [],
                        "supportedApis": [],
                        "attributes": [
                            {
                                "anchor": False,
                                "caseExact": False,
                                "defaultValue": None,
                                "flowNullValues": False,
                                "multivalued": False,
                                "mutability": "ReadWrite",
                                "name": "originalUserPrincipalName",
                                "required": False,
                                "type": "String",
                                "apiExpressions": [],
                                "metadata": [],
                                "referencedObjects": [],
                            }
                        ],
                    }
                ],
            }
        ],
        "synchronizationRules": [
            {
                "id": "USER_OUTBOUND_USER",
                "name": "USER_OUTBOUND_USER",
                "editable": True,
                "priority": 1,
                "containerFilter": None,
                "groupFilter": None,
                "metadata": [{"key": "defaultSourceObjectMappings", "value": "[]"}],
                "sourceDirectoryName": "Azure Active Directory",
                "targetDirectoryName": "customappsso",
                "objectMappings": [
                    {
                        "enabled": True,
                        "flowTypes": "Add, Update, Delete",
                        "name": "Provision Azure Active Directory Users",
                        "sourceObjectName": "User",
                        "targetObjectName": "urn:ietf:params:scim:schemas:core:2.0:User",
                        "metadata": [],
                        "scope": None,
                        "attributeMappings": [
                            mapping("userName", "[userPrincipalName]", 1),
                            mapping('emails[type eq "work"].value', "[mail]"),
                            mapping("name.givenName", "[givenName]"),
                        ],
                    }
                ],
            }
        ],
    }


def provisioning_log(n: int, user: JSON, *, when: str, status: str = "success") -> JSON:
    return {
        "id": _id("log", n),
        "activityDateTime": when,
        "tenantId": TENANT_ID,
        "jobId": JOB_ID,
        "cycleId": _id("cycle", n),
        "changeId": _id("change", n),
        "provisioningAction": "create",
        "durationInMilliseconds": 1200,
        "initiatedBy": {"id": "", "displayName": "Azure AD Provisioning Service",
                        "initiatorType": "system"},
        "provisioningStatusInfo": {"status": status, "errorInformation": None},
        "provisioningSteps": [
            {"name": "EntryExportAdd", "provisioningStepType": "export", "status": status,
             "description": "Created User in Atlassian Cloud", "details": {}},
        ],
        "modifiedProperties": [{"displayName": "mail", "oldValue": None, "newValue": user["mail"]}],
        "servicePrincipal": {"id": SP_ID, "displayName": APP_NAME},
        "sourceSystem": {"id": _id("src", 0), "displayName": "Azure Active Directory",
                         "details": {}},
        "targetSystem": {"id": _id("dst", 0), "displayName": APP_NAME, "details": {}},
        "sourceIdentity": {"id": user["id"], "displayName": user["displayName"],
                           "identityType": "User", "details": {}},
        "targetIdentity": {"id": "", "displayName": "", "identityType": "urn:ietf:params:scim",
                           "details": {}},
    }  # fmt: skip


def make_tenant(guests: int = 12, invited_members: int = 2, members: int = 3) -> DemoTenant:
    """A small tenant: guests, invited and internal members, one app with its provisioning setup."""
    users = [guest(n) for n in range(guests)]
    users += [member(n, invited=True) for n in range(invited_members)]
    users += [member(n + 1000) for n in range(members)]
    gs = users[:guests]
    group: JSON = {"id": GROUP_ID, "displayName": "Atlassian users", "securityEnabled": True}
    nested: JSON = {"id": NESTED_GROUP_ID, "displayName": "Nested", "securityEnabled": True}

    def typed(user: JSON) -> JSON:
        return {"@odata.type": "#microsoft.graph.user", **user}

    return DemoTenant(
        organization=organization(),
        domains=domains(),
        users=users,
        service_principals=[service_principal()],
        app_role_assignments={
            SP_ID: [
                assignment(0, gs[0]["id"], "User", gs[0]["displayName"]),
                assignment(1, GROUP_ID, "Group", group["displayName"]),
            ]
        },
        groups={GROUP_ID: group, NESTED_GROUP_ID: nested},
        group_members={
            GROUP_ID: [typed(u) for u in gs[1:5]]
            + [{"@odata.type": "#microsoft.graph.group", **nested}],
            NESTED_GROUP_ID: [typed(u) for u in gs[5:7]],
        },
        sync_jobs={SP_ID: [sync_job()]},
        sync_schemas={JOB_ID: sync_schema()},
        provisioning_logs=[
            provisioning_log(0, gs[0], when="2024-05-20T10:00:00Z"),
            provisioning_log(1, gs[1], when="2024-05-28T10:00:00Z", status="failure"),
            provisioning_log(2, gs[2], when="2024-01-01T10:00:00Z"),
        ],
    )


def assert_same_collection(got: Any, want: Any) -> None:
    """Two collections (``GraphData``) hold the same objects and the same tables built from pages."""
    from pandas.testing import assert_frame_equal

    assert got.records == want.records
    assert list(got.tables) == list(want.tables)
    for name, table in want.tables.items():
        assert_frame_equal(got.tables[name], table)
