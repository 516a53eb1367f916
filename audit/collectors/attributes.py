"""The extra source attributes a job schema names, read from the raw user records into one table.

A scoping filter or mapping may read ``department``, ``extensionAttribute3`` or a directory
extension; the guests' usual ``$select`` does not carry them. The live collector reads them in a
second pass (``user_attributes``, only when the schema names any); an export's ``users.json`` may
simply hold them. Either way they land in the snapshot table ``user_attributes``: ``id`` plus one
text column per attribute (named as the schema writes it). An attribute no record carries at all
gets no column: it was not collected, so what reads it is *unknown*, never null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from audit.mapping.sources import schema_attributes

__all__ = ["ATTRIBUTE_SOURCES", "attributes_table", "select_of", "wanted_attributes"]

JSON = dict[str, Any]

ATTRIBUTE_SOURCES = ("user_attributes", "member_users", "users")
"""Raw record lists that may carry the extra attributes (first wins for a user)."""


def wanted_attributes(records: Mapping[str, list[JSON]]) -> dict[str, str]:
    """Attribute → Graph property, for the schema among ``records`` (none without a schema)."""
    schemas = records.get("sync_schema") or []
    return schema_attributes(schemas[0]) if schemas else {}


def select_of(wanted: Mapping[str, str]) -> list[str]:
    """The top-level Graph properties to ``$select`` for ``wanted``."""
    return list(dict.fromkeys(prop.split("/", 1)[0] for prop in wanted.values()))


def attributes_table(
    records: Mapping[str, list[JSON]], wanted: Mapping[str, str]
) -> pd.DataFrame | None:
    """``id`` plus a column per wanted attribute some record carries; None when none does."""
    if not wanted:
        return None
    rows: dict[str, JSON] = {}
    for source in ATTRIBUTE_SOURCES:
        for record in records.get(source) or []:
            key = record.get("id") if isinstance(record, dict) else None
            if isinstance(key, str) and key not in rows:
                rows[key] = record
    columns: dict[str, Any] = {"id": list(rows)}
    for name, prop in wanted.items():
        top = prop.split("/", 1)[0]
        if any(top in record for record in rows.values()):
            columns[name] = [_text(_value(record, prop)) for record in rows.values()]
    if len(columns) == 1:
        return None
    return pd.DataFrame(columns).astype("str")


def _value(record: JSON, prop: str) -> Any:
    value: Any = record
    for part in prop.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str | None:
    """Graph values as text: booleans as True/False (as the evaluator reads them), lists dropped
    (multi-valued extensions are not supported in mappings or filters)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)
