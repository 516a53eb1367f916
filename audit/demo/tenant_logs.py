"""Provisioning-log entries (Graph v1.0 ``provisioningObjectSummary``) for demo guests.

A guest's history is one of: a successful create; a create followed by a failed update (SCIM 409
uniqueness, as Atlassian answers when the e-mail already belongs to another account); a failed
create later retried successfully; or a skip. Every entry lies within the 30 days before ``now``.
"""

from __future__ import annotations

from typing import Any

from audit.demo.tenant_app import AppIds
from audit.demo.tenant_spec import DAY, Builder
from audit.demo.tenant_users import ts

__all__ = ["HISTORIES", "provisioning_entries"]

JSON = dict[str, Any]
# history -> [(action, status, earliest and latest age in days)], oldest first
HISTORIES: dict[str, list[tuple[str, str, float, float]]] = {
    "success": [("create", "success", 0.2, 29.0)],
    "success_then_failure": [("create", "success", 20.0, 29.0), ("update", "failure", 0.2, 5.0)],
    "failure_then_success": [("create", "failure", 15.0, 29.0), ("create", "success", 0.2, 10.0)],
    "skipped": [("other", "skipped", 0.2, 20.0)],
}
_SOURCE_SYSTEM = "66e4a8cc-1b7b-435e-95f8-f06cea133828"
_TARGET_SYSTEM = "8ffa6169-f354-4751-9b77-9c00765be92d"
_SCIM_409 = (
    '{{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409",'
    '"scimType":"uniqueness","detail":"Resource [USER]: with email[{mail}] already exists."}}'
)


def provisioning_entries(history: str, user: JSON, b: Builder, ids: AppIds, now: int) -> list[JSON]:
    """The log entries of ``user`` for one of :data:`HISTORIES`, oldest first."""
    entries = []
    for action, status, low, high in HISTORIES[history]:
        at = now - b.rng.uniform(low, high) * DAY
        entries.append(_entry(b, ids, user, action, status, at))
    return entries


def _entry(b: Builder, ids: AppIds, user: JSON, action: str, status: str, at: float) -> JSON:
    upn = str(user["userPrincipalName"])
    display = user["displayName"]
    return {
        "id": b.guid(),
        "activityDateTime": ts(at),
        "tenantId": ids.tenant,
        "jobId": ids.job,
        "cycleId": b.guid(),
        "changeId": b.guid(),
        "provisioningAction": action,
        "durationInMilliseconds": b.rng.randrange(300, 4000),
        "initiatedBy": {
            "id": "",
            "displayName": "Azure AD Provisioning Service",
            "initiatorType": "system",
        },
        "servicePrincipal": {"id": ids.sp, "displayName": ids.name},
        "sourceSystem": {
            "id": _SOURCE_SYSTEM,
            "displayName": "Azure Active Directory",
            "details": {},
        },
        "targetSystem": {
            "id": _TARGET_SYSTEM,
            "displayName": ids.name,
            "details": {
                "ApplicationId": ids.app,
                "ServicePrincipalId": ids.sp,
                "ServicePrincipalDisplayName": ids.name,
            },
        },
        "sourceIdentity": {
            "id": user["id"],
            "displayName": display,
            "identityType": "User",
            "details": {},
        },
        "targetIdentity": {
            "id": b.guid() if status == "success" else "",
            "displayName": display if status == "success" else "",
            "identityType": "User",
            "details": {},
        },
        "provisioningStatusInfo": {
            "status": status,
            "errorInformation": _error(user, status, ids.name),
        },
        "provisioningSteps": _steps(upn, action, status, ids.name),
        "modifiedProperties": _modified(user) if status != "skipped" else [],
    }


def _error(user: JSON, status: str, app: str) -> JSON | None:
    if status != "failure":
        return None
    mail = user["mail"]
    return {
        "errorCode": "SystemForCrossDomainIdentityManagementServiceIncompatibleFiltering",
        "errorCategory": "NonServiceFailure",
        "reason": f"Failed to provision User '{user['userPrincipalName']}' in {app}: "
        f"{app} returned an error response with the HTTP status code 409. "
        + _SCIM_409.format(mail=mail),
        "additionalDetails": None,
        "recommendedAction": f"Remove or relink the {app} account that already uses "
        f"{mail}, or change the e-mail sent for this user.",
    }


def _steps(upn: str, action: str, status: str, app: str) -> list[JSON]:
    """Import, matching and export steps as the provisioning service logs them."""
    kind = "Add" if action == "create" else "Update"
    steps = [
        _step(
            "EntryImport" + kind,
            "import",
            "success",
            f"Received User '{upn}' change of type ({kind}) from Azure Active Directory",
        )
    ]
    if status == "skipped":
        step = _step(
            "EntrySynchronizationSkipped",
            "matching",
            "skipped",
            f"User '{upn}' will be skipped (NotEffectivelyEntitled)",
        )
        step["details"] = {"SkipReason": "NotEffectivelyEntitled", "IsActive": "True"}
        return [*steps, step]
    verb = "created" if action == "create" else "updated"
    steps.append(
        _step(
            "EntrySynchronization" + kind,
            "matching",
            "success",
            f"User '{upn}' will be {verb} in {app}",
        )
    )
    done = f"User '{upn}' was {verb} in {app}"
    failed = f"Failed to {action} User '{upn}' in {app}"
    export = _step("EntryExport" + kind, "export", status, done if status == "success" else failed)
    export["details"] = {"ReportableIdentifier": upn}
    return [*steps, export]


def _step(name: str, step_type: str, status: str, description: str) -> JSON:
    return {
        "name": name,
        "provisioningStepType": step_type,
        "status": status,
        "description": description,
        "details": {},
    }


def _modified(user: JSON) -> list[JSON]:
    """What the gallery mapping sent: the de-mangled UPN as userName and mail as the work e-mail."""
    upn = str(user["userPrincipalName"])
    prefix, ext, _ = upn.partition("#EXT#")
    user_name = prefix[::-1].replace("_", "@", 1)[::-1] if ext else upn
    values = (
        ("userName", user_name),
        ("active", "True"),
        ('emails[type eq "work"].value', user["mail"]),
        ("name.givenName", user["givenName"]),
        ("name.familyName", user["surname"]),
    )
    return [{"displayName": k, "oldValue": None, "newValue": v} for k, v in values]
