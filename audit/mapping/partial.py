"""Partial evaluation: predict an expression for every row the tool can, say why the others can't.

:func:`evaluate` refuses an expression that calls ``Now()`` or reads an attribute that was not
collected. The provisioning engine does not: it evaluates what each user reaches. So does
:func:`evaluate_partial`: a part the tool cannot evaluate (an unknown or non-deterministic
function, an attribute without a column, a value the documentation leaves open) makes *unknown*
only the rows whose evaluation reaches it. ``Coalesce([mail], [extension_..._x])`` is decided for
every row that has ``mail``; ``IIF`` and ``Switch`` reach only the branch a row takes. Everything
stays column-wise: each node is computed once for all rows, and its unknown rows are a code array
(0 known, else the 1-based index of the reason in :attr:`Prediction.reasons`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from audit.errors import ExpressionError
from audit.mapping import _arrow as ar
from audit.mapping._args import Args, Partly
from audit.mapping.columns import DEFAULT_ATTRIBUTE_COLUMNS, FrameColumns
from audit.mapping.fn_logic import compare, truth
from audit.mapping.functions import IMPLEMENTATIONS
from audit.mapping.nodes import (
    Attribute,
    Call,
    Compare,
    Constant,
    Expr,
    Identifier,
    Number,
    attribute_names,
    to_text,
)
from audit.mapping.parser import parse
from audit.mapping.signatures import SIGNATURES

__all__ = ["Prediction", "evaluate_partial", "first_unknown"]

Codes = np.ndarray

#: Why some functions are never evaluated (functions-for-customizing-application-data).
_NOT_EVALUATED = {
    "Now": "Now() is the time of each provisioning run",
    "Guid": "Guid() is a new random value each time",
    "RandomString": "RandomString() is random",
    "SelectUniqueValue": (
        "SelectUniqueValue() queries the target and is supported only for inbound Active Directory"
    ),
    "AppRoleAssignmentsComplex": "[appRoleAssignments] is not collected",
    "SingleAppRoleAssignment": "[appRoleAssignments] is not collected",
}

#: Source attributes the provisioning service does not offer or the tool does not collect.
_ATTRIBUTE_REASONS = {
    "usertype": (
        "[userType] is not a source attribute (known issues: 'The attributes SamAccountName and "
        "userType aren't available as source attributes')"
    ),
    "samaccountname": "[SamAccountName] is not a source attribute (known issues)",
    "approleassignments": "[appRoleAssignments] is not collected",
    "manager": "[manager] is a reference attribute the tool does not collect",
}


@dataclass(frozen=True)
class Prediction:
    """An expression's value per row, and which rows are unknown and why.

    ``values`` is what :func:`~audit.mapping.evaluate` returns (``<NA>`` where Entra produces
    null); on unknown rows it is ``<NA>`` too and means nothing. ``unknown`` holds per row 0
    (known) or the 1-based index of the reason in ``reasons``.
    """

    values: pd.Series
    unknown: Codes
    reasons: tuple[str, ...]

    @property
    def known(self) -> np.ndarray:
        """True where the value is predicted."""
        return np.asarray(self.unknown == 0)

    def reason_texts(self) -> pd.Series:
        """Per row the reason it is unknown, ``<NA>`` where it is known."""
        table = np.array([None, *self.reasons], dtype=object)
        return pd.Series(table[self.unknown], index=self.values.index, dtype="str")


def evaluate_partial(
    expr: Expr | str,
    frame: pd.DataFrame,
    *,
    attribute_columns: Mapping[str, str] = DEFAULT_ATTRIBUTE_COLUMNS,
) -> Prediction:
    """Evaluate ``expr`` for every row of ``frame`` as far as it can be; see the module docstring.

    Never raises for what the engine would evaluate: a syntax error makes every row unknown.
    """
    reasons = _Reasons()
    try:
        tree = parse(expr) if isinstance(expr, str) else expr
    except ExpressionError as exc:
        codes = np.full(len(frame), reasons.code(f"cannot parse {expr!r}: {exc}"), np.int32)
        return Prediction(_nulls(frame.index), codes, reasons.texts())
    text = expr if isinstance(expr, str) else to_text(tree)
    columns = FrameColumns(frame, attribute_columns, text)
    ev = _Partial(len(frame), columns, text, reasons)
    series = ar.to_series(ev.value(tree), frame.index)
    found = ev.unknown(tree)
    codes = np.zeros(len(frame), dtype=np.int32) if found is None else found
    return Prediction(series, codes, reasons.texts())


def _nulls(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype="string")


def first_unknown(*codes: Codes | None) -> Codes | None:
    """Per row the first non-zero code of ``codes`` (None counts as all zero)."""
    out: Codes | None = None
    for code in codes:
        if code is None:
            continue
        out = code if out is None else np.where(out == 0, code, out)
    return out


@dataclass
class _Reasons:
    """The reasons met so far, coded from 1 (shared by every node of one evaluation)."""

    found: dict[str, int] = field(default_factory=dict)

    def code(self, reason: str) -> int:
        return self.found.setdefault(reason, len(self.found) + 1)

    def texts(self) -> tuple[str, ...]:
        return tuple(self.found)


class _Unknowable(Exception):
    """A constant parameter (a delimiter, an index) whose value is unknown."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Partial:
    """Computes node values and unknown codes for ``size`` rows (the ``_args.Evaluator`` protocol)."""

    def __init__(self, size: int, columns: FrameColumns, text: str, reasons: _Reasons) -> None:
        self._size = size
        self._columns = columns
        self._text = text
        self._reasons = reasons
        self._cache: dict[Expr, tuple[ar.Array, Codes | None]] = {}
        self._single_row: _Partial | None = None

    @property
    def size(self) -> int:
        return self._size

    def value(self, node: Expr) -> ar.Array:
        return self._get(node)[0]

    def unknown(self, node: Expr | None) -> Codes | None:
        return None if node is None else self._get(node)[1]

    def constant(self, node: Expr) -> Any:
        if attribute_names(node):
            raise self.fail(f"{to_text(node)} must be a constant but reads attributes")
        single = self._one_row()
        codes = single.unknown(node)
        if codes is not None and codes[0]:
            raise _Unknowable(int(codes[0]))
        return single.value(node)[0].as_py()

    def fail(self, message: str) -> ExpressionError:
        return ExpressionError(message, expression=self._text)

    def _one_row(self) -> _Partial:
        if self._single_row is None:
            self._single_row = _Partial(1, self._columns, self._text, self._reasons)
        return self._single_row

    def _all(self, reason: str) -> tuple[ar.Array, Codes]:
        return ar.nulls(self._size), np.full(self._size, self._reasons.code(reason), np.int32)

    def _get(self, node: Expr) -> tuple[ar.Array, Codes | None]:
        cached = self._cache.get(node)
        if cached is None:
            values, codes = self._compute(node)
            if hasattr(values, "combine_chunks"):
                values = values.combine_chunks()
            cached = self._cache[node] = (values, codes)
        return cached

    def _compute(self, node: Expr) -> tuple[ar.Array, Codes | None]:
        if self._size != 1 and not isinstance(node, Attribute) and not attribute_names(node):
            values, codes = self._one_row()._get(node)
            spread = None if codes is None else np.repeat(codes, self._size)
            return ar.broadcast(values, self._size), spread
        if isinstance(node, Attribute):
            return self._attribute(node.name)
        if isinstance(node, Constant | Number):
            return ar.from_texts([str(node.value)] * self._size), None
        if isinstance(node, Identifier):
            return self._all(f"bare word {node.name!r} is not a value")
        if isinstance(node, Compare):
            return self._compare(node)
        return self._call(node)

    def _attribute(self, name: str) -> tuple[ar.Array, Codes | None]:
        try:
            return self._columns.read(name), None
        except ExpressionError:
            reason = _ATTRIBUTE_REASONS.get(name.casefold(), f"[{name}] was not collected")
            return self._all(reason)

    def _compare(self, node: Compare) -> tuple[ar.Array, Codes | None]:
        left, right = self.value(node.left), self.value(node.right)
        codes = first_unknown(self.unknown(node.left), self.unknown(node.right))
        if ar.is_multi(left) or ar.is_multi(right):
            return self._all(f"{to_text(node)} compares a multi-valued attribute")
        return compare(node.op, left, right), codes

    def _call(self, node: Call) -> tuple[ar.Array, Codes | None]:
        if node.name not in IMPLEMENTATIONS:
            known = _NOT_EVALUATED.get(node.name)
            return self._all(known or f"{node.name}() is not a documented function")
        if not SIGNATURES[node.name].accepts(len(node.args)):
            return self._all(f"{node.name}() cannot take {len(node.args)} argument(s)")
        try:
            result = IMPLEMENTATIONS[node.name](Args(node, self))
        except _Unknowable as exc:
            return ar.nulls(self._size), np.full(self._size, exc.code, np.int32)
        except ExpressionError as exc:
            return self._all(f"{to_text(node)}: {exc}")
        own = None
        if isinstance(result, Partly):
            own = np.where(result.unknown, self._reasons.code(result.why), 0).astype(np.int32)
            result = result.values
        combine = _COMBINE.get(node.name, _generic)
        return result, first_unknown(combine(self, node), own)


def _generic(ev: _Partial, node: Call) -> Codes | None:
    """A function reads every argument: a row is unknown when any argument is."""
    return first_unknown(*(ev.unknown(arg) for arg in node.args))


def _coalesce(ev: _Partial, node: Call) -> Codes | None:
    """Only the arguments up to a row's first non-null known value matter."""
    out: Codes | None = None
    pending = np.ones(ev.size, dtype=bool)
    for arg in (a for a in node.args if a is not None):
        codes = ev.unknown(arg)
        if codes is not None:
            hit = np.where(pending, codes, 0)
            out = first_unknown(out, hit)
            pending &= codes == 0
        pending &= _null(ev.value(arg))
    return out


def _iif(ev: _Partial, node: Call) -> Codes | None:
    """The condition matters for every row; a branch only for the rows that take it."""
    condition, if_true, if_false = ((*node.args, None, None, None))[:3]
    out = ev.unknown(condition)
    if condition is None:
        return out
    value = truth(ev.value(condition))
    taken = np.asarray(pc.fill_null(value, False).to_numpy(zero_copy_only=False), dtype=bool)
    other = np.asarray(
        pc.fill_null(pc.invert(value), False).to_numpy(zero_copy_only=False), dtype=bool
    )
    return first_unknown(
        out, _where(taken, ev.unknown(if_true)), _where(other, ev.unknown(if_false))
    )


def _switch(ev: _Partial, node: Call) -> Codes | None:
    """The source and the keys matter; of the values only the one a row selects."""
    args = node.args
    keys = [args[i] for i in range(2, len(args) - 1, 2)]
    out = first_unknown(ev.unknown(args[0]), *(ev.unknown(k) for k in keys))
    source = pc.fill_null(ev.value(args[0]), ar.scalar("")) if args[0] is not None else None
    selected = ev.unknown(args[1]) if len(args) > 1 else None
    for index in range(len(args) - 2, 1, -2):
        key = args[index]
        if source is None or key is None:
            continue
        hit = pc.fill_null(pc.equal(source, ev.value(key)), False)
        mask = np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
        chosen = ev.unknown(args[index + 1])
        if chosen is not None or selected is not None:
            base = selected if selected is not None else np.zeros(ev.size, np.int32)
            value = chosen if chosen is not None else np.zeros(ev.size, np.int32)
            selected = np.where(mask, value, base)
    return first_unknown(out, selected)


def _where(mask: np.ndarray, codes: Codes | None) -> Codes | None:
    return None if codes is None else np.where(mask, codes, 0)


def _null(values: ar.Array) -> np.ndarray:
    return np.asarray(pc.is_null(values).to_numpy(zero_copy_only=False), dtype=bool)


_COMBINE: dict[str, Callable[[_Partial, Call], Codes | None]] = {
    "Coalesce": _coalesce,
    "IIF": _iif,
    "Switch": _switch,
}
