"""Scoping filters of an object mapping: read them from the job schema, evaluate them per row.

Source: "Scoping users or groups to be provisioned with scoping filters"
(https://learn.microsoft.com/entra/identity/app-provisioning/define-conditional-rules-for-provisioning-user-accounts)
and Graph's ``filter`` / ``filterGroup`` / ``filterClause`` resources
(https://learn.microsoft.com/graph/api/resources/synchronization-filter?view=graph-rest-1.0).

- "If multiple clauses are created in a single scoping filter, they're evaluated together using
  AND logic"; "If multiple scoping filters are present, they're evaluated together by using OR
  logic". A filter without groups scopes nobody out.
- ``groups`` is "the filter which should be used in most cases"; ``inputFilterGroups`` "filter out
  objects at the early stage of reading them from the directory" (such objects "will NOT get
  deprovisioned") and ``categoryFilterGroups`` decide whether an object "should be processed as
  part of this object mapping". An object failing any non-empty set is not provisioned, so the
  sets are combined with AND.
- "Scoping filters will return false if the value is null / empty", except ``IS NULL`` ("is
  empty"), whose own definition says the opposite. EQUALS, NOT EQUALS, Includes and REGEX MATCH
  are documented as case-sensitive. Greater_Than needs integers on both sides.
- Not documented, so evaluated both ways and *unknown* where the ways disagree: the case
  sensitivity of ENDS_WITH, ``&`` and ``!&``; whether REGEX MATCH must match the whole value;
  whether several ``targetOperand.values`` mean any or all; which form of a guest's
  ``userPrincipalName`` (``alias@theirdomain`` or the stored ``#EXT#`` UPN) a filter sees.
- Unknown as well: an operator the tool does not know, an attribute that was not collected,
  multi-valued attributes ("Filtering is not supported for multi-valued attributes") and the
  attributes the known issues list as unsupported (appRoleAssignments, userType, manager, dates).

Every clause is evaluated once per distinct attribute value, and every row's explanation is
written once per distinct combination of clause results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import ExpressionError, InputError
from audit.mapping import _arrow as ar
from audit.mapping.columns import DEFAULT_ATTRIBUTE_COLUMNS, FrameColumns
from audit.mapping.scope_ops import FALSE, OPERATORS, TRUE, UNKNOWN, Refused, norm, per_distinct

__all__ = ["Clause", "FilterGroup", "ScopeFilter", "ScopeVerdict", "evaluate_scope", "scope_filter"]


#: Attributes the known issues list as unsupported in scoping filters (lower case).
UNSUPPORTED = {
    "approleassignments": "appRoleAssignments is not supported in scoping filters (known issues)",
    "usertype": "userType is not supported in scoping filters (known issues)",
    "manager": "manager is not supported in scoping filters (known issues)",
    "ismemberof": "IsMemberOf is not supported currently (scoping filters)",
}
_DATE_WORDS = ("date", "hire", "accountexpires")


@dataclass(frozen=True)
class Clause:
    """One condition: ``sourceOperandName operatorName targetOperand.values``."""

    attribute: str
    operator: str
    values: tuple[str, ...]

    @property
    def text(self) -> str:
        """The clause as the portal shows it: ``department EQUALS Sales``."""
        shown = " | ".join(self.values)
        return f"{self.attribute} {self.operator}" + (f" {shown}" if shown else "")


@dataclass(frozen=True)
class FilterGroup:
    """A scoping filter (portal) / filter group (Graph): its clauses are ANDed."""

    name: str
    clauses: tuple[Clause, ...]


@dataclass(frozen=True)
class ScopeFilter:
    """The ``scope`` of an object mapping: three sets of groups (each ORed), combined with AND."""

    groups: tuple[FilterGroup, ...] = ()
    input_groups: tuple[FilterGroup, ...] = ()
    category_groups: tuple[FilterGroup, ...] = ()

    @property
    def empty(self) -> bool:
        """True when no set holds a group: nobody is scoped out."""
        return not (self.groups or self.input_groups or self.category_groups)

    def sets(self) -> list[tuple[str, tuple[FilterGroup, ...]]]:
        """The non-empty sets with their Graph names."""
        named = [
            ("groups", self.groups),
            ("inputFilterGroups", self.input_groups),
            ("categoryFilterGroups", self.category_groups),
        ]
        return [(name, groups) for name, groups in named if groups]

    def attributes(self) -> set[str]:
        """Every source attribute a clause names (the collector reads them)."""
        return {c.attribute for _, groups in self.sets() for g in groups for c in g.clauses}


def scope_filter(raw: Any, *, source: str = "synchronizationSchema.json") -> ScopeFilter:
    """An object mapping's ``scope`` (null → no filter); InputError when it is malformed."""
    if raw is None:
        return ScopeFilter()
    if not isinstance(raw, Mapping):
        raise InputError(source, "an objectMapping's scope must be an object or null")
    return ScopeFilter(
        _groups(raw.get("groups"), source),
        _groups(raw.get("inputFilterGroups"), source),
        _groups(raw.get("categoryFilterGroups"), source),
    )


def _groups(raw: Any, source: str) -> tuple[FilterGroup, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(g, Mapping) for g in raw):
        raise InputError(source, "scope filter groups must be a list of objects")
    return tuple(
        FilterGroup(str(g.get("name") or f"filter {i}"), _clauses(g.get("clauses"), source))
        for i, g in enumerate(raw, start=1)
    )


def _clauses(raw: Any, source: str) -> tuple[Clause, ...]:
    if not isinstance(raw, list) or not all(isinstance(c, Mapping) for c in raw):
        raise InputError(source, "a filter group's clauses must be a list of objects")
    out = []
    for clause in raw:
        operand = clause.get("targetOperand")
        values = operand.get("values") if isinstance(operand, Mapping) else None
        out.append(
            Clause(
                str(clause.get("sourceOperandName") or ""),
                str(clause.get("operatorName") or ""),
                tuple(str(v) for v in values) if isinstance(values, list) else (),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class ScopeVerdict:
    """Per row: in scope (True), out (False) or unknown (NA), and the reason in words
    (categorical: the texts repeat)."""

    in_scope: pd.Series
    explanation: pd.Series
    unknown_reason: pd.Series


def evaluate_scope(
    scope: ScopeFilter,
    frame: pd.DataFrame,
    *,
    attribute_columns: Mapping[str, str] = DEFAULT_ATTRIBUTE_COLUMNS,
    alternatives: Mapping[str, str] | None = None,
) -> ScopeVerdict:
    """Evaluate ``scope`` for every row of ``frame``.

    ``alternatives`` maps an attribute to a second column holding another documented-or-not form
    of it (``userPrincipalName`` → the stored ``#EXT#`` UPN); a clause is decided only where both
    forms agree.
    """
    index = frame.index
    if scope.empty:
        yes = pd.Series(True, index=index, dtype="boolean")
        return ScopeVerdict(
            yes, pd.Series("no scoping filter", index=index, dtype="str"), _na(index)
        )
    columns = FrameColumns(frame, attribute_columns, "scoping filter")
    alt = {k.casefold(): v for k, v in (alternatives or {}).items()}
    flat: list[tuple[str, int, Clause]] = [
        (name, position, clause)
        for name, groups in scope.sets()
        for position, group in enumerate(groups)
        for clause in group.clauses
    ]
    results, reasons = [], []
    for _, _, clause in flat:
        result, reason = _clause(clause, columns, frame, alt)
        results.append(result)
        reasons.append(reason)
    matrix = np.vstack(results) if results else np.zeros((0, len(frame)), np.int8)
    return _combine(scope, flat, matrix, reasons, index)


def _na(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype="str")


def _clause(
    clause: Clause, columns: FrameColumns, frame: pd.DataFrame, alt: Mapping[str, str]
) -> tuple[np.ndarray, str]:
    """The clause per row (1 true, 0 false, -1 unknown) and why it is unknown where it is."""
    size = len(frame)
    blocked = _unsupported(clause.attribute)
    if blocked:
        return np.full(size, UNKNOWN, np.int8), blocked
    op = OPERATORS.get(norm(clause.operator))
    if op is None:
        return np.full(size, UNKNOWN, np.int8), f"operator {clause.operator!r} is not documented"
    try:
        values = columns.read(clause.attribute)
    except ExpressionError:
        return np.full(size, UNKNOWN, np.int8), f"{clause.attribute} was not collected"
    if ar.is_multi(values):
        why = f"{clause.attribute} is multi-valued ('Filtering is not supported for multi-valued attributes')"
        return np.full(size, UNKNOWN, np.int8), why
    try:
        result = per_distinct(values, lambda v: op.apply(v, clause.values))
    except Refused as exc:
        return np.full(size, UNKNOWN, np.int8), f"{clause.text}: {exc}"
    other = alt.get(clause.attribute.casefold())
    if other is not None and other in frame:
        second = per_distinct(
            FrameColumns(frame, {clause.attribute: other}, "").read(clause.attribute),
            lambda v: op.apply(v, clause.values),
        )
        result = np.where(result == second, result, UNKNOWN).astype(np.int8)
        return result, f"{clause.attribute} of guests: which form a filter sees is not documented"
    return result, f"{clause.text}: {op.unknown}"


def _unsupported(attribute: str) -> str:
    folded = attribute.casefold()
    if folded in UNSUPPORTED:
        return UNSUPPORTED[folded]
    if any(word in folded for word in _DATE_WORDS):
        return (
            f"{attribute} looks like a date; date attributes are not supported in scoping filters"
        )
    return ""


def _combine(
    scope: ScopeFilter,
    flat: list[tuple[str, int, Clause]],
    matrix: np.ndarray,
    reasons: list[str],
    index: pd.Index,
) -> ScopeVerdict:
    """Kleene AND within groups, OR across a set's groups, AND across sets; explain per pattern."""
    patterns, codes = (
        np.unique(matrix.T, axis=0, return_inverse=True)
        if len(index)
        else (np.zeros((0, len(flat)), np.int8), np.zeros(0, np.int64))
    )
    verdicts, texts, whys = [], [], []
    for pattern in patterns:
        verdict, text, why = _explain(scope, flat, pattern, reasons)
        verdicts.append(verdict)
        texts.append(text)
        whys.append(why)
    codes = np.asarray(codes).reshape(-1)
    table = np.array(
        [{TRUE: True, FALSE: False}.get(v, pd.NA) for v in verdicts] or [pd.NA], dtype=object
    )
    in_scope = pd.Series(table[codes], index=index, dtype="boolean")
    explanation = _coded(codes, texts, index)
    unknown = _coded(codes, whys, index)
    return ScopeVerdict(in_scope, explanation, unknown)


def _coded(codes: np.ndarray, values: Sequence[str | None], index: pd.Index) -> pd.Series:
    """One text per row as a categorical (the texts repeat: one per distinct clause pattern)."""
    distinct = list(dict.fromkeys(v for v in values if v is not None))
    position = {v: i for i, v in enumerate(distinct)}
    table = np.array([position.get(v, -1) if v is not None else -1 for v in values] or [-1])
    categories = pd.Index(distinct, dtype="str")
    return pd.Series(pd.Categorical.from_codes(table[codes], categories=categories), index=index)


def _explain(
    scope: ScopeFilter,
    flat: list[tuple[str, int, Clause]],
    pattern: np.ndarray,
    reasons: list[str],
) -> tuple[int, str, str | None]:
    """One combination of clause results: the verdict, its explanation, and why it is unknown."""
    by_group: dict[tuple[str, int], list[tuple[int, Clause, str]]] = {}
    for (set_name, position, clause), result, reason in zip(flat, pattern, reasons, strict=True):
        by_group.setdefault((set_name, position), []).append((int(result), clause, reason))
    set_verdicts: list[int] = []
    words: list[str] = []
    unknown: list[str] = []
    for set_name, groups in scope.sets():
        group_verdicts = []
        for position, group in enumerate(groups):
            results = by_group.get((set_name, position), [])
            verdict = _and([r for r, _, _ in results])
            group_verdicts.append(verdict)
            words.append(_group_words(set_name, group, verdict, results))
            unknown += [f"{c.text} ({why})" for r, c, why in results if r == UNKNOWN]
        set_verdicts.append(_or(group_verdicts))
    verdict = _and(set_verdicts)
    return verdict, "; ".join(words), "; ".join(unknown) if verdict == UNKNOWN else None


def _group_words(
    set_name: str, group: FilterGroup, verdict: int, results: list[tuple[int, Clause, str]]
) -> str:
    label = f"filter '{group.name}'" + ("" if set_name == "groups" else f" ({set_name})")
    if verdict == TRUE:
        return f"{label} passes"
    if verdict == FALSE:
        failed = next(c for r, c, _ in results if r == FALSE)
        return f"{label} fails: {failed.text} is false"
    first = next(c for r, c, _ in results if r == UNKNOWN)
    return f"{label} unknown: {first.text}"


def _and(results: Sequence[int]) -> int:
    if FALSE in results:
        return FALSE
    return UNKNOWN if UNKNOWN in results else TRUE


def _or(results: Sequence[int]) -> int:
    if TRUE in results:
        return TRUE
    return UNKNOWN if UNKNOWN in results else FALSE
