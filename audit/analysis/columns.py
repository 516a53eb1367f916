"""The guests frame's columns and dtypes (the contract documented in ``audit/COLUMNS.md``)."""

from __future__ import annotations

from typing import Any, cast

import pandas as pd

FRAME_COLUMNS: set[str] = {
    "object_id",
    "display_name",
    "given_name",
    "surname",
    "mail_nickname",
    "user_type",
    "creation_type",
    "external_user_state",
    "external_user_state_changed",
    "account_enabled",
    "created",
    "license_count",
    "last_sign_in",
    "is_external_member",
    "user_principal_name",
    "original_upn",
    "original_upn_ok",
    "provisioning_upn",
    "mail",
    "mail_domain",
    "other_mails",
    "proxy_addresses",
    "primary_smtp",
    "mail_domain_public",
    "mail_state",
    "domain_claimed_elsewhere",
    "target_key",
    "target_email",
    "target_email_domain",
    "target_email_public",
    "target_domain_verified",
    "whatif_target_key",
    "whatif_target_email",
    "whatif_target_email_domain",
    "whatif_domain_verified",
    "scope",
    "mu_present",
    "mu_primary_smtp",
    "mu_external_email",
    "mu_email_addresses",
    "last_prov_status",
    "last_prov_action",
    "last_prov_error",
    "last_prov_time",
}

_TIME = "datetime64[us, UTC]"
_BOOL = {"is_external_member", "original_upn_ok", "mail_domain_public", "target_email_public"}
_NULLABLE_BOOL = {"account_enabled", "domain_claimed_elsewhere", "target_domain_verified"}
_NULLABLE_BOOL |= {"whatif_domain_verified", "mu_present"}
_TIMES = {"external_user_state_changed", "created", "last_sign_in", "last_prov_time"}
_LISTS = {"other_mails", "proxy_addresses", "mu_email_addresses"}


def dtype_of(column: str) -> str:
    """The dtype a frame column has (``object`` for list columns)."""
    if column in _BOOL:
        return "bool"
    if column in _NULLABLE_BOOL:
        return "boolean"
    if column in _TIMES:
        return _TIME
    if column in _LISTS:
        return "object"
    return "Int64" if column == "license_count" else "str"


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast every known column to its contract dtype (used for hand-made frames and examples)."""
    for column in frame.columns:
        dtype = dtype_of(column) if column in FRAME_COLUMNS else None
        if dtype == "bool":
            frame[column] = frame[column].astype("boolean").fillna(False).astype(bool)
        elif dtype == _TIME:
            frame[column] = pd.to_datetime(frame[column], utc=True).astype(cast(Any, _TIME))
        elif dtype == "object":
            frame[column] = frame[column].map(lambda v: list(v) if isinstance(v, list) else [])
        elif dtype is not None:
            frame[column] = frame[column].astype(cast(Any, dtype))
    return frame
