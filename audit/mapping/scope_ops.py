"""The scoping-filter operators and how each judges one value (see :mod:`audit.mapping.scope`).

Source: "Scoping users or groups to be provisioned with scoping filters"
(https://learn.microsoft.com/entra/identity/app-provisioning/define-conditional-rules-for-provisioning-user-accounts).
A judgement is TRUE, FALSE or UNKNOWN (the documentation leaves the result open for that value).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from audit.mapping import _arrow as ar
from audit.mapping.fn_replace import dotnet_pattern

__all__ = ["FALSE", "OPERATORS", "TRUE", "UNKNOWN", "Operator", "Refused", "norm", "per_distinct"]

TRUE, FALSE, UNKNOWN = 1, 0, -1


def norm(operator: str) -> str:
    """Operator names compared upper-case with ``_`` as a space (``NOT_EQUALS`` = ``NOT EQUALS``)."""
    return " ".join(operator.replace("_", " ").upper().split())


def per_distinct(values: ar.Array, apply: Callable[[str | None], int]) -> np.ndarray:
    """``apply`` once per distinct value (null included), spread back to every row."""
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    dictionary = encoded.dictionary.to_pylist()
    table = np.array([apply(v if v != "" else None) for v in dictionary] or [0], np.int8)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return table[np.asarray(indices, dtype=np.int64)] if len(values) else np.zeros(0, np.int8)


class Refused(Exception):
    """The clause as a whole cannot be evaluated (a bad pattern, a non-integer operand)."""


@dataclass(frozen=True)
class Operator:
    """How one operator judges one value against the operand values."""

    test: Callable[[str, str], int]  # value (not null), operand -> TRUE / FALSE / UNKNOWN
    on_null: int = FALSE
    unary: bool = False
    unknown: str = "the result is not documented for this value"

    def apply(self, value: str | None, operands: Sequence[str]) -> int:
        if value is None:
            return self.on_null
        if self.unary:
            return self.test(value, "")
        if not operands:
            raise Refused("the clause has no value to compare with")
        found = {self.test(value, operand) for operand in operands}
        if len(found) == 1:
            return found.pop()
        return UNKNOWN  # any vs all of several values: not documented, and they disagree


def _both_cases(test: Callable[[str, str], bool]) -> Callable[[str, str], int]:
    """Case sensitivity not documented: decided only where both readings agree."""

    def judge(value: str, operand: str) -> int:
        exact = test(value, operand)
        folded = test(value.casefold(), operand.casefold())
        return int(exact) if exact == folded else UNKNOWN

    return judge


def _integer(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[+-]?\d+", text.strip()) else None


def _greater(or_equal: bool) -> Callable[[str, str], int]:
    def judge(value: str, operand: str) -> int:
        bound = _integer(operand)
        if bound is None:
            raise Refused(f"{operand!r} is not an integer (Greater_Than needs integers)")
        number = _integer(value)
        if number is None:
            return UNKNOWN
        return int(number >= bound if or_equal else number > bound)

    return judge


def _boolean(expected: str) -> Callable[[str, str], int]:
    def judge(value: str, _: str) -> int:
        folded = value.casefold()
        if folded not in ("true", "false"):
            return UNKNOWN
        return int(folded == expected)

    return judge


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _regex(pattern: str) -> re.Pattern[str]:
    found = _REGEX_CACHE.get(pattern)
    if found is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = re.compile(dotnet_pattern(pattern))
        except (re.error, RecursionError, OverflowError) as exc:
            raise Refused(f"pattern {pattern!r} cannot be used ({exc})") from None
        _REGEX_CACHE[pattern] = found
    return found


def _regex_match(negate: bool) -> Callable[[str, str], int]:
    """Search and whole-value match agree, or the row is unknown (anchoring is not documented)."""

    def judge(value: str, pattern: str) -> int:
        regex = _regex(pattern)
        search, whole = regex.search(value) is not None, regex.fullmatch(value) is not None
        if search != whole:
            return UNKNOWN
        return int(search != negate)

    return judge


OPERATORS: dict[str, Operator] = {
    "EQUALS": Operator(lambda v, o: int(v == o)),
    "NOT EQUALS": Operator(lambda v, o: int(v != o)),
    "&": Operator(_both_cases(lambda v, o: v in o), unknown="case sensitivity not documented"),
    "!&": Operator(_both_cases(lambda v, o: v not in o), unknown="case sensitivity not documented"),
    "ENDS WITH": Operator(
        _both_cases(lambda v, o: v.endswith(o)), unknown="case sensitivity not documented"
    ),
    "GREATER THAN": Operator(_greater(False), unknown="the value is not an integer"),
    "GREATER THAN OR EQUALS": Operator(_greater(True), unknown="the value is not an integer"),
    "INCLUDES": Operator(lambda v, o: int(o in v)),
    "IS TRUE": Operator(_boolean("true"), unary=True, unknown="the value is not a Boolean"),
    "IS FALSE": Operator(_boolean("false"), unary=True, unknown="the value is not a Boolean"),
    "IS NULL": Operator(lambda v, o: FALSE, on_null=TRUE, unary=True),
    "IS NOT NULL": Operator(lambda v, o: TRUE, unary=True),
    "REGEX MATCH": Operator(
        _regex_match(False),
        unknown="a partial match: whether the whole value must match is not documented",
    ),
    "NOT REGEX MATCH": Operator(
        _regex_match(True),
        unknown="a partial match: whether the whole value must match is not documented",
    ),
}
