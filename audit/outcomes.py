"""Predicted outcomes per guest, under the current mapping and under the target's recommended one.

``ready`` (a managed, working account), ``unmanaged`` (created, but on an unverified domain),
``blocked`` (will fail: no or invalid e-mail, duplicate key), ``out_of_scope`` or ``unknown``; each with
the rule ids that decided it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit import addresses as addr
from audit.frame import public_domains
from audit.models import Outcome
from audit.rules._common import known
from audit.rules.duplicate_target_key import duplicated, in_scope


def predict_outcomes(
    frame: pd.DataFrame, flagged: pd.DataFrame, *, prefix: str = "target"
) -> pd.DataFrame:
    """Outcome and reasons per guest; ``prefix`` ``whatif`` reads the recommended-mapping columns."""
    email, key, verified = _columns(frame, prefix)
    scope = frame["scope"]
    out_scope = scope.isin(["none", "nested_only"]).fillna(False).astype(bool)
    reasons = _blocking(frame, flagged, email, key, in_scope(scope))
    blocked = reasons.map(bool)
    unverified = (verified == False).fillna(False).astype(bool)  # noqa: E712 (nullable boolean)
    unknown = verified.isna()
    outcome = np.select(
        [out_scope, blocked, unverified, unknown],
        [Outcome.OUT_OF_SCOPE.value, Outcome.BLOCKED.value, Outcome.UNMANAGED.value, "unknown"],
        default=Outcome.READY.value,
    )
    public = addr.domain_of(email).isin(public_domains()).astype(bool)
    decided = (out_scope, blocked, unverified | unknown)
    why = _reasons(scope, reasons, decided, public)
    return pd.DataFrame({"outcome": outcome, "reasons": why}, index=frame.index)


def _columns(frame: pd.DataFrame, prefix: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    if prefix == "target":
        verified = frame["target_domain_verified"]
        return frame["target_email"], frame["target_key"], verified.astype("boolean")
    verified = frame["whatif_domain_verified"].astype("boolean")
    return frame["whatif_target_email"], frame["whatif_target_key"], verified


def _blocking(
    frame: pd.DataFrame, flagged: pd.DataFrame, email: pd.Series, key: pd.Series, scope: pd.Series
) -> pd.Series:
    """Rule ids that make the create fail, per guest (empty list when none)."""
    missing = ~known(email)
    invalid = known(email) & ~addr.is_valid(email)
    long = known(email) & addr.too_long(email)
    dup = duplicated(key, scope) | duplicated(email, scope)
    missing_reason = _missing_reason(flagged)
    parts = [
        (missing, missing_reason),
        (invalid, pd.Series("address-invalid", index=frame.index)),
        (long, pd.Series("address-too-long", index=frame.index)),
        (dup, pd.Series("duplicate-target-key", index=frame.index)),
    ]
    lists: list[list[str]] = [[] for _ in range(len(frame))]
    for mask, label in parts:
        for i in np.flatnonzero(mask.to_numpy()):
            lists[int(i)].append(str(label.iat[int(i)]))
    return pd.Series(lists, index=frame.index, dtype=object)


def _missing_reason(flagged: pd.DataFrame) -> pd.Series:
    """Which rule explains an empty target e-mail: mail-missing, else original-upn-missing."""
    mail = _flag(flagged, "mail-missing")
    upn = _flag(flagged, "original-upn-missing")
    reason = pd.Series("address-invalid", index=flagged.index, dtype=object)
    return reason.mask(upn, "original-upn-missing").mask(mail, "mail-missing")


def _reasons(
    scope: pd.Series,
    blocking: pd.Series,
    decided: tuple[pd.Series, pd.Series, pd.Series],
    public: pd.Series,
) -> pd.Series:
    """The rule ids behind each outcome: scope rules, blocking rules, or the domain rules."""
    out_scope, blocked, domain_decided = (m.to_numpy() for m in decided)
    scope_ids = scope.map({"none": "not-in-scope", "nested_only": "nested-group-only"}).to_numpy()
    pub = public.to_numpy()
    lists: list[list[str]] = []
    for i, block in enumerate(blocking.to_numpy()):
        if out_scope[i]:
            lists.append([str(scope_ids[i])])
        elif blocked[i]:
            lists.append(list(block))
        elif domain_decided[i]:
            lists.append(
                ["domain-unverified", "public-mail-domain"] if pub[i] else ["domain-unverified"]
            )
        else:
            lists.append([])
    return pd.Series(lists, index=scope.index, dtype=object)


def _flag(flagged: pd.DataFrame, rule_id: str) -> pd.Series:
    if rule_id not in flagged:
        return pd.Series(False, index=flagged.index)
    return flagged[rule_id].fillna(False).astype(bool)
