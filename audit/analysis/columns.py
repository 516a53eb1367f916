"""The guests frame's columns: names, dtypes and meanings — the one definition of that contract.

``audit/COLUMNS.md`` shows this table (regenerate it with ``python -m tests.update_readme``; a test
checks it), ``conform`` casts hand-made frames to it, and rules may read only these columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

__all__ = ["COLUMNS", "FRAME_COLUMNS", "Column", "columns_markdown", "conform", "dtype_of"]

TEXT, BOOL, NULLABLE_BOOL, TIME, LIST, INT = (
    "str",
    "bool",
    "boolean",
    "datetime64[us, UTC]",
    "object",
    "Int64",
)
_SHOWN = {
    TEXT: "str",
    BOOL: "bool",
    NULLABLE_BOOL: "boolean",
    TIME: "datetime64[UTC]",
    LIST: "object (list[str])",
    INT: "Int64",
}


@dataclass(frozen=True)
class Column:
    """One column of the guests frame; an empty ``meaning`` continues the previous row's."""

    name: str
    dtype: str
    meaning: str


COLUMNS: tuple[Column, ...] = (
    Column("object_id", TEXT, "Graph object id (the `object_id` of findings)"),
    Column("display_name", TEXT, "as in Graph (hostile: never trust)"),
    Column("given_name", TEXT, ""),
    Column("surname", TEXT, ""),
    Column("mail_nickname", TEXT, ""),
    Column("user_type", TEXT, "`Guest` or `Member`"),
    Column("creation_type", TEXT, "`Invitation`, ..."),
    Column("external_user_state", TEXT, "`PendingAcceptance` / `Accepted` (spaces stripped)"),
    Column("external_user_state_changed", TIME, "last change of the above"),
    Column("account_enabled", NULLABLE_BOOL, "`accountEnabled`"),
    Column("created", TIME, "`createdDateTime`"),
    Column("license_count", INT, "number of `assignedLicenses`"),
    Column(
        "last_sign_in", TIME, "`signInActivity.lastSignInDateTime` (NA: never, or not collected)"
    ),
    Column("is_external_member", BOOL, "externally invited but `userType` Member"),
    Column("user_principal_name", TEXT, "the stored UPN as Graph returns it"),
    Column(
        "original_upn",
        TEXT,
        "provisioning source attribute `originalUserPrincipalName` (= the stored UPN)",
    ),
    Column(
        "original_upn_ok", BOOL, "`original_upn` has the form `alias_domain#EXT#@<initial domain>`"
    ),
    Column(
        "provisioning_upn",
        TEXT,
        "provisioning source attribute `userPrincipalName`: for `#EXT#` UPNs the prefix before `#EXT#` with its last `_` turned into `@`, else the UPN",
    ),
    Column("mail", TEXT, "`mail`"),
    Column("mail_domain", TEXT, "domain of `mail`, lower-case IDNA A-label"),
    Column("other_mails", LIST, "`otherMails`"),
    Column("proxy_addresses", LIST, "`proxyAddresses`"),
    Column("primary_smtp", TEXT, "the address of the upper-case `SMTP:` proxy"),
    Column("mail_domain_public", BOOL, "`mail_domain` is a consumer mail provider"),
    Column(
        "mail_state",
        TEXT,
        "DNS of `mail_domain`: `deliverable`, `null_mx`, `nxdomain`, `no_mail_host`, `unknown`; NA without DNS",
    ),
    Column(
        "domain_claimed_elsewhere",
        NULLABLE_BOOL,
        "`mail_domain` publishes the vendor TXT with a token that is not ours (NA: unknown)",
    ),
    Column(
        "target_key",
        TEXT,
        "predicted target key (the profile's key attribute, e.g. `userName`) under the current mapping",
    ),
    Column(
        "target_key_normalised",
        TEXT,
        "`target_key` as the target stores it, after its documented normalisation (NA: unknown)",
    ),
    Column("target_email", TEXT, "predicted target e-mail (the profile's e-mail attribute)"),
    Column("target_email_domain", TEXT, "its domain, IDNA A-label"),
    Column("target_email_public", BOOL, "`target_email_domain` is a consumer mail provider"),
    Column(
        "target_domain_verified",
        NULLABLE_BOOL,
        "that domain is verified in the target (NA: unknown)",
    ),
    Column(
        "whatif_target_key",
        TEXT,
        "`target_key`, `target_email` and its domain under the target's recommended guest mapping",
    ),
    Column("whatif_target_key_normalised", TEXT, ""),
    Column("whatif_target_email", TEXT, ""),
    Column("whatif_target_email_domain", TEXT, ""),
    Column(
        "whatif_target_email_public",
        BOOL,
        "`whatif_target_email_domain` is a consumer mail provider",
    ),
    Column(
        "whatif_domain_verified",
        NULLABLE_BOOL,
        "that domain is verified in the target, assuming the what-if's precondition (NA: unknown)",
    ),
    Column(
        "scope",
        TEXT,
        "`direct`, `group`, `nested_only`, `none`; NA when assignments were not collected",
    ),
    Column("mu_present", NULLABLE_BOOL, "a GuestMailUser row exists (NA: no MailUser export)"),
    Column("mu_primary_smtp", TEXT, "`PrimarySmtpAddress`, `ExternalEmailAddress`"),
    Column("mu_external_email", TEXT, ""),
    Column("mu_email_addresses", LIST, "`EmailAddresses`"),
    Column("last_prov_status", TEXT, "latest provisioning-log entry for the guest"),
    Column("last_prov_action", TEXT, ""),
    Column("last_prov_error", TEXT, ""),
    Column("last_prov_time", TIME, "its time"),
)

FRAME_COLUMNS: set[str] = {c.name for c in COLUMNS}
_DTYPES = {c.name: c.dtype for c in COLUMNS}


def dtype_of(column: str) -> str:
    """The dtype a frame column has (``object`` for list columns)."""
    return _DTYPES[column]


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast every known column to its contract dtype (used for hand-made frames and examples)."""
    for column in frame.columns:
        dtype = _DTYPES.get(column)
        if dtype == BOOL:
            frame[column] = frame[column].astype("boolean").fillna(False).astype(bool)
        elif dtype == TIME:
            frame[column] = pd.to_datetime(frame[column], utc=True).astype(cast(Any, TIME))
        elif dtype == LIST:
            frame[column] = frame[column].map(lambda v: list(v) if isinstance(v, list) else [])
        elif dtype is not None:
            frame[column] = frame[column].astype(cast(Any, dtype))
    return frame


def columns_markdown() -> str:
    """The guests-frame table of ``audit/COLUMNS.md``: consecutive columns with one meaning share a row."""
    rows: list[tuple[list[str], str, str]] = []
    for c in COLUMNS:
        if not c.meaning and rows:
            rows[-1][0].append(c.name)
        else:
            rows.append(([c.name], _SHOWN[c.dtype], c.meaning))
    lines = ["| column | dtype | meaning |", "|---|---|---|"]
    for names, dtype, meaning in rows:
        lines.append(f"| {', '.join(f'`{n}`' for n in names)} | {dtype} | {meaning} |")
    return "\n".join(lines)
