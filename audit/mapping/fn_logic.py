"""Tests and choices: Coalesce, IIF, Switch, IsPresent, IsNullOrEmpty, IsNull, IsString, Not, CBool,
IgnoreFlowIfNullOrEmpty, and the comparison operators of IIF conditions.

Booleans flow as the strings ``"True"`` and ``"False"``, as Entra writes them (the doc's ``Not``
expects "True" or "False"; ``Switch(IsPresent([x]), ..., "True", ...)`` keys on them). Reading a
condition, ``true``/``false`` are matched case-insensitively and numbers count as true when
non-zero ("If the expression evaluates to a non-zero value, then CBool returns True"); anything
else cannot be evaluated and gives null.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.mapping import _arrow as ar
from audit.mapping._args import Args
from audit.mapping.nodes import Attribute, attribute_names

__all__ = ["LOGIC_FUNCTIONS", "compare", "truth"]

_NUMBER = r"^[-+]?(\d+(\.\d*)?|\.\d+)$"


def truth(array: ar.Array) -> ar.Array:
    """Boolean reading of Entra values: True/False (any case), numbers (non-zero), else null."""
    lowered = pc.utf8_lower(array)
    by_number = pc.not_equal(_as_number(array), 0.0)
    by_word = pc.if_else(pc.equal(lowered, ar.scalar("false")), False, by_number)
    return pc.if_else(pc.equal(lowered, ar.scalar("true")), True, by_word)


_COMPARE = {
    "=": pc.equal,
    "<>": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


def compare(op: str, left: ar.Array, right: ar.Array) -> ar.Array:
    """``left op right`` as ``"True"``/``"False"``: numerically when both sides are numbers,
    else by ordinal (case-sensitive) string comparison. Null when either side is null.
    """
    func = _COMPARE[op]
    left_n, right_n = _as_number(left), _as_number(right)
    both = pc.and_(pc.is_valid(left_n), pc.is_valid(right_n))
    result = pc.if_else(both, func(left_n, right_n), func(left, right))
    return ar.texts_of_bools(result)


def _as_number(array: ar.Array) -> ar.Array:
    trimmed = pc.utf8_trim_whitespace(array)
    numeric = pc.match_substring_regex(trimmed, _NUMBER)
    as_float = pc.cast(pc.if_else(numeric, trimmed, ar.scalar("0")), pa.float64())
    return ar.null_if(pc.invert(pc.fill_null(numeric, False)), as_float)


def coalesce(a: Args) -> ar.Array:
    """``Coalesce(source1, ..., defaultValue)``: "Returns the first source value that isn't NULL.
    If all arguments are NULL and defaultValue is present, the defaultValue is returned." The
    default is simply the last argument. An empty string is not null (attributes are never empty
    strings; see columns.py), so ``Coalesce("", [mail])`` is ``""``.
    """
    values = [arg.value() for arg in a if arg.present]
    if not values:
        return ar.nulls(a.size)
    if len({ar.is_multi(value) for value in values}) > 1:
        raise a.fail("cannot mix multi-valued and single-valued arguments")
    result = values[-1]
    for value in reversed(values[:-1]):  # if_else: pc.coalesce is slow on strings
        result = pc.if_else(pc.is_valid(value), value, result)
    return result


def iif(a: Args) -> ar.Array:
    """``IIF(condition, valueIfTrue, valueIfFalse)``. Documented limitation: "If the source
    attribute used within the IIF function is empty or null, the condition check fails", so any
    attribute of the condition that is null or empty makes the result null (not flowed), even in
    ``IIF(IsPresent([country]), [country], "Other")``. A condition that is neither true nor false
    is null as well.
    """
    condition = truth(a[0].text())
    if_true, if_false = a[1].value(), a[2].value()
    if ar.is_multi(if_true) or ar.is_multi(if_false):
        if_true, if_false = a[1].values(), a[2].values()
    result = pc.if_else(condition, if_true, if_false)
    node = a[0].node
    for name in sorted(attribute_names(node) if node is not None else ()):
        result = ar.null_if(ar.blank(a[0].ev.value(Attribute(name))), result)
    return result


def switch(a: Args) -> ar.Array:
    """``Switch(source, defaultValue, key1, value1, ...)``: "When source value matches a key,
    returns value for that key. If source value doesn't match any keys, returns defaultValue";
    the match is case-sensitive and the first matching key wins. A null source matches the key
    ``""`` (the doc's own workaround: ``Switch([country],[country],"","Other")``). An omitted
    default is null.
    """
    source = pc.fill_null(a[0].text(), ar.scalar(""))
    result = a[1].text()
    for index in range(len(a) - 2, 1, -2):
        hit = pc.fill_null(pc.equal(source, a[index].text()), False)
        result = pc.if_else(hit, a[index + 1].text(), result)
    return result


def is_present(a: Args) -> ar.Array:
    """``IsPresent(Expression)``: "True" for a value that "isn't Null and isn't empty"."""
    return ar.texts_of_bools(pc.invert(ar.blank(a[0].value())))


def is_null_or_empty(a: Args) -> ar.Array:
    """``IsNullOrEmpty(Expression)``: "True if the attribute is absent or is present but is an
    empty string" (an empty list counts as empty).
    """
    return ar.texts_of_bools(ar.blank(a[0].value()))


def is_null(a: Args) -> ar.Array:
    """``IsNull(Expression)``: "True" when null, i.e. "the absence of the attribute"."""
    return ar.texts_of_bools(pc.is_null(a[0].value()))


def is_string(a: Args) -> ar.Array:
    """``IsString(Expression)``: "True" when the value "can be evaluated to a string type": any
    non-null single value; "False" for null and for multi-valued values.
    """
    value = a[0].value()
    if ar.is_multi(value):
        return ar.texts_of_bools(pa.array(np.zeros(len(value), dtype=bool)))
    return ar.texts_of_bools(pc.is_valid(value))


def not_(a: Args) -> ar.Array:
    """``Not(source)``: "If source value is True, returns False. Otherwise, returns True." Taken
    literally: null, "False" and any other text give "True" ("true" in any case counts as True).
    """
    is_true = pc.fill_null(pc.equal(pc.utf8_lower(a[0].text()), ar.scalar("true")), False)
    return ar.texts_of_bools(pc.invert(is_true))


def cbool(a: Args) -> ar.Array:
    """``CBool(Expression)``: "True" for true or a non-zero number, "False" for false or zero;
    null for null or text that is neither.
    """
    return ar.texts_of_bools(truth(a[0].text()))


def ignore_flow_if_null_or_empty(a: Args) -> ar.Array:
    """``IgnoreFlowIfNullOrEmpty(expression)``: "drop it from the flow if the enclosed function or
    attribute is NULL or empty"; dropped is null here.
    """
    value = a[0].value()
    return ar.null_if(ar.blank(value), value)


LOGIC_FUNCTIONS: dict[str, Callable[[Args], ar.Array]] = {
    "Coalesce": coalesce,
    "IIF": iif,
    "Switch": switch,
    "IsPresent": is_present,
    "IsNullOrEmpty": is_null_or_empty,
    "IsNull": is_null,
    "IsString": is_string,
    "Not": not_,
    "CBool": cbool,
    "IgnoreFlowIfNullOrEmpty": ignore_flow_if_null_or_empty,
}
