"""The guests frame: one row per guest with every derived column computed once, vectorised.

Column contract: ``audit/COLUMNS.md``. Joins with DNS, scope, MailUsers and provisioning logs live in
``audit/frame_join.py``; predicted target values in ``audit/frame_target.py``.
"""

from __future__ import annotations

import pandas as pd

from audit import addresses as addr
from audit.analysis.frame_join import (
    add_dns,
    add_mailusers,
    add_provisioning,
    add_scope,
    domain_facts,
)
from audit.analysis.frame_target import add_targets, effective_mapping
from audit.analysis.target_accounts import add_target_accounts, organization_verified, target_side
from audit.analysis.target_choice import target_for
from audit.config import AuditConfig
from audit.guests import guest_mask, public_domains
from audit.snapshot import Snapshot
from audit.targets import Target

_RENAME = {
    "id": "object_id",
    "displayName": "display_name",
    "givenName": "given_name",
    "surname": "surname",
    "mailNickname": "mail_nickname",
    "userType": "user_type",
    "creationType": "creation_type",
    "externalUserState": "external_user_state",
    "externalUserStateChangeDateTime": "external_user_state_changed",
    "accountEnabled": "account_enabled",
    "createdDateTime": "created",
    "licenseCount": "license_count",
    "lastSignInDateTime": "last_sign_in",
    "userPrincipalName": "user_principal_name",
    "mail": "mail",
    "otherMails": "other_mails",
    "proxyAddresses": "proxy_addresses",
}


def guests_frame(
    snapshot: Snapshot,
    *,
    config: AuditConfig | None = None,
    target: Target | None = None,
    mapping: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Build the guests frame of ``snapshot`` for ``target`` (default: the config's target, or for
    ``auto`` the one the snapshot's app matches).

    ``mapping`` (target attribute → expression) overrides the mapping read from the snapshot's job
    schema or, without one, the target profile's default mapping.
    """
    config = config or AuditConfig()
    if target is None:
        target = target_for(snapshot, config).target
    users = snapshot.table("users")
    if users is None:
        raise ValueError("the snapshot has no usable users table")
    frame = _identity(users, snapshot.tenant.get("initial_domain"))
    frame = _address_columns(frame, config)
    dns = snapshot.table("dns")
    facts = domain_facts(dns, config, target) if dns is not None else None
    frame = add_dns(frame, facts)
    frame = add_scope(
        frame, snapshot.table("app_role_assignments"), snapshot.table("group_members")
    )
    frame = add_mailusers(frame, snapshot.table("mailusers"))
    frame = add_provisioning(frame, snapshot.table("provisioning_logs"))
    effective = effective_mapping(snapshot, config, target, mapping)
    side = target_side(snapshot, target)
    frame = add_targets(
        frame, facts, effective, config, target, snapshot.tenant.get("initial_domain"),
        organization=organization_verified(side),
    )  # fmt: skip
    public = _public(config)
    frame["target_email_public"] = frame["target_email_domain"].isin(public).astype(bool)
    frame["whatif_target_email_public"] = (
        frame["whatif_target_email_domain"].isin(public).astype(bool)
    )
    return add_target_accounts(frame, side)


def _identity(users: pd.DataFrame, initial_domain: str | None) -> pd.DataFrame:
    frame = users.loc[guest_mask(users), list(_RENAME)].rename(columns=_RENAME)
    frame = frame.reset_index(drop=True)
    state = frame["external_user_state"].str.replace(" ", "", regex=False)
    frame["external_user_state"] = state
    member = frame["user_type"].str.lower().eq("member").fillna(False)
    frame["is_external_member"] = member.astype(bool)
    upn = frame["user_principal_name"]
    frame["original_upn"] = upn
    frame["original_upn_ok"] = addr.is_ext_upn(upn, initial_domain)
    frame["provisioning_upn"] = addr.demangle_upn(upn)
    return frame


def _address_columns(frame: pd.DataFrame, config: AuditConfig) -> pd.DataFrame:
    frame["mail"] = frame["mail"].where(frame["mail"].str.strip() != "", None)
    frame["mail_domain"] = addr.domain_of(frame["mail"])
    frame["primary_smtp"] = addr.primary_smtp(frame["proxy_addresses"])
    frame["mail_domain_public"] = frame["mail_domain"].isin(_public(config)).astype(bool)
    return frame


def _public(config: AuditConfig) -> set[str]:
    return public_domains() | {d.lower() for d in config.public_domains}
