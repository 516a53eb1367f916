"""Turn raw Graph JSON objects into the snapshot's typed tables.

Shared by the live collector and the offline export reader, so both produce identical snapshots. Values
of the wrong JSON type (a number where Graph sends a string, a string where it sends a list) are coerced
or dropped here, once, so nothing downstream meets them.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa

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
    """One row per user; duplicate ids keep their first occurrence.

    Built column by column straight from the raw objects (no per-user row tuples, no object
    frame cast afterwards) with the cyclic GC paused: at a million users the raw objects are
    tens of millions of tracked containers, and every full collection triggered by the lists
    built here would walk them all again.
    """
    users = [r for r in records if isinstance(r, dict)]
    with gc_paused():
        columns = _user_columns(users)
    del users
    df = pd.DataFrame(columns, index=pd.RangeIndex(len(columns["id"])))
    df = df[df["id"].notna() & (df["id"] != "")]
    return df.drop_duplicates("id").reset_index(drop=True)


def _user_columns(users: list[JSON]) -> dict[str, Any]:
    """The users table's columns, each converted as soon as it is read."""
    columns: dict[str, Any] = {c: _str_column([u.get(c) for u in users]) for c in USER_STR}
    for c in USER_LIST:
        columns[c] = _fresh_lists([_text_list(u.get(c)) for u in users])
    identities = [_json_text(u.get("identities")) for u in users]
    columns["identities"] = pd.Series(identities, dtype="str" if any(identities) else object)
    enabled = [u.get("accountEnabled") for u in users]
    columns["accountEnabled"] = pd.array(
        [v if isinstance(v, bool) else None for v in enabled], dtype="boolean"
    )
    licenses = [u.get("assignedLicenses") for u in users]
    columns["licenseCount"] = pd.array(
        [len(v) if isinstance(v, list) else None for v in licenses], dtype="Int64"
    )
    for c in ("externalUserStateChangeDateTime", "createdDateTime"):
        columns[c] = _times(_str_column([u.get(c) for u in users]))
    columns["lastSignInDateTime"] = _times(_str_column([_last_sign_in(u) for u in users]))
    return {c: columns[c] for c in USER_COLUMNS}


def _str_column(values: list[Any]) -> pd.Series:
    """Graph strings as a ``str`` column; other JSON types coerced as :func:`_text` does.

    Arrow converts a list of str/None several times faster than ``pd.Series(dtype="str")``;
    it refuses numbers, lists and objects, which then take the coercing path.
    """
    try:
        array = pa.array(values, type=pa.large_string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        array = pa.array([_text(v) for v in values], type=pa.large_string())
    return pd.Series(pd.array(array, dtype="str"))


def _fresh_lists(values: list[list[str]]) -> pd.Series:
    """A column of string lists that shares no object with the raw users.

    The lists would otherwise hold the raw objects' own strings, scattered over every memory
    arena the collection filled, and keep those arenas (gigabytes at a million users) from being
    returned once the raw objects are dropped. An orjson round trip copies them compactly, in C.
    """
    return pd.Series(orjson.loads(orjson.dumps(values)), dtype=object)


def _last_sign_in(user: JSON) -> Any:
    sign_in = user.get("signInActivity")
    return sign_in.get("lastSignInDateTime") if isinstance(sign_in, dict) else None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC (the objects built here hold no cycles); restore it as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
    """Column by column (GC paused, as :func:`users_table`): ``_text`` fields as ``str``."""
    rows = [r for r in records if isinstance(r, dict)]
    with gc_paused():
        data = {c: _column([r.get(c) for r in rows], f) for c, f in cols.items()}
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def _column(values: list[Any], convert: Callable[[Any], Any]) -> pd.Series:
    if convert is _text:
        return _str_column(values)
    return pd.Series([convert(v) for v in values], dtype=object)


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
