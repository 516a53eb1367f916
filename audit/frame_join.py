"""Joins of the guests frame with per-domain DNS facts, app scope, MailUsers and provisioning logs.

Each join leaves its columns NA when its source was not collected: unknown is not the same as bad.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from audit.config import AuditConfig
from audit.targets import Target
from audit.tokens import normalise_token, verification_tokens


def add_dns(frame: pd.DataFrame, facts: pd.DataFrame | None) -> pd.DataFrame:
    """``mail_state`` and ``domain_claimed_elsewhere`` of each guest's mail domain."""
    if facts is None:
        frame["mail_state"] = pd.Series(pd.NA, index=frame.index, dtype="str")
        frame["domain_claimed_elsewhere"] = pd.Series(pd.NA, index=frame.index, dtype="boolean")
        return frame
    facts = facts.drop_duplicates("domain").set_index("domain")
    frame["mail_state"] = frame["mail_domain"].map(facts["mail_state"]).astype("str")
    claimed = frame["mail_domain"].map(facts["claimed_elsewhere"])
    frame["domain_claimed_elsewhere"] = claimed.astype("boolean")
    return frame


def domain_facts(dns: pd.DataFrame, config: AuditConfig, target: Target) -> pd.DataFrame:
    """Per domain: mail state, and whether the vendor TXT carries our token or someone else's."""
    prefix = target.vendor_txt_prefix
    ours = {normalise_token(t, prefix or "") for t in config.verification_tokens}
    found = dns["txt_state"].eq("found")
    known = dns["txt_state"].isin(["found", "absent"])
    tokens = dns["txt"].map(lambda recs: verification_tokens(recs, prefix))
    tokens = tokens.where(found, None).map(lambda t: t if isinstance(t, list) else [])
    claimed = tokens.map(lambda ts: any(t not in ours for t in ts))
    verified_txt = tokens.map(lambda ts: any(t in ours for t in ts))
    return pd.DataFrame(
        {
            "domain": dns["domain"],
            "mail_state": dns["mail_state"],
            "txt_state": dns["txt_state"],
            "claimed_elsewhere": claimed.where(known, pd.NA).astype("boolean"),
            "verified_by_txt": verified_txt.where(known, pd.NA).astype("boolean"),
        }
    )


def add_scope(
    frame: pd.DataFrame, assignments: pd.DataFrame | None, members: pd.DataFrame | None
) -> pd.DataFrame:
    """``scope``: direct, group (direct member of an assigned group), nested_only, none; NA unknown."""
    if assignments is None or members is None:
        frame["scope"] = pd.Series(pd.NA, index=frame.index, dtype="str")
        return frame
    kind = assignments["principalType"].str.lower()
    users = set(assignments.loc[kind.eq("user").fillna(False), "principalId"].dropna())
    groups = set(assignments.loc[kind.eq("group").fillna(False), "principalId"].dropna())
    is_group = members["odataType"].str.lower().str.endswith("group").fillna(False)
    in_groups = members["groupId"].isin(groups)
    group_users = set(members.loc[in_groups & ~is_group, "id"].dropna())
    nested = _nested_groups(members, groups, is_group)
    nested_users = set(members.loc[members["groupId"].isin(nested) & ~is_group, "id"].dropna())
    ids = frame["object_id"]
    scope = pd.Series("none", index=frame.index, dtype="str")
    scope = scope.mask(ids.isin(nested_users), "nested_only")
    scope = scope.mask(ids.isin(group_users), "group")
    frame["scope"] = scope.mask(ids.isin(users), "direct")
    return frame


def _nested_groups(members: pd.DataFrame, roots: Iterable[str], is_group: pd.Series) -> set[str]:
    """Groups reachable below the assigned groups (any depth); provisioning ignores their members."""
    edges = members.loc[is_group, ["groupId", "id"]]
    seen: set[str] = set()
    frontier = set(roots)
    while frontier:
        children = set(edges.loc[edges["groupId"].isin(frontier), "id"].dropna()) - seen
        seen |= children
        frontier = children
    return seen - set(roots)


def add_mailusers(frame: pd.DataFrame, mailusers: pd.DataFrame | None) -> pd.DataFrame:
    """``mu_*`` columns from the Get-MailUser export, joined on ExternalDirectoryObjectId."""
    if mailusers is None:
        frame["mu_present"] = pd.Series(pd.NA, index=frame.index, dtype="boolean")
        for col in ("mu_primary_smtp", "mu_external_email"):
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="str")
        frame["mu_email_addresses"] = pd.Series([[] for _ in frame.index], dtype=object)
        return frame
    mu = mailusers.assign(_key=mailusers["ExternalDirectoryObjectId"].str.lower())
    mu = mu.drop_duplicates("_key").set_index("_key")
    key = frame["object_id"].str.lower()
    frame["mu_present"] = key.isin(mu.index).astype("boolean")
    frame["mu_primary_smtp"] = key.map(mu["PrimarySmtpAddress"]).astype("str")
    frame["mu_external_email"] = key.map(mu["ExternalEmailAddress"]).astype("str")
    addresses = key.map(mu["EmailAddresses"])
    frame["mu_email_addresses"] = addresses.map(lambda v: list(v) if isinstance(v, list) else [])
    return frame


def add_provisioning(frame: pd.DataFrame, logs: pd.DataFrame | None) -> pd.DataFrame:
    """The latest provisioning-log entry per guest (by ``sourceIdentity.id``)."""
    cols = {"status": "last_prov_status", "provisioningAction": "last_prov_action"}
    cols |= {"errorCode": "last_prov_error", "activityDateTime": "last_prov_time"}
    if logs is None or logs.empty:  # pandas cannot map through an empty datetime Series
        for col in cols.values():
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="str")
        frame["last_prov_time"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
        return frame
    latest = logs.sort_values("activityDateTime").drop_duplicates("sourceId", keep="last")
    latest = latest.set_index("sourceId")
    for src, col in cols.items():
        frame[col] = frame["object_id"].map(latest[src])
    frame["last_prov_time"] = frame["last_prov_time"].astype("datetime64[us, UTC]")
    for col in ("last_prov_status", "last_prov_action", "last_prov_error"):
        frame[col] = frame[col].astype("str")
    return frame
