"""Turn raw Graph JSON objects into the snapshot's typed tables.

Shared by the live collector and the offline export reader, so both produce identical snapshots. Values
of the wrong JSON type (a number where Graph sends a string, a string where it sends a list) are coerced
or dropped here, once, so nothing downstream meets them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson
import pandas as pd

from audit._process import gc_paused
from audit.collectors.users_columns import (
    USER_COLUMNS,
    USER_LIST,
    USER_STR,
    USER_TIME,
    UserColumns,
    texts,
)
from audit.collectors.users_columns import text as _text
from audit.collectors.users_columns import times as _times

__all__ = [  # the users table's columns are defined beside its page-by-page build
    "USER_COLUMNS",
    "USER_LIST",
    "USER_STR",
    "USER_TIME",
    "assignments_table",
    "domains_table",
    "gc_paused",
    "group_members_table",
    "json_table",
    "organization_info",
    "provisioning_logs_table",
    "service_principal_table",
    "users_table",
]

JSON = dict[str, Any]


def users_table(records: Iterable[JSON]) -> pd.DataFrame:
    """One row per user; duplicate ids keep their first occurrence.

    The same conversion as a collection's page-by-page build (:mod:`audit.collectors.users_columns`),
    here on all the objects at once (an export folder, a delta round's changes).
    """
    columns = UserColumns()
    columns.extend(records)
    return columns.table()[0]


def domains_table(records: Iterable[JSON]) -> pd.DataFrame:
    """One row per tenant domain with its verification flags."""
    cols = {"id": _text, "isVerified": _flag, "isInitial": _flag, "isDefault": _flag}
    cols |= {"authenticationType": _text}
    df = _table(records, cols)
    df["id"] = df["id"].str.lower()
    for c in ("isVerified", "isInitial", "isDefault"):
        df[c] = df[c].astype("boolean")
    return df


def organization_info(records: Sequence[JSON], domains: pd.DataFrame) -> JSON:
    """Tenant id, name and initial domain, from ``/organization`` and ``/domains``."""
    org = records[0] if records else {}
    initial = domains.loc[domains["isInitial"].fillna(False).astype(bool), "id"]
    if initial.empty and isinstance(org.get("verifiedDomains"), list):
        found = [d.get("name") for d in org["verifiedDomains"] if isinstance(d, dict)]
        flags = [bool(d.get("isInitial")) for d in org["verifiedDomains"] if isinstance(d, dict)]
        initial = pd.Series([n for n, f in zip(found, flags, strict=True) if f and n])
    return {
        "id": _text(org.get("id")),
        "name": _text(org.get("displayName")),
        "initial_domain": str(initial.iloc[0]).lower() if len(initial) else None,
    }


def service_principal_table(records: Iterable[JSON]) -> pd.DataFrame:
    """The target app's service principal (zero or one row), with what ``--target auto`` reads:
    its application's name and the gallery template it was created from."""
    cols = {"id": _text, "appId": _text, "displayName": _text, "appDisplayName": _text}
    return _table(records, cols | {"applicationTemplateId": _text})


def assignments_table(records: Iterable[JSON]) -> pd.DataFrame:
    """``appRoleAssignedTo`` of the app: who is assigned, directly or as a group."""
    cols = {"principalId": _text, "principalType": _text, "principalDisplayName": _text}
    return _table(records, cols | {"appRoleId": _text, "resourceId": _text})


def groups_table(records: Iterable[JSON]) -> pd.DataFrame:
    """The assigned groups: whether each is security-enabled (only those grant provisioning scope)."""
    cols = {"id": _text, "displayName": _text, "securityEnabled": _flag, "mailEnabled": _flag}
    df = _table(records, cols)
    for c in ("securityEnabled", "mailEnabled"):
        df[c] = df[c].astype("boolean")
    return df


def group_members_table(records: Iterable[JSON]) -> pd.DataFrame:
    """Direct members of assigned groups; ``_groupId`` names the group each was listed under."""
    cols = {"_groupId": _text, "id": _text, "@odata.type": _text, "displayName": _text}
    df = _table(records, cols)
    return df.rename(columns={"_groupId": "groupId", "@odata.type": "odataType"})


def json_table(records: Iterable[JSON]) -> pd.DataFrame:
    """Objects kept whole as JSON text (job, schema): small, and lossless."""
    return pd.DataFrame({"json": [orjson.dumps(r).decode() for r in records]}, dtype="str")


def provisioning_logs_table(records: Iterable[JSON]) -> pd.DataFrame:
    """Flattened ``provisioningObjectSummary`` entries; one row per entry."""
    with gc_paused():
        rows = [_log_row(r) for r in records if isinstance(r, dict)]
    cols = ["id", "activityDateTime", "provisioningAction", "status", "errorCode", "reason"]
    df = pd.DataFrame.from_records(rows, columns=[*cols, "sourceId", "jobId", "servicePrincipalId"])
    for c in df.columns:
        df[c] = df[c].astype("str")
    df["activityDateTime"] = _times(df["activityDateTime"])
    return df


def _log_row(r: JSON) -> tuple[Any, ...]:
    info = _obj(r.get("provisioningStatusInfo"))
    error = _obj(info.get("errorInformation"))
    return (
        _text(r.get("id")),
        _text(r.get("activityDateTime")),
        _text(r.get("provisioningAction")),
        _text(info.get("status")),
        _text(error.get("errorCode")),
        _text(error.get("reason")),
        _text(_obj(r.get("sourceIdentity")).get("id")),
        _text(r.get("jobId")),
        _text(_service_principal(r.get("servicePrincipal")).get("id")),
    )


def _service_principal(value: Any) -> JSON:
    """``servicePrincipal`` of a log entry: documented as a collection, shown as one object."""
    if isinstance(value, list):
        value = value[0] if value else None
    return _obj(value)


def _table(records: Iterable[JSON], cols: Mapping[str, Callable[[Any], Any]]) -> pd.DataFrame:
    """Column by column (the GC paused where the process allows it): ``_text`` fields as ``str``."""
    rows = [r for r in records if isinstance(r, dict)]
    with gc_paused():
        data = {c: _column([r.get(c) for r in rows], f) for c, f in cols.items()}
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def _column(values: list[Any], convert: Callable[[Any], Any]) -> pd.Series:
    if convert is _text:
        return _str_column(values)
    return pd.Series([convert(v) for v in values], dtype=object)


def _str_column(values: list[Any]) -> pd.Series:
    """Graph strings as a ``str`` column; other JSON types coerced as ``_text`` does."""
    return pd.Series(pd.array(texts(values), dtype="str"))


def _obj(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
