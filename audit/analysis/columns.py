"""The guests frame's columns: names, dtypes and meanings — the one definition of that contract.

``audit/COLUMNS.md`` shows this table (regenerate it with ``python -m tests.update_readme``; a test
checks it), ``conform`` casts hand-made frames to it, and rules may read only these columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

__all__ = [
    "COLUMNS",
    "FRAME_COLUMNS",
    "TARGET_ACCOUNTS",
    "TARGET_USER_COLUMNS",
    "TARGET_USER_FRAME_COLUMNS",
    "Column",
    "columns_markdown",
    "conform",
    "dtype_of",
]

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
    LIST: "list[str] (Arrow `list<large_string>` as built; object lists accepted)",
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
        "original_upn_ok",
        BOOL,
        "`original_upn` has the form `alias_domain#EXT#@<tenant domain>` (the initial domain or a verified one)",
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
    Column(
        "target_key_known",
        BOOL,
        "false where the key could not be predicted (the mapping reaches a part the tool cannot evaluate: `engine_unknown`)",
    ),
    Column("target_email", TEXT, "predicted target e-mail (the profile's e-mail attribute)"),
    Column("target_email_known", BOOL, "false where the e-mail could not be predicted"),
    Column(
        "match_attribute",
        TEXT,
        "the target attribute of highest matching precedence (`matchingPriority`) in the mapping",
    ),
    Column(
        "match_value",
        TEXT,
        "the value the guest is matched on with it (NA: empty or unknown)",
    ),
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
        "whatif_target_key_known",
        BOOL,
        "`target_key_known`, `target_email_known` and `match_value` under the recommended mapping",
    ),
    Column("whatif_target_email_known", BOOL, ""),
    Column("whatif_match_value", TEXT, ""),
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
    Column(
        "is_soft_deleted",
        NULLABLE_BOOL,
        "provisioning source attribute `IsSoftDeleted` (true when `accountEnabled` is false)",
    ),
    Column(
        "filter_in_scope",
        NULLABLE_BOOL,
        "the User mapping's scoping filter lets the guest in (true without a filter; NA: unknown)",
    ),
    Column(
        "in_scope",
        NULLABLE_BOOL,
        "the provisioning service processes the guest: job scope (assigned or all), scoping filter, enabled account (NA: unknown)",
    ),
    Column(
        "engine_unknown",
        TEXT,
        "what of the mapping or scoping filter the tool could not evaluate for this guest (NA: nothing)",
    ),
    Column(
        "step_scope",
        TEXT,
        "provision-on-demand's steps for the guest: in scope (assignment, filter, account), match (attribute and value), action (create, update, disable, skip), attributes sent (each mapped target attribute and its value), result (the predicted outcome and why)",
    ),
    Column("step_match", TEXT, ""),
    Column("step_action", TEXT, ""),
    Column("step_attributes", TEXT, ""),
    Column("step_result", TEXT, ""),
    Column("mu_present", NULLABLE_BOOL, "a GuestMailUser row exists (NA: no MailUser export)"),
    Column("mu_primary_smtp", TEXT, "`PrimarySmtpAddress`, `ExternalEmailAddress`"),
    Column("mu_external_email", TEXT, ""),
    Column("mu_email_addresses", LIST, "`EmailAddresses`"),
    Column("last_prov_status", TEXT, "latest provisioning-log entry for the guest"),
    Column("last_prov_action", TEXT, ""),
    Column("last_prov_error", TEXT, ""),
    Column("last_prov_time", TIME, "its time"),
    Column(
        "target_account",
        TEXT,
        "the account the guest gets in the target, from target-side evidence: `new` (no account "
        "the organization can see has the target e-mail), `links_managed` / `links_unmanaged` "
        "(a managed / unmanaged account has it), `already_provisioned` (the provisioning "
        "directory holds the guest: `externalId` = object id, or `userName` = `target_key`), "
        "`conflict` (the e-mail belongs to another directory user, or to an account linked to "
        "one), `unknown` (a source it needs was not read); NA without target-side evidence. "
        "Without the directory, `already_provisioned` and `conflict` cannot be seen",
    ),
    Column("whatif_target_account", TEXT, "the same under the recommended mapping"),
    Column(
        "target_user_id",
        TEXT,
        "id of the provisioning-directory user that holds the guest (NA: none, or not read)",
    ),
    Column(
        "target_conflict",
        TEXT,
        "for `conflict`: who holds the target e-mail (directory user id, or account id)",
    ),
)

TARGET_ACCOUNTS = (
    "new",
    "links_managed",
    "links_unmanaged",
    "already_provisioned",
    "conflict",
    "unknown",
)
"""Values of ``target_account``."""

TARGET_USER_COLUMNS: tuple[Column, ...] = (
    Column(
        "tu_id",
        TEXT,
        "id of the user in the target's provisioning (SCIM) directory (the `object_id` of its findings)",
    ),
    Column("tu_user_name", TEXT, "`userName`, `externalId`, `displayName` (hostile: never trust)"),
    Column("tu_external_id", TEXT, ""),
    Column("tu_display_name", TEXT, ""),
    Column("tu_email", TEXT, "its primary e-mail"),
    Column("tu_email_domain", TEXT, "that e-mail's domain, lower-case IDNA A-label"),
    Column("tu_active", NULLABLE_BOOL, "`active`"),
    Column("tu_account_id", TEXT, "the target account it is linked to (NA: not linked)"),
    Column(
        "tu_account_state",
        TEXT,
        "that account: `managed`, `unmanaged`, `unlinked` (no account), `unknown` (not visible)",
    ),
    Column(
        "tu_external",
        NULLABLE_BOOL,
        "a guest's, as far as can be told: it holds an audited guest, or its userName or e-mail "
        "has `#EXT#` or is not on one of the tenant's domains (False: a member's; members are not "
        "collected)",
    ),
    Column(
        "tu_guest_id",
        TEXT,
        "object id of the Entra guest it holds (`externalId` = object id, else `userName` = that guest's `target_key`; NA: none)",
    ),
    Column("tu_guest_email", TEXT, "that guest's `target_email` now"),
)
"""The target users frame: one row per user of the target's provisioning directory (rules of
level ``target`` read it)."""

FRAME_COLUMNS: set[str] = {c.name for c in COLUMNS}
TARGET_USER_FRAME_COLUMNS: set[str] = {c.name for c in TARGET_USER_COLUMNS}
_DTYPES = {c.name: c.dtype for c in (*COLUMNS, *TARGET_USER_COLUMNS)}


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


def columns_markdown(columns: tuple[Column, ...] = COLUMNS) -> str:
    """A column table of ``audit/COLUMNS.md`` (the guests frame by default): consecutive columns
    with one meaning share a row."""
    rows: list[tuple[list[str], str, str]] = []
    for c in columns:
        if not c.meaning and rows:
            rows[-1][0].append(c.name)
        else:
            rows.append(([c.name], _SHOWN[c.dtype], c.meaning))
    lines = ["| column | dtype | meaning |", "|---|---|---|"]
    for names, dtype, meaning in rows:
        lines.append(f"| {', '.join(f'`{n}`' for n in names)} | {dtype} | {meaning} |")
    return "\n".join(lines)
