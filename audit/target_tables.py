"""The snapshot's target-side tables: their columns, whichever target's collector wrote them.

A target's collector (for Atlassian Cloud: :mod:`audit.collectors.atlassian_tables`) turns what the
target's APIs return into these vendor-neutral tables, stored under the target's source names
(``Target.evidence``); the analysis reads only these columns:

``domains`` (the target organization's domains)
    ``domain`` (lower-case IDNA A-label), ``name`` (as the target returned it), ``claim_type``,
    ``status`` (the target's verification status, as returned), ``verified`` (bool).
``accounts`` (accounts the organization can see)
    ``account_id``, ``email``, ``name``, ``account_type``, ``status`` (as returned), ``active``
    (boolean, NA unknown), ``managed`` (boolean: the organization manages the account; NA
    unknown), ``last_active``.
``provisioned`` (users of the provisioning (SCIM) directory)
    ``id`` (the SCIM id), ``user_name``, ``external_id``, ``display_name``, ``email`` (the primary
    e-mail), ``emails`` (every e-mail, list), ``active`` (boolean), ``account_id`` (the account
    the SCIM user is linked to; NA: not linked), ``created``, ``last_modified``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["ACCOUNT_COLUMNS", "DOMAIN_COLUMNS", "PROVISIONED_COLUMNS", "table"]

DOMAIN_COLUMNS = {
    "domain": "str",
    "name": "str",
    "claim_type": "str",
    "status": "str",
    "verified": "bool",
}
ACCOUNT_COLUMNS = {
    "account_id": "str",
    "email": "str",
    "name": "str",
    "account_type": "str",
    "status": "str",
    "active": "boolean",
    "managed": "boolean",
    "last_active": "str",
}
PROVISIONED_COLUMNS = {
    "id": "str",
    "user_name": "str",
    "external_id": "str",
    "display_name": "str",
    "email": "str",
    "emails": "object",
    "active": "boolean",
    "account_id": "str",
    "created": "str",
    "last_modified": "str",
}


def table(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    """A table of ``columns`` (name → dtype) from row dicts; absent values are NA."""
    data: dict[str, Any] = {}
    for name, dtype in columns.items():
        values = [row.get(name) for row in rows]
        if dtype == "object":
            data[name] = pd.Series([v if isinstance(v, list) else [] for v in values], dtype=object)
        elif dtype == "bool":
            data[name] = pd.Series([bool(v) for v in values], dtype=bool)
        else:
            data[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
