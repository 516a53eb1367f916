"""The provisioning service's source attributes of a user, and the Graph properties that hold them.

The service reads users through its own view of Entra ID (the "Azure Active Directory" directory
of the job schema). Microsoft documents no complete list of its source attributes; the ones here
are those the documentation shows: the source ``User`` object of Graph's ``objectDefinition``
sample (https://learn.microsoft.com/graph/api/resources/synchronization-objectdefinition?view=graph-rest-beta),
the Microsoft Entra → SCIM example mapping of "Tutorial: Develop and plan provisioning for a SCIM
endpoint" (``employeeId`` → ``employeeNumber``), "Customize user provisioning attribute-mappings"
(directory extensions ``extension_<appId>_<name>``, case-sensitive; ``IsSoftDeleted``) and the
known issues ("The attributes SamAccountName and userType aren't available as source
attributes"). Those the guests frame holds map to its columns; the others are read from Graph
when a mapping or scoping filter names them (``extensionAttribute1``-``15`` live in
``onPremisesExtensionAttributes``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from audit.errors import AuditError
from audit.mapping.nodes import attribute_names
from audit.mapping.parser import parse
from audit.mapping.schema import UserMapping, user_mapping

__all__ = [
    "EXTRA_ATTRIBUTES",
    "FRAME_ATTRIBUTES",
    "extra_attributes",
    "graph_property",
    "is_directory_extension",
    "named_attributes",
    "schema_attributes",
]

#: Source attributes the guests frame always holds, by lower-case name → frame column.
FRAME_ATTRIBUTES = MappingProxyType(
    {
        "userprincipalname": "provisioning_upn",
        "originaluserprincipalname": "original_upn",
        "mail": "mail",
        "objectid": "object_id",
        "displayname": "display_name",
        "givenname": "given_name",
        "surname": "surname",
        "mailnickname": "mail_nickname",
        "accountenabled": "account_enabled",
        "issoftdeleted": "is_soft_deleted",
        "othermails": "other_mails",
        "proxyaddresses": "proxy_addresses",
    }
)

_EXTENSION_ATTRIBUTES = {
    f"extensionattribute{n}": f"onPremisesExtensionAttributes/extensionAttribute{n}"
    for n in range(1, 16)
}

#: Other documented source attributes (lower case) → the Graph user property holding them.
EXTRA_ATTRIBUTES = MappingProxyType(
    {
        "companyname": "companyName",
        "department": "department",
        "jobtitle": "jobTitle",
        "employeeid": "employeeId",
        "city": "city",
        "country": "country",
        "state": "state",
        "postalcode": "postalCode",
        "streetaddress": "streetAddress",
        "preferredlanguage": "preferredLanguage",
        "mobile": "mobilePhone",
        "facsimiletelephonenumber": "faxNumber",
        "physicaldeliveryofficename": "officeLocation",
        "onpremisessecurityidentifier": "onPremisesSecurityIdentifier",
        "dirsyncenabled": "onPremisesSyncEnabled",
        **_EXTENSION_ATTRIBUTES,
    }
)

_EXTENSION = re.compile(r"extension_[0-9a-fA-F]{32}_\w+")


def is_directory_extension(name: str) -> bool:
    """``extension_<appId without hyphens>_<name>``: a directory extension (schema extension)."""
    return bool(_EXTENSION.fullmatch(name))


def graph_property(attribute: str) -> str | None:
    """The Graph user property (``a/b`` for a nested one) holding a source attribute the guests
    frame does not; None for frame attributes and for names the documentation does not show."""
    if is_directory_extension(attribute):
        return attribute  # case-sensitive, as the customisation page stresses
    return EXTRA_ATTRIBUTES.get(attribute.casefold())


def extra_attributes(names: Iterable[str]) -> dict[str, str]:
    """Of ``names``, those to read from Graph besides the guests frame: name → Graph property."""
    out: dict[str, str] = {}
    for name in names:
        prop = graph_property(name)
        if prop is not None and name.casefold() not in FRAME_ATTRIBUTES:
            out[name] = prop
    return out


def named_attributes(user: UserMapping) -> set[str]:
    """Every source attribute the User mapping's expressions and scoping filter name."""
    names = set(user.scope.attributes())
    for mapping in user.mappings:
        if mapping.expression:
            try:
                names |= attribute_names(parse(mapping.expression))
            except AuditError:
                continue  # a syntax error is reported when the expression is evaluated
    return names


def schema_attributes(schema: Mapping[str, Any] | None) -> dict[str, str]:
    """The extra source attributes (name → Graph property) a job schema's User mapping names:
    what the collector reads besides the guests' usual properties. Empty for a malformed schema
    (the analysis reports that)."""
    if not isinstance(schema, Mapping):
        return {}
    try:
        user = user_mapping(schema)
    except AuditError:
        return {}
    return extra_attributes(named_attributes(user)) if user is not None else {}
