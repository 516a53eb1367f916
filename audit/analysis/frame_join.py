"""Joins of the guests frame with per-domain DNS facts, app scope, MailUsers and provisioning logs.

Each join leaves its columns NA when its source was not collected: unknown is not the same as bad.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit._text import first_rows, list_objects, map_text, text_isin, text_lists
from audit.config import AuditConfig
from audit.targets import Target
from audit.tokens import normalise_token, txt_prefix, verification_tokens


def add_dns(frame: pd.DataFrame, facts: pd.DataFrame | None) -> pd.DataFrame:
    """``mail_state`` and ``domain_claimed_elsewhere`` of each guest's mail domain."""
    if facts is None:
        frame["mail_state"] = pd.Series(pd.NA, index=frame.index, dtype="str")
        frame["domain_claimed_elsewhere"] = pd.Series(pd.NA, index=frame.index, dtype="boolean")
        return frame
    facts = facts.drop_duplicates("domain").set_index("domain")
    frame["mail_state"] = map_text(frame["mail_domain"], facts["mail_state"]).astype("str")
    claimed = map_text(frame["mail_domain"], facts["claimed_elsewhere"])
    frame["domain_claimed_elsewhere"] = claimed.astype("boolean")
    return frame


def domain_facts(dns: pd.DataFrame, config: AuditConfig, target: Target) -> pd.DataFrame:
    """Per domain: mail state, and whether the vendor TXT carries our token or someone else's.

    One row per domain: a DNS table holding a domain twice (an edited snapshot) counts its first
    row, as every lookup by domain needs a unique key. Without a known TXT prefix (the target
    documents none and the tokens do not show one) both are NA: unknown.
    """
    dns = dns.drop_duplicates("domain").reset_index(drop=True)
    prefix = txt_prefix(target.vendor_txt_prefix, config.verification_tokens)
    ours = {normalise_token(t, prefix or "") for t in config.verification_tokens}
    found = dns["txt_state"].eq("found")
    known = dns["txt_state"].isin(["found", "absent"]) & (prefix is not None)
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


@dataclass(frozen=True)
class ScopeSets:
    """Who is assigned: directly, as a direct member of an assigned security-enabled group, or
    only below one (nested). Computed once per analysis, applied to guests and other users."""

    direct: pd.Series
    group: pd.Series
    nested: pd.Series


def scope_sets(
    assignments: pd.DataFrame | None,
    members: pd.DataFrame | None,
    groups_table: pd.DataFrame | None = None,
) -> ScopeSets | None:
    """The assignment sets; None when assignments or group members were not collected.

    "Ensure that groups assigned to your application have the property SecurityEnabled set to
    True" (https://learn.microsoft.com/entra/identity/app-provisioning/how-provisioning-works):
    an assigned group ``groups_table`` lists with ``securityEnabled`` false grants no scope; when
    the table was not collected every assigned group is taken to grant it.
    """
    if assignments is None or members is None:
        return None
    kind = assignments["principalType"].str.lower()
    users = assignments.loc[kind.eq("user").fillna(False), "principalId"].dropna()
    groups = set(assignments.loc[kind.eq("group").fillna(False), "principalId"].dropna())
    is_group = members["odataType"].str.lower().str.endswith("group").fillna(False)
    in_groups = text_isin(members["groupId"], groups - _not_security_enabled(groups_table))
    group_users = members.loc[in_groups & ~is_group, "id"].dropna()
    nested = _nested_groups(members, groups, is_group)
    nested_users = members.loc[text_isin(members["groupId"], nested) & ~is_group, "id"].dropna()
    return ScopeSets(users, group_users, nested_users)


def add_scope(
    frame: pd.DataFrame,
    assignments: pd.DataFrame | None,
    members: pd.DataFrame | None,
    groups_table: pd.DataFrame | None = None,
    *,
    sets: ScopeSets | None = None,
) -> pd.DataFrame:
    """``scope``: direct, group (direct member of an assigned security-enabled group),
    nested_only, none; NA unknown (see :func:`scope_sets`; ``sets`` when already computed)."""
    if sets is None:
        sets = scope_sets(assignments, members, groups_table)
    if sets is None:
        frame["scope"] = pd.Series(pd.NA, index=frame.index, dtype="str")
        return frame
    ids = frame["object_id"]
    scope = pd.Series("none", index=frame.index, dtype="str")
    scope = scope.mask(text_isin(ids, sets.nested), "nested_only")
    scope = scope.mask(text_isin(ids, sets.group), "group")
    frame["scope"] = scope.mask(text_isin(ids, sets.direct), "direct")
    return frame


def _not_security_enabled(groups: pd.DataFrame | None) -> set[str]:
    """Ids of the groups whose ``securityEnabled`` is false (unknown counts as enabled)."""
    if groups is None or "securityEnabled" not in groups:
        return set()
    flag = groups["securityEnabled"].astype("boolean")
    return set(groups.loc[(flag == False).fillna(False).astype(bool), "id"].dropna())  # noqa: E712


def _nested_groups(members: pd.DataFrame, roots: Iterable[str], is_group: pd.Series) -> set[str]:
    """Groups reachable below the assigned groups (any depth); provisioning ignores their members."""
    edges = members.loc[is_group, ["groupId", "id"]]
    seen: set[str] = set()
    frontier = set(roots)
    while frontier:
        children = set(edges.loc[text_isin(edges["groupId"], frontier), "id"].dropna()) - seen
        seen |= children
        frontier = children
    return seen - set(roots)


_MU_TEXT = {"PrimarySmtpAddress": "mu_primary_smtp", "ExternalEmailAddress": "mu_external_email"}


def add_mailusers(frame: pd.DataFrame, mailusers: pd.DataFrame | None) -> pd.DataFrame:
    """``mu_*`` columns from the Get-MailUser export, joined on ExternalDirectoryObjectId."""
    if mailusers is None:
        frame["mu_present"] = pd.Series(pd.NA, index=frame.index, dtype="boolean")
        for col in ("mu_primary_smtp", "mu_external_email"):
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="str")
        frame["mu_email_addresses"] = text_lists([[] for _ in frame.index], frame.index)
        return frame
    mailusers, unknown = _readable(frame, mailusers)
    key = mailusers["ExternalDirectoryObjectId"].str.lower()
    rows = first_rows(frame["object_id"].str.lower(), key)
    present = pd.Series(rows >= 0, index=frame.index).astype("boolean")
    frame["mu_present"] = present.mask(unknown & ~present.astype(bool), pd.NA)
    for source, column in _MU_TEXT.items():
        frame[column] = _take(mailusers[source], rows, frame.index).astype("str")
    addresses = list_objects(_take(mailusers["EmailAddresses"], rows, frame.index))
    lists = [list(v) if isinstance(v, list) else [] for v in addresses.to_numpy()]
    frame["mu_email_addresses"] = text_lists(lists, frame.index)
    return frame


def _readable(frame: pd.DataFrame, mailusers: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The readable rows of the export, and per guest whether an unreadable row may be theirs
    (its object id is the guest's, or it named none): such a guest's mail user is unknown, not
    absent (``_unreadable``, see :mod:`audit.collectors.mailusers`)."""
    flags = mailusers.get("_unreadable")
    if flags is None or not flags.any():
        return mailusers, pd.Series(False, index=frame.index)
    bad = flags.fillna(False).astype(bool)
    ids = mailusers.loc[bad, "ExternalDirectoryObjectId"]
    if ids.isna().any():
        return mailusers[~bad], pd.Series(True, index=frame.index)
    unknown = text_isin(frame["object_id"].str.lower(), set(ids.str.lower()))
    return mailusers[~bad], pd.Series(unknown, index=frame.index).astype(bool)


def _take(column: pd.Series, rows: np.ndarray, index: pd.Index) -> pd.Series:
    """``column``'s values at row positions ``rows`` (-1 gives NA), on ``index``.

    A join through :func:`first_rows`: like ``keys.map(column)`` on the de-duplicated table, with
    the lookup done once for several columns.
    """
    return pd.Series(pd.api.extensions.take(column.array, rows, allow_fill=True), index=index)


def _this_app(logs: pd.DataFrame, service_principal: str | None, job: str | None) -> pd.Series:
    """Log entries that do not name another job or service principal than ours."""
    keep = pd.Series(True, index=logs.index)
    for column, ours in (("jobId", job), ("servicePrincipalId", service_principal)):
        if ours and column in logs:
            named = logs[column].astype("str")
            keep &= (named.isna() | named.str.lower().eq(ours.lower())).fillna(True).astype(bool)
    return keep


def add_provisioning(
    frame: pd.DataFrame,
    logs: pd.DataFrame | None,
    *,
    service_principal: str | None = None,
    job: str | None = None,
) -> pd.DataFrame:
    """The latest provisioning-log entry per guest (by ``sourceIdentity.id``) of this app's job.

    A log entry names its job (``jobId``, "The unique ID for the whole provisioning job") and the
    app's ``servicePrincipal``; entries of another job or app (an export of the whole tenant's logs)
    are left out. Entries that name neither are kept (the live collector asks for this app's only).
    """
    cols = {"status": "last_prov_status", "provisioningAction": "last_prov_action"}
    cols |= {"errorCode": "last_prov_error", "activityDateTime": "last_prov_time"}
    if logs is not None and not logs.empty:
        logs = logs.loc[_this_app(logs, service_principal, job)]
    if logs is None or logs.empty:  # pandas cannot map through an empty datetime Series
        for col in cols.values():
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="str")
        frame["last_prov_time"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
        return frame
    latest = logs.sort_values("activityDateTime").drop_duplicates("sourceId", keep="last")
    rows = first_rows(frame["object_id"], latest["sourceId"])
    for src, col in cols.items():
        frame[col] = _take(latest[src], rows, frame.index)
    frame["last_prov_time"] = frame["last_prov_time"].astype("datetime64[us, UTC]")
    for col in ("last_prov_status", "last_prov_action", "last_prov_error"):
        frame[col] = frame[col].astype("str")
    return frame
