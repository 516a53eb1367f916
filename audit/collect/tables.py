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

JSON = dict[str, Any]

USER_STR = (
    "id",
    "displayName",
    "givenName",
    "surname",
    "userPrincipalName",
    "mail",
    "userType",
    "creationType",
    "externalUserState",
    "mailNickname",
)
USER_LIST = ("otherMails", "proxyAddresses")
USER_TIME = ("externalUserStateChangeDateTime", "createdDateTime", "lastSignInDateTime")
USER_COLUMNS = (
    *USER_STR,
    *USER_LIST,
    "identities",
    "accountEnabled",
    "licenseCount",
    *USER_TIME,
)


def users_table(records: Iterable[JSON]) -> pd.DataFrame:
    """One row per user; duplicate ids keep their first occurrence."""
    rows = [_user_row(r) for r in records if isinstance(r, dict)]
    df = pd.DataFrame.from_records(rows, columns=list(USER_COLUMNS))
    for col in USER_STR:
        df[col] = df[col].astype("str")
    df["accountEnabled"] = df["accountEnabled"].astype("boolean")
    df["licenseCount"] = df["licenseCount"].astype("Int64")
    for col in USER_TIME:
        df[col] = _times(df[col])
    df = df[df["id"].notna() & (df["id"] != "")]
    return df.drop_duplicates("id").reset_index(drop=True)


def _user_row(r: JSON) -> tuple[Any, ...]:
    sign_in = r.get("signInActivity")
    last = sign_in.get("lastSignInDateTime") if isinstance(sign_in, dict) else None
    licenses = r.get("assignedLicenses")
    enabled = r.get("accountEnabled")
    return (
        *(_text(r.get(c)) for c in USER_STR),
        *(_text_list(r.get(c)) for c in USER_LIST),
        _json_text(r.get("identities")),
        enabled if isinstance(enabled, bool) else None,
        len(licenses) if isinstance(licenses, list) else None,
        _text(r.get("externalUserStateChangeDateTime")),
        _text(r.get("createdDateTime")),
        _text(last),
    )


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
    """The target app's service principal (zero or one row)."""
    return _table(records, {"id": _text, "appId": _text, "displayName": _text})


def assignments_table(records: Iterable[JSON]) -> pd.DataFrame:
    """``appRoleAssignedTo`` of the app: who is assigned, directly or as a group."""
    cols = {"principalId": _text, "principalType": _text, "principalDisplayName": _text}
    return _table(records, cols | {"appRoleId": _text, "resourceId": _text})


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
    rows = [_log_row(r) for r in records if isinstance(r, dict)]
    cols = ["id", "activityDateTime", "provisioningAction", "status", "errorCode", "reason"]
    df = pd.DataFrame.from_records(rows, columns=[*cols, "sourceId", "jobId"])
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
    )


def _table(records: Iterable[JSON], cols: Mapping[str, Callable[[Any], Any]]) -> pd.DataFrame:
    rows = [tuple(f(r.get(c)) for c, f in cols.items()) for r in records if isinstance(r, dict)]
    df = pd.DataFrame.from_records(rows, columns=list(cols))
    for c, f in cols.items():
        if f is _text:
            df[c] = df[c].astype("str")
    return df


def _obj(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    """A string, or None; numbers become their text, containers are dropped."""
    if value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _text_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


def _json_text(value: Any) -> str | None:
    return orjson.dumps(value).decode() if isinstance(value, list) else None  # kept as JSON text


def _times(col: pd.Series) -> pd.Series:
    """ISO 8601 strings to UTC timestamps; unparseable values become NaT, never an error."""
    parsed = pd.to_datetime(col, format="ISO8601", utc=True, errors="coerce")
    return parsed.astype("datetime64[us, UTC]")
