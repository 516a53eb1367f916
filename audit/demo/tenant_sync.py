"""The demo app's provisioning job and its schema (Graph v1.0 ``synchronizationJob`` and
``synchronizationSchema``).

The user mapping is the Atlassian Cloud gallery default from Microsoft's provisioning tutorial:
``userName`` <- ``[userPrincipalName]`` (matching), ``active`` <- ``Switch([IsSoftDeleted], ...)``,
``emails[type eq "work"].value`` <- ``[mail]``, given and family names, with one scoping filter
that leaves test accounts out. Sending ``[mail]`` is what the app-level rule
``mapping-sends-external-address`` reports.

For another target (``demo --target``) the mapping sends the target's key and e-mail attributes
(the profile's names) and its documented matching attribute. Microsoft's tutorials list target
attributes without their sources, so the sources are the demo's choice: the key from
``[userPrincipalName]`` and the e-mail from ``[mail]`` unless the profile's ``demo_mapping`` says
otherwise, a matching attribute that is neither from ``[objectId]``.
"""

from __future__ import annotations

from typing import Any

from audit.demo.tenant_app import AppIds
from audit.demo.tenant_spec import DAY
from audit.demo.tenant_users import ts
from audit.targets import Target, get_target

__all__ = ["SCIM_USER", "USER_SCOPE", "sync_job", "sync_schema"]

JSON = dict[str, Any]
SOURCE_DIRECTORY = "Azure Active Directory"
TARGET_DIRECTORY = "customappsso"
SCIM_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def sync_job(ids: AppIds, now: int, users: int) -> JSON:
    """The provisioning job: active, running every 40 minutes, last cycle ten minutes ago."""
    began = now - 600
    execution = {
        "activityIdentifier": f"{ids.job}.{began}",
        "countEntitled": users,
        "countEntitledForProvisioning": users,
        "countEscrowed": 0,
        "countExported": 3,
        "countImported": users,
        "error": None,
        "state": "Succeeded",
        "timeBegan": ts(began),
        "timeEnded": ts(began + 95),
    }
    return {
        "id": ids.job,
        "templateId": ids.job_template,
        "schedule": {"expiration": None, "interval": "PT40M", "state": "Active"},
        "status": {
            "code": "Active",
            "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": False,
            "lastExecution": execution,
            "lastSuccessfulExecution": execution,
            "lastSuccessfulExecutionWithExports": execution,
            "progress": [],
            "quarantine": None,
            "steadyStateFirstAchievedTime": ts(now - 60 * DAY),
            "steadyStateLastAchievedTime": ts(began + 95),
            "synchronizedEntryCountByType": [
                {"key": "User", "value": users},
                {"key": "Group", "value": 2},
            ],
            "troubleshootingUrl": None,
        },
        "synchronizationJobSettings": [
            {"name": "QuarantineTooManyDeletesThreshold", "value": "500"}
        ],
    }


def sync_schema(ids: AppIds) -> JSON:
    """The job schema: directory definitions and the gallery default user and group mappings."""
    return {
        "id": ids.job,
        "version": "Date:2024-11-04T09:12:40.7710386Z~Scope:ApplicationDefault",
        "directories": [_source_directory(), _target_directory()],
        "synchronizationRules": [
            {
                "editable": True,
                "id": "49a26a22-0c9c-4a2d-8e0a-d3f1ab8b9b9e",
                "metadata": [{"key": "defaultSourceObjectMappings", "value": "true"}],
                "name": "USER_TO_SCIM",
                "objectMappings": [_user_mapping(ids), _group_mapping(ids)],
                "priority": 1,
                "sourceDirectoryName": SOURCE_DIRECTORY,
                "targetDirectoryName": TARGET_DIRECTORY,
            }
        ],
    }


def _attr(name: str, matching: int = 0) -> JSON:
    return _mapping(
        name,
        {"expression": f"[{name}]", "name": name, "parameters": [], "type": "Attribute"},
        matching,
    )


def _mapping(target: str, source: JSON, matching: int = 0) -> JSON:
    return {
        "defaultValue": None,
        "exportMissingReferences": False,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": matching,
        "source": source,
        "targetAttributeName": target,
    }


def _const(value: str) -> JSON:
    return {"expression": f'"{value}"', "name": value, "parameters": [], "type": "Constant"}


def _active() -> JSON:
    """``Switch([IsSoftDeleted], , "False", "True", "True", "False")``: deleted means inactive."""
    source = {
        "expression": "[IsSoftDeleted]",
        "name": "IsSoftDeleted",
        "parameters": [],
        "type": "Attribute",
    }
    pairs = [("key", "False"), ("value", "True"), ("key", "True"), ("value", "False")]
    return {
        "expression": 'Switch([IsSoftDeleted], , "False", "True", "True", "False")',
        "name": "Switch",
        "parameters": [{"key": "source", "value": source}]
        + [{"key": k, "value": _const(v)} for k, v in pairs],
        "type": "Function",
    }


def _object_mapping(
    name: str, source: str, target: str, mappings: list[JSON], scope: JSON | None = None
) -> JSON:
    return {
        "attributeMappings": mappings,
        "enabled": True,
        "flowTypes": "Add, Update, Delete",
        "metadata": [{"key": "Disposition", "value": '"Normal"'}],
        "name": name,
        "scope": scope,
        "sourceObjectName": source,
        "targetObjectName": target,
    }


def _user_mapping(ids: AppIds) -> JSON:
    if ids.target != "atlassian":
        return _target_user_mapping(get_target(ids.target), ids.name)
    mail = _attr("mail")
    mail["targetAttributeName"] = 'emails[type eq "work"].value'
    upn = _attr("userPrincipalName", matching=1)
    upn["targetAttributeName"] = "userName"
    given, surname = _attr("givenName"), _attr("surname")
    given["targetAttributeName"], surname["targetAttributeName"] = (
        "name.givenName",
        "name.familyName",
    )
    return _object_mapping(
        "Synchronize Microsoft Entra ID Users to Atlassian Cloud",
        "User",
        SCIM_USER,
        [upn, _mapping("active", _active()), mail, given, surname],
        USER_SCOPE,
    )


def _target_user_mapping(target: Target, app: str) -> JSON:
    """Another target's user mapping: key, e-mail and matching attribute (demo sources)."""
    sources: dict[str, str] = {}
    if target.key_attribute:
        sources[target.key_attribute] = "[userPrincipalName]"
    if target.email_attribute and target.email_attribute != target.key_attribute:
        sources[target.email_attribute] = "[mail]"
    sources |= target.demo_mapping
    matching = (target.matching_attributes or (target.key_attribute or "userPrincipalName",))[0]
    sources.setdefault(matching, "[objectId]")
    mappings = [
        _expression(attribute, expression, matching=1 if attribute == matching else 0)
        for attribute, expression in sources.items()
    ]
    return _object_mapping(
        f"Synchronize Microsoft Entra ID Users to {app}", "User", SCIM_USER, mappings, USER_SCOPE
    )


def _expression(target: str, expression: str, matching: int) -> JSON:
    """A mapping from an expression: an attribute (``[name]``) or a function call."""
    name = expression.strip("[]")
    if expression == f"[{name}]":
        source = {"expression": expression, "name": name, "parameters": [], "type": "Attribute"}
    else:
        head = expression.split("(", 1)[0]
        source = {"expression": expression, "name": head, "parameters": [], "type": "Function"}
    return _mapping(target, source, matching)


USER_SCOPE: JSON = {
    "categoryFilterGroups": [],
    "groups": [
        {
            "clauses": [
                {
                    "operatorName": "NOT REGEX MATCH",
                    "sourceOperandName": "displayName",
                    "targetOperand": {"values": ["^TEST-.*$"]},
                }
            ],
            "name": "Exclude test accounts",
        }
    ],
    "inputFilterGroups": [],
}
"""The User mapping's scoping filter (Graph ``filter``; operator names as the filterOperators list
writes them): test accounts, named ``TEST-...``, are not provisioned."""


def _group_mapping(ids: AppIds) -> JSON:
    display = _attr("displayName", matching=1)
    external, members = _attr("objectId"), _attr("members")
    external["targetAttributeName"] = "externalId"
    return _object_mapping(
        f"Synchronize Microsoft Entra ID Groups to {ids.name}",
        "Group",
        SCIM_GROUP,
        [display, external, members],
    )


def _attribute(name: str, kind: str = "String", multivalued: bool = False) -> JSON:
    return {
        "anchor": name == "objectId",
        "apiExpressions": [],
        "caseExact": False,
        "defaultValue": None,
        "flowNullValues": False,
        "metadata": [],
        "multivalued": multivalued,
        "mutability": "ReadWrite",
        "name": name,
        "referencedObjects": [],
        "required": False,
        "type": kind,
    }


def _source_directory() -> JSON:
    """Entra's side, with the provisioning-only attributes (originalUserPrincipalName...)."""
    user_attrs = [
        "objectId",
        "userPrincipalName",
        "originalUserPrincipalName",
        "mail",
        "givenName",
        "surname",
        "displayName",
        "mailNickname",
    ]
    attrs = [_attribute(n) for n in user_attrs]
    attrs += [_attribute("IsSoftDeleted", "Boolean"), _attribute("accountEnabled", "Boolean")]
    attrs.append(_attribute("otherMails", multivalued=True))
    group_attrs = [
        _attribute("objectId"),
        _attribute("displayName"),
        _attribute("members", "Reference", multivalued=True),
    ]
    return {
        "id": "66e4a8cc-1b7b-435e-95f8-f06cea133828",
        "name": SOURCE_DIRECTORY,
        "discoverabilities": "None",
        "discoveryDateTime": None,
        "readOnly": True,
        "version": None,
        "objects": [_object("User", attrs), _object("Group", group_attrs)],
    }


def _target_directory() -> JSON:
    """Atlassian's SCIM side."""
    user_attrs = ["userName", "name.givenName", "name.familyName", 'emails[type eq "work"].value']
    attrs = [_attribute(n) for n in user_attrs] + [_attribute("active", "Boolean")]
    group_attrs = [
        _attribute("displayName"),
        _attribute("externalId"),
        _attribute("members", "Reference", multivalued=True),
    ]
    return {
        "id": "8ffa6169-f354-4751-9b77-9c00765be92d",
        "name": TARGET_DIRECTORY,
        "discoverabilities": "AttributeNames, AttributeDataTypes",
        "discoveryDateTime": None,
        "readOnly": False,
        "version": None,
        "objects": [_object(SCIM_USER, attrs), _object(SCIM_GROUP, group_attrs)],
    }


def _object(name: str, attributes: list[JSON]) -> JSON:
    return {"attributes": attributes, "metadata": [], "name": name, "supportedApis": []}
