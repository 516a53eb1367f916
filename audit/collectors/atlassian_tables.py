"""Atlassian's pages → the snapshot's vendor-neutral target-side tables (:mod:`audit.target_tables`).

Shared by the live collector and the export reader, so both give the same snapshot. Values of the
wrong JSON type are dropped here, once (a hostile or broken answer never reaches the analysis as
anything but text or NA). Field meanings, with their pages:

- domains: ``data[].attributes.name`` and ``.claim.{type,status}``; ``claim.status == "verified"``
  is the only status read as verified (the others, ``unverified``, ``superseded``,
  ``missing_token`` and ``deleted``, are kept as returned: Atlassian does not document their
  meaning). https://developer.atlassian.com/cloud/admin/organization/rest/api-group-domains/
- managed accounts (``GET /v1/orgs/{orgId}/users``: "Returns a list of managed accounts"):
  ``account_id``, ``email`` (absent when the user restricts its visibility), ``account_status``
  (``active`` | ``inactive`` | ``closed``), ``account_type``, ``last_active``.
  https://developer.atlassian.com/cloud/admin/organization/rest/api-group-users/
- directory accounts (v2 listing): ``accountId``, ``email``, ``claimStatus`` (``managed`` |
  ``unmanaged``), ``accountStatus``, ``accountType`` (same page).
- SCIM users: ``id``, ``userName``, ``externalId``, ``displayName``, ``emails[]`` ("One value must
  be marked as primary"), ``active`` ("default to true if not provided"), and the account link
  ``urn:scim:schemas:extension:atlassian-external:1.0`` → ``atlassianAccountId``.
  https://developer.atlassian.com/cloud/admin/user-provisioning/rest/api-group-users/
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd

from audit import addresses as addr
from audit.target_tables import ACCOUNT_COLUMNS, DOMAIN_COLUMNS, PROVISIONED_COLUMNS, table

__all__ = ["LINK_EXTENSION", "atlassian_tables"]

JSON = dict[str, Any]
LINK_EXTENSION = "urn:scim:schemas:extension:atlassian-external:1.0"
"""The SCIM schema extension holding ``atlassianAccountId`` (the linked Atlassian account)."""


def atlassian_tables(pages: dict[str, list[JSON]]) -> dict[str, pd.DataFrame]:
    """A table per source in ``pages`` (source name → its pages)."""
    makers = {
        "atlassian_domains": _domains,
        "atlassian_users": _managed,
        "atlassian_directory_users": _directory,
        "atlassian_scim_users": _scim,
    }
    return {source: makers[source](docs) for source, docs in pages.items() if source in makers}


def _items(pages: Iterable[JSON], key: str) -> Iterator[JSON]:
    for page in pages:
        items = page.get(key) if isinstance(page, dict) else None
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict):
                yield item


def _object(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _domains(pages: list[JSON]) -> pd.DataFrame:
    rows = []
    for item in _items(pages, "data"):
        attributes = _object(item.get("attributes"))
        claim = _object(attributes.get("claim"))
        name = _text(attributes.get("name"))
        status = _text(claim.get("status"))
        rows.append(
            {
                "domain": addr.a_label(name.strip().lower().rstrip(".")) if name else None,
                "name": name,
                "claim_type": _text(claim.get("type")),
                "status": status,
                "verified": status == "verified",
            }
        )
    return table(rows, DOMAIN_COLUMNS)


def _account(
    item: JSON, *, managed: bool | None, id_key: str, status_key: str, type_key: str
) -> JSON:
    status = _text(item.get(status_key))
    return {
        "account_id": _text(item.get(id_key)),
        "email": _text(item.get("email")),
        "name": _text(item.get("name")),
        "account_type": _text(item.get(type_key)),
        "status": status,
        "active": None if status is None else status == "active",
        "managed": managed,
        "last_active": _text(item.get("last_active")),
    }


def _managed(pages: list[JSON]) -> pd.DataFrame:
    rows = [
        _account(i, managed=True, id_key="account_id", status_key="account_status",
                 type_key="account_type")
        for i in _items(pages, "data")
    ]  # fmt: skip
    return table(rows, ACCOUNT_COLUMNS)


def _directory(pages: list[JSON]) -> pd.DataFrame:
    rows = []
    for item in _items(pages, "data"):
        claim = _text(item.get("claimStatus"))
        managed = None if claim not in ("managed", "unmanaged") else claim == "managed"
        rows.append(_account(item, managed=managed, id_key="accountId",
                             status_key="accountStatus", type_key="accountType"))  # fmt: skip
    return table(rows, ACCOUNT_COLUMNS)


def _scim(pages: list[JSON]) -> pd.DataFrame:
    rows = []
    for item in _items(pages, "Resources"):
        emails = [e for e in item.get("emails") or [] if isinstance(e, dict)] if isinstance(item.get("emails"), list) else []  # fmt: skip
        values = [v for e in emails if (v := _text(e.get("value"))) is not None]
        link = item.get(LINK_EXTENSION)
        meta = _object(item.get("meta"))
        active = item.get("active", True)
        rows.append(
            {
                "id": _text(item.get("id")),
                "user_name": _text(item.get("userName")),
                "external_id": _text(item.get("externalId")),
                "display_name": _text(item.get("displayName")),
                "email": _primary(emails) or (values[0] if values else None),
                "emails": values,
                "active": _flag(active),
                "account_id": _text(link.get("atlassianAccountId"))
                if isinstance(link, dict)
                else None,
                "created": _text(meta.get("created")),
                "last_modified": _text(meta.get("lastModified")),
            }
        )
    return table(rows, PROVISIONED_COLUMNS)


def _primary(emails: list[JSON]) -> str | None:
    """The e-mail marked primary (``"primary": true``), if any."""
    for entry in emails:
        if _flag(entry.get("primary")) and _text(entry.get("value")):
            return str(entry["value"])
    return None
