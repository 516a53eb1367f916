"""Predicted outcomes per guest, under the current mapping and under the target's recommended one.

``ready`` (a managed, working account), ``unmanaged`` (created, but on an unverified domain),
``blocked`` (will fail: no or invalid e-mail, duplicate key), ``out_of_scope`` or ``unknown``; each with
the rule ids that decided it. Nothing here knows a rule by name: every rule declares the outcome it
decides (``Rule.outcome``) and for which guests (``Rule.outcome_when``, written over the ``target_*``
columns). The what-if runs the same declarations over the ``whatif_*`` columns (of the guests and of
the context's other users).

Precedence: ``out_of_scope`` over ``blocked`` over ``unmanaged``; a guest no rule decides is
``unknown`` when a deciding rule could not evaluate it (its data is unknown), else ``ready``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from audit.analysis.engine import Context, Rule
from audit.models import Outcome
from audit.rules import all_rules

__all__ = ["PRECEDENCE", "WHATIF_COLUMNS", "deciding_rules", "predict_outcomes", "whatif_view"]

PRECEDENCE = (Outcome.OUT_OF_SCOPE, Outcome.BLOCKED, Outcome.UNMANAGED)
"""Outcomes a rule can decide, strongest first."""

WHATIF_COLUMNS = {
    "target_key": "whatif_target_key",
    "target_key_normalised": "whatif_target_key_normalised",
    "target_key_known": "whatif_target_key_known",
    "target_email": "whatif_target_email",
    "target_email_known": "whatif_target_email_known",
    "target_email_domain": "whatif_target_email_domain",
    "target_email_public": "whatif_target_email_public",
    "target_domain_verified": "whatif_domain_verified",
    "target_account": "whatif_target_account",
    "match_value": "whatif_match_value",
}
"""Current-mapping columns and their counterparts under the recommended mapping."""


def whatif_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the recommended mapping would see it: ``whatif_*`` values as ``target_*``."""
    present = {new: old for old, new in WHATIF_COLUMNS.items() if new in frame and old in frame}
    swapped = frame.drop(columns=list(present.values()))
    return swapped.rename(columns=present)


def deciding_rules(rules: Sequence[Rule]) -> list[Rule]:
    """The rules that decide an outcome, in catalogue order."""
    return [rule for rule in rules if rule.outcome is not None]


def predict_outcomes(
    frame: pd.DataFrame,
    rules: Sequence[Rule] | None = None,
    *,
    prefix: str = "target",
    context: Context | None = None,
    masks: Mapping[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """Outcome and reasons per guest; ``prefix`` ``whatif`` reads the recommended-mapping columns.

    ``rules`` are the rules that ran (default: the catalogue's rules that apply to the context's
    target); only those declaring an outcome take part. ``masks``: the results the rules' own
    checks already gave on ``frame`` (rule id → nullable boolean, as the analysis ran them), used
    instead of running a check again where the check is also the outcome test (``target`` only).
    """
    context = context or Context(now=datetime.now(UTC))
    if rules is None:
        rules = [rule for rule in all_rules() if rule.applies_to(context.target)]
    view = frame
    if prefix == "whatif":
        view = whatif_view(frame)
        if context.other_users is not None:
            context = replace(context, other_users=whatif_view(context.other_users))
    deciding = deciding_rules(rules)
    known = masks if masks is not None and prefix == "target" else {}
    decided = np.zeros((len(deciding), len(frame)), dtype=np.int8)  # 1 decided, -1 unknown, 0 no
    for row, rule in enumerate(deciding):
        ran = known.get(rule.id) if rule.outcome_when is None else None
        decided[row] = _decision(rule, view, context) if ran is None else _coded(ran)
    return _outcomes(deciding, decided, frame.index)


def _decision(rule: Rule, view: pd.DataFrame, context: Context) -> np.ndarray:
    """1 where the rule decides the guest, -1 where it cannot tell, 0 elsewhere."""
    check = rule.outcome_when or rule.check
    columns = list(rule.decides_on())
    result = check(view.loc[:, columns], context)
    if not isinstance(result, pd.Series) or len(result) != len(view):
        raise TypeError(f"rule {rule.id}: its outcome check must return an aligned Series")
    return _coded(result.astype("boolean"))


def _coded(values: pd.Series) -> np.ndarray:
    """A nullable boolean result as 1 (true), -1 (NA: cannot tell) or 0."""
    return np.where(values.isna().to_numpy(), -1, values.fillna(False).to_numpy(dtype=bool))


def _outcomes(deciding: list[Rule], masks: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Pick each guest's outcome by precedence and code its reasons as bits of ``deciding``."""
    outcome = np.full(len(index), Outcome.READY.value, dtype=object)
    codes = np.zeros(len(index), dtype=np.int64)
    settled = np.zeros(len(index), dtype=bool)
    for kind in PRECEDENCE:
        rows = [i for i, rule in enumerate(deciding) if rule.outcome == kind]
        hit = _bits(masks[rows] == 1, rows)
        take = (hit > 0) & ~settled
        outcome[take], codes[take], settled = kind.value, hit[take], settled | take
    unsure = _bits(masks == -1, list(range(len(deciding))))
    take = (unsure > 0) & ~settled
    outcome[take], codes[take] = Outcome.UNKNOWN.value, unsure[take]
    return pd.DataFrame(
        {"outcome": outcome, "reasons": _reasons(deciding, codes, index)}, index=index
    )


def _bits(hits: np.ndarray, rows: list[int]) -> np.ndarray:
    """Per guest, the bits (by rule position) of the rules in ``rows`` that ``hits`` marks."""
    weights = np.array([1 << i for i in rows], dtype=np.int64).reshape(-1, 1)
    return (
        (hits.astype(np.int64) * weights).sum(axis=0) if rows else np.zeros(hits.shape[1], np.int64)
    )


def _reasons(deciding: list[Rule], codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Every guest's own list of the rule ids its code stands for (built once per distinct code)."""
    templates = {
        int(code): [rule.id for i, rule in enumerate(deciding) if int(code) >> i & 1]
        for code in np.unique(codes)
    }
    return pd.Series([templates[c].copy() for c in codes.tolist()], index=index, dtype=object)
