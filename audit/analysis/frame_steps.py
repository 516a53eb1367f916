"""The steps provision on demand shows for one user, written for every guest.

"There are typically five steps to provision a user": test connection, import user, determine if
the user is in scope, match the user between source and target, perform the action
(https://learn.microsoft.com/entra/identity/app-provisioning/provision-on-demand). The audit
writes four of them per guest (scope, match, action, the attributes the action sends) and the
analyser adds the fifth, the predicted result (``step_result``). Texts are built once per
distinct combination of their parts; only values (addresses, keys) are joined per row, in Arrow.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.mapping.partial import Prediction

if TYPE_CHECKING:
    from audit.analysis.frame_engine import MappingPlan

__all__ = ["action_steps", "attribute_steps", "match_steps", "per_combination", "scope_steps"]

_ASSIGNMENT = {
    "direct": "assigned directly",
    "group": "assigned as a direct member of an assigned group",
    "nested_only": "only in a nested group (the service reads direct members of assigned groups only)",
    "none": "not assigned (directly or through an assigned security-enabled group)",
}
_VERDICT = {True: "in scope", False: "out of scope"}


def per_combination(
    frame: pd.DataFrame, columns: list[str], text: Callable[[tuple[Any, ...]], str]
) -> pd.Series:
    """``text`` of each distinct combination of ``columns`` (NA included), spread to every row.

    Each column is factorised on its own and the codes combined as numbers: no per-row tuples."""
    combined = np.zeros(len(frame), dtype=np.int64)
    uniques: list[list[Any]] = []
    for name in columns:
        codes, values = pd.factorize(frame[name], use_na_sentinel=True)
        size = len(values) + 1  # one more for NA (code -1)
        combined = combined * size + (np.asarray(codes, dtype=np.int64) + 1)
        uniques.append([None, *(None if pd.isna(v) else v for v in values)])
    keys, inverse = np.unique(combined, return_inverse=True)
    texts = [text(_decode(int(key), uniques)) for key in keys]
    table = np.array(texts or [""], dtype=object)
    return pd.Series(table[np.asarray(inverse).reshape(-1)], index=frame.index, dtype="str")


def _decode(key: int, uniques: list[list[Any]]) -> tuple[Any, ...]:
    """The values of one combined code (the inverse of :func:`per_combination`'s packing)."""
    parts: list[Any] = []
    for values in reversed(uniques):
        key, code = divmod(key, len(values))
        parts.append(values[code])
    return tuple(reversed(parts))


def scope_steps(guests: pd.DataFrame, explanation: pd.Series, scope_kind: str) -> pd.Series:
    """Step 3, "Determine if user is in scope": assignment (or Sync all), scoping filter, account."""
    work = pd.DataFrame(
        {
            "in_scope": guests["in_scope"].astype("boolean"),
            "scope": guests["scope"].astype("str"),
            "enabled": guests["account_enabled"].astype("boolean"),
            "filter": pd.Series(explanation.array, index=guests.index),
        },
        index=guests.index,
    )

    def text(key: tuple[Hashable, ...]) -> str:
        in_scope, scope, enabled, filtered = key
        parts = [
            "Sync all users and groups"
            if scope_kind == "all"
            else _ASSIGNMENT.get(str(scope), "assignment not collected (taken as assigned)")
        ]
        if filtered and filtered != "no scoping filter":
            parts.append(str(filtered))
        if enabled is False:
            parts.append("account disabled: a disabled user is not provisioned")
        return f"{_VERDICT.get(in_scope, 'unknown')}: " + "; ".join(parts)  # type: ignore[call-overload]

    return per_combination(work, list(work.columns), text).set_axis(guests.index)


def match_steps(
    guests: pd.DataFrame, plan: MappingPlan, predictions: dict[str, Prediction]
) -> pd.Series:
    """Step 4, "Match user between source and target": each matching attribute in precedence order
    ("As soon as a match is found, no further matching attributes are evaluated")."""
    size = len(guests)
    if not plan.matching:
        return pd.Series("no matching attribute in the mapping", index=guests.index, dtype="str")
    by_name = {" ".join(k.lower().split()): v for k, v in predictions.items()}
    result = pd.Series(pd.NA, index=guests.index, dtype="str")
    prefix = pd.Series("", index=guests.index, dtype="str")
    for attribute in plan.matching:
        found = by_name.get(" ".join(attribute.lower().split()))
        if found is None:
            continue
        open_rows = result.isna()
        values = _texts(found.values.iloc[:size]).set_axis(guests.index)
        unknown = pd.Series(~found.known[:size], index=guests.index)
        why = found.reason_texts().iloc[:size].set_axis(guests.index)
        result = result.mask(open_rows & unknown, prefix + f"{attribute}: unknown (" + why + ")")
        present = open_rows & ~unknown & values.notna()
        result = result.mask(present, prefix + f"{attribute} = " + values)
        prefix = prefix.mask(result.isna(), prefix + f"{attribute} is empty; ")
    failed = "no matching attribute has a value: importing the user fails"
    return result.fillna(prefix + failed).astype("str")


def action_steps(guests: pd.DataFrame, plan: MappingPlan) -> pd.Series:
    """Step 5, "Perform action": create, update, disable or skip (a first full cycle)."""
    status = guests["last_prov_status"].astype("str").str.lower()
    action = guests["last_prov_action"].astype("str").str.lower()
    work = pd.DataFrame(
        {
            "in_scope": guests["in_scope"].astype("boolean"),
            "provisioned": (status.eq("success") & action.isin(["create", "update"])).fillna(False),
        },
        index=guests.index,
    )
    matching = plan.matching[0] if plan.matching else "the matching attribute"

    def text(key: tuple[Hashable, ...]) -> str:
        in_scope, provisioned = key
        if plan.state == "disabled":
            return (
                "skip: the User object mapping is disabled (it is skipped during synchronization)"
            )
        if in_scope is None:
            return "unknown: whether the user is in scope is unknown"
        if in_scope is False:
            return (
                "disable: out of scope, and provisioned before"
                if provisioned
                else "skip: out of scope"
            )
        if provisioned:
            return "update: provisioned before (provisioning logs)"
        if plan.state == "no-add":
            return "skip: the User object mapping has no Add flow type, so nobody is created"
        return f"create, unless the target already holds a user matched on {matching}"

    return per_combination(work, list(work.columns), text).set_axis(guests.index)


def attribute_steps(
    plan: MappingPlan, predictions: dict[str, Prediction], size: int, index: pd.Index
) -> pd.Series:
    """The attributes the action sends: every mapped target attribute with its predicted value
    ("The Microsoft Entra provisioning service doesn't support provisioning null values").
    Joined in Arrow, one piece per mapping."""
    pieces = []
    for mapping in plan.mappings:
        found = predictions[mapping.target]
        values = pa.array(_texts(found.values.iloc[:size]).array, type=pa.large_string())
        why = pa.array(found.reason_texts().iloc[:size].array, type=pa.large_string())
        sent = pc.binary_join_element_wise(_text(f"{mapping.target}="), values, _text(""))
        piece = pc.fill_null(sent, _text(f"{mapping.target}: not sent (null)"))
        unknown = pc.binary_join_element_wise(
            _text(f"{mapping.target}=? ("), why, _text(")"), _text("")
        )
        pieces.append(pc.if_else(pc.is_valid(why), unknown, piece))
    if not pieces:
        return pd.Series("no attribute mapping", index=index, dtype="str")
    joined = pc.binary_join_element_wise(*pieces, _text("; ")) if len(pieces) > 1 else pieces[0]
    return pd.Series(pd.arrays.ArrowStringArray(joined), index=index, dtype="str")


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _texts(values: pd.Series) -> pd.Series:
    """Values as text; a multi-valued one as its values joined by ", "."""
    if values.dtype == object:
        values = values.map(
            lambda v: ", ".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else v
        )
    return values.astype("str")
