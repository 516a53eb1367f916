"""Predicted outcomes per guest, under the current mapping and under the target's recommended one.

``ready`` (a managed, working account), ``unmanaged`` (created, but on an unverified domain),
``blocked`` (will fail: no or invalid e-mail, duplicate key), ``out_of_scope`` or ``unknown``; each with
the rule ids that decided it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit import addresses as addr
from audit.guests import public_domains
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
    blocking = _blocking(flagged, email, key, in_scope(scope))
    blocked = pd.Series(blocking > 0, index=frame.index)
    unverified = (verified == False).fillna(False).astype(bool)  # noqa: E712 (nullable boolean)
    unknown = verified.isna()
    outcome = np.select(
        [out_scope, blocked, unverified, unknown],
        [Outcome.OUT_OF_SCOPE.value, Outcome.BLOCKED.value, Outcome.UNMANAGED.value, "unknown"],
        default=Outcome.READY.value,
    )
    public = addr.domain_of(email).isin(public_domains()).astype(bool)
    why = _reasons(scope, blocking, out_scope, unverified | unknown, public)
    return pd.DataFrame({"outcome": outcome, "reasons": why}, index=frame.index)


def _columns(frame: pd.DataFrame, prefix: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    if prefix == "target":
        verified = frame["target_domain_verified"]
        return frame["target_email"], frame["target_key"], verified.astype("boolean")
    verified = frame["whatif_domain_verified"].astype("boolean")
    return frame["whatif_target_email"], frame["whatif_target_key"], verified


# Blocking reasons per guest are coded as bits (in list order) plus which rule explains a missing
# e-mail; every distinct code becomes one list of rule ids, so no per-guest rule logic runs.
_MISSING, _INVALID, _LONG, _DUP = 1, 2, 4, 8
_MISSING_IDS = ("address-invalid", "original-upn-missing", "mail-missing")
_BLOCKING_IDS: tuple[tuple[int, str], ...] = ((_INVALID, "address-invalid"),)
_BLOCKING_IDS += ((_LONG, "address-too-long"), (_DUP, "duplicate-target-key"))


def _blocking(
    flagged: pd.DataFrame, email: pd.Series, key: pd.Series, scope: pd.Series
) -> np.ndarray:
    """Per guest, a code of the rules that make the create fail (0 when none)."""
    present = known(email).to_numpy()
    invalid = present & ~addr.is_valid(email).to_numpy()
    long = present & addr.too_long(email).to_numpy()
    dup = (duplicated(key, scope) | duplicated(email, scope)).to_numpy()
    bits = np.where(present, 0, _MISSING) | invalid * _INVALID | long * _LONG | dup * _DUP
    missing_id = np.where(_flag(flagged, "original-upn-missing").to_numpy(), 1, 0)
    missing_id = np.where(_flag(flagged, "mail-missing").to_numpy(), 2, missing_id)
    return np.where(bits > 0, bits + 16 * np.where(present, 0, missing_id), 0).astype(np.int64)


def _blocking_ids(code: int) -> list[str]:
    """The rule ids a :func:`_blocking` code stands for, in their fixed order."""
    ids = [_MISSING_IDS[code // 16]] if code & _MISSING else []
    return ids + [rule_id for bit, rule_id in _BLOCKING_IDS if code & bit]


def _reasons(
    scope: pd.Series,
    blocking: np.ndarray,
    out_scope: pd.Series,
    domain_decided: pd.Series,
    public: pd.Series,
) -> pd.Series:
    """The rule ids behind each outcome: scope rules, blocking rules, or the domain rules."""
    nested = scope.eq("nested_only").fillna(False).to_numpy(dtype=bool)
    domain = np.where(public.to_numpy(), -2, -1)
    codes = np.where(domain_decided.to_numpy(dtype=bool), domain, 0)
    codes = np.where(blocking > 0, blocking, codes)
    codes = np.where(out_scope.to_numpy(), np.where(nested, -4, -3), codes)
    templates = {int(code): _ids_of(int(code)) for code in np.unique(codes)}
    lists = [templates[code].copy() for code in codes.tolist()]
    return pd.Series(lists, index=scope.index, dtype=object)


def _ids_of(code: int) -> list[str]:
    """The reasons a :func:`_reasons` code stands for."""
    return list(_FIXED_REASONS[code]) if code in _FIXED_REASONS else _blocking_ids(code)


# Reasons that are not blocking rules, by the code (0 or negative) :func:`_reasons` gives them.
_FIXED_REASONS: dict[int, tuple[str, ...]] = {
    -4: ("nested-group-only",),
    -3: ("not-in-scope",),
    -2: ("domain-unverified", "public-mail-domain"),
    -1: ("domain-unverified",),
    0: (),
}


def _flag(flagged: pd.DataFrame, rule_id: str) -> pd.Series:
    if rule_id not in flagged:
        return pd.Series(False, index=flagged.index)
    return flagged[rule_id].fillna(False).astype(bool)
