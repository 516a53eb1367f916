"""Property tests of audit.mapping: the parser never fails in an unplanned way, printing and
parsing round-trip, and evaluation of well-formed expressions never raises and agrees with plain
Python re-statements of the documented semantics.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.errors import ExpressionError
from audit.mapping import (
    DEFAULT_ATTRIBUTE_COLUMNS,
    Attribute,
    Call,
    Compare,
    Constant,
    Expr,
    Identifier,
    Number,
    evaluate,
    parse,
    to_text,
)
from audit.mapping.nodes import COMPARISON_OPERATORS
from audit.mapping.signatures import canonical_name

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100)

# --- parser ---------------------------------------------------------------------------------------

GRAMMAR_ALPHABET = '[]"\\(),=<>&-_ .09HxAppendToLowerIIFSwitch\n\t'


@SETTINGS
@given(st.one_of(st.text(), st.text(alphabet=GRAMMAR_ALPHABET, max_size=60)))
def test_parse_returns_a_tree_or_an_expression_error(text: str) -> None:
    try:
        tree = parse(text)
    except ExpressionError as error:
        failure: ExpressionError | None = error
    else:
        failure = None
    if failure is not None:
        assert failure.expression == text
        assert failure.position is not None
        assert 0 <= failure.position <= len(text)
        return
    printed = to_text(tree)
    assert parse(printed) == tree
    assert to_text(parse(printed)) == printed


WORDS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
ATTRIBUTE_NAMES = st.text(st.characters(exclude_characters="[]"), min_size=1, max_size=20).filter(
    lambda name: name == name.strip() and name != ""
)


def _call(name: str, args: list[Expr | None]) -> Call:
    return Call(canonical_name(name), tuple(args) if args != [None] else ())


def _trees() -> st.SearchStrategy[Expr]:
    leaves: st.SearchStrategy[Expr] = st.one_of(
        st.builds(Attribute, ATTRIBUTE_NAMES),
        st.builds(Constant, st.text(max_size=20)),
        st.builds(Number, st.integers(min_value=-(10**12), max_value=10**12)),
        st.builds(Identifier, WORDS),
    )
    operands = st.recursive(
        leaves,
        lambda inner: st.builds(_call, WORDS, st.lists(st.none() | inner, max_size=4)),
        max_leaves=12,
    )
    compares = st.builds(Compare, st.sampled_from(COMPARISON_OPERATORS), operands, operands)
    return st.one_of(
        operands, compares, st.builds(_call, WORDS, st.lists(st.none() | compares, max_size=3))
    )


@SETTINGS
@given(_trees())
def test_print_then_parse_round_trips(tree: Expr) -> None:
    assert parse(to_text(tree)) == tree


@pytest.mark.parametrize("depth", [64, 65, 5000])
def test_deep_nesting_is_an_expression_error_not_a_recursion_error(depth: int) -> None:
    text = "ToLower(" * depth + "[mail]" + ")" * depth
    if depth <= 64:
        assert isinstance(parse(text), Call)
    else:
        with pytest.raises(ExpressionError, match="nested"):
            parse(text)


# --- evaluation of well-formed expressions ------------------------------------------------------

SINGLE = [
    "mail",
    "userPrincipalName",
    "originalUserPrincipalName",
    "displayName",
    "givenName",
    "accountEnabled",
]
MULTI = ["otherMails", "proxyAddresses"]
TEXT = st.text(max_size=12)
SMALL = st.integers(min_value=-2, max_value=6).map(Number)
PATTERNS = ["(?<Suffix>@(.)*)", r"[a-zA-Z_]*", r"\d+", "(?<first>^.)", "(a|b)+", r"\s"]


def _texts(single: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    """Calls that return a single value, with arguments of the kinds each function accepts."""
    const = st.builds(Constant, TEXT)
    nonempty = st.builds(Constant, st.text(min_size=1, max_size=3))
    multi = _multis(single)
    cond = st.one_of(
        st.builds(Compare, st.sampled_from(COMPARISON_OPERATORS), single, single),
        st.builds(lambda a: Call("IsPresent", (a,)), single),
        single,
    )
    one_arg = st.sampled_from(
        [
            "ToLower", "ToUpper", "StripSpaces", "NormalizeDiacritics", "PCase", "IsPresent",
            "IsNullOrEmpty", "IsNull", "IsString", "Not", "CBool", "CStr", "ConvertToBase64",
            "ConvertToUTF8Hex", "IgnoreFlowIfNullOrEmpty", "Redact",
        ]
    )  # fmt: skip
    return st.one_of(
        st.builds(lambda f, a: Call(f, (a,)), one_arg, single),
        st.builds(lambda a, b: Call("Append", (a, b)), single, single),
        st.builds(lambda a, n: Call("Left", (a, n)), single, SMALL),
        st.builds(lambda a, s, n: Call("Mid", (a, s, n)), single, SMALL, SMALL),
        st.builds(lambda a, n, d: Call("Word", (a, n, d)), single, SMALL, const),
        st.builds(lambda a, s: Call("PCase", (a, s)), single, const),
        st.builds(lambda xs: Call("Coalesce", tuple(xs)), st.lists(single, min_size=1, max_size=3)),
        st.builds(
            lambda s, xs: Call("Join", (s, *xs)),
            const,
            st.lists(single | multi, min_size=1, max_size=3),
        ),
        st.builds(lambda m, n: Call("Item", (m, n)), multi, SMALL),
        st.builds(lambda m: Call("Count", (m,)), multi),
        st.builds(lambda c, a, b: Call("IIF", (c, a, b)), cond, single, single),
        st.builds(
            lambda s, d, pairs: Call("Switch", (s, d, *[x for pair in pairs for x in pair])),
            single,
            st.none() | single,
            st.lists(st.tuples(const, single), max_size=3),
        ),
        st.builds(lambda a, b: Call("InStr", (a, b)), single, single),
        st.builds(
            lambda a, o, r: Call("Replace", (a, o, None, None, r, None, None)),
            single,
            nonempty,
            single,
        ),
        st.builds(
            lambda a, o, t: Call("Replace", (a, o, None, None, None, None, t)),
            single,
            nonempty,
            const,
        ),
        st.builds(
            lambda a, p, r: Call("Replace", (a, None, Constant(p), None, r, None, None)),
            single,
            st.sampled_from(PATTERNS),
            single,
        ),
        st.builds(
            lambda a, r, attr: Call(
                "Replace", (a, None, Constant("(?<x>[a-z]+)"), Constant("x"), r, attr, None)
            ),
            single,
            single,
            st.none() | single,
        ),
    )


def _multis(single: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    attribute = st.sampled_from(MULTI).map(Attribute)
    split = st.builds(lambda a, d: Call("Split", (a, Constant(d))), single, st.text(max_size=2))
    return st.one_of(
        attribute, split, st.builds(lambda m: Call("RemoveDuplicates", (m,)), attribute | split)
    )


def _singles() -> st.SearchStrategy[Expr]:
    leaves = st.one_of(
        st.sampled_from(SINGLE).map(Attribute),
        st.builds(Constant, TEXT),
        st.builds(Number, st.integers(-99, 99)),
    )
    return st.recursive(leaves, _texts, max_leaves=8)


def _frames() -> st.SearchStrategy[pd.DataFrame]:
    def build(size: int, draw: Any) -> pd.DataFrame:
        text = st.none() | TEXT
        lists = st.none() | st.lists(TEXT, max_size=3)
        data: dict[str, Any] = {}
        for column in DEFAULT_ATTRIBUTE_COLUMNS.values():
            if column in ("other_mails", "proxy_addresses"):
                data[column] = pd.Series(
                    draw(st.lists(lists, min_size=size, max_size=size)), dtype=object
                )
            elif column == "account_enabled":
                flags = draw(st.lists(st.none() | st.booleans(), min_size=size, max_size=size))
                data[column] = pd.Series(flags, dtype="boolean")
            else:
                data[column] = pd.Series(
                    draw(st.lists(text, min_size=size, max_size=size)), dtype="string"
                )
        return pd.DataFrame(data).set_axis(pd.RangeIndex(100, 100 + size))

    return st.integers(0, 4).flatmap(
        lambda size: st.builds(lambda d: build(size, d.draw), st.data())
    )


@SETTINGS
@given(_singles() | _multis(_singles()), _frames())
def test_well_formed_expressions_always_evaluate(tree: Expr, frame: pd.DataFrame) -> None:
    result = evaluate(tree, frame)
    assert result.index.equals(frame.index)
    assert result.dtype == "string" or result.dtype == object
    assert evaluate(to_text(tree), frame).equals(result)


# --- agreement with the documented semantics, restated in Python --------------------------------


def _eval(
    expression: str, values: Sequence[str | None], **other: Sequence[str | None]
) -> list[Any]:
    data = {"s": list(values)} | {name: list(column) for name, column in other.items()}
    frame = pd.DataFrame(data, dtype="string")
    columns = {"s": "s"} | {name: name for name in other}
    return [
        None if v is pd.NA else v for v in evaluate(expression, frame, attribute_columns=columns)
    ]


def _absent(value: str | None) -> str | None:
    return value or None  # attributes: an empty string is an absent attribute


NULLABLE = st.lists(st.none() | st.text(max_size=10), min_size=1, max_size=6)


@SETTINGS
@given(NULLABLE, st.integers(-3, 12))
def test_left_matches_the_doc(values: list[str | None], count: int) -> None:
    expected = ["" if (v := _absent(x)) is None else v if count < 0 else v[:count] for x in values]
    assert _eval(f"Left([s], {count})", values) == expected


@SETTINGS
@given(NULLABLE, st.integers(-1, 12), st.integers(-1, 12))
def test_mid_matches_the_doc(values: list[str | None], start: int, length: int) -> None:
    def mid(value: str | None) -> str | None:
        if value is None or start < 1 or length < 0:
            return None
        return value[start - 1 : start - 1 + length]

    assert _eval(f"Mid([s], {start}, {length})", values) == [mid(_absent(v)) for v in values]


@SETTINGS
@given(NULLABLE, st.sampled_from(["@", ",", "ab", "_"]), st.integers(-1, 5))
def test_item_of_split_matches_python(values: list[str | None], delimiter: str, index: int) -> None:
    def item(value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.split(delimiter)
        return parts[index - 1] if 1 <= index <= len(parts) else None

    expression = f'Item(Split([s], "{delimiter}"), {index})'
    assert _eval(expression, values) == [item(_absent(v)) for v in values]


@SETTINGS
@given(NULLABLE, st.data())
def test_join_append_coalesce_match_python(values: list[str | None], data: st.DataObject) -> None:
    other = data.draw(
        st.lists(st.none() | st.text(max_size=5), min_size=len(values), max_size=len(values))
    )
    pairs = [(_absent(a), _absent(b)) for a, b in zip(values, other, strict=True)]

    def join(a: str | None, b: str | None) -> str | None:
        return None if a is None and b is None else "+".join(x for x in (a, b) if x)

    assert _eval('Join("+", [s], [t])', values, t=other) == [join(a, b) for a, b in pairs]
    assert _eval("Append([s], [t])", values, t=other) == [
        None if a is None or b is None else a + b for a, b in pairs
    ]
    assert _eval("Coalesce([s], [t])", values, t=other) == [
        a if a is not None else b for a, b in pairs
    ]


@SETTINGS
@given(st.lists(st.none() | st.sampled_from(["a", "b", "c", "A", ""]), min_size=1, max_size=8))
def test_switch_matches_the_doc(values: list[str | None]) -> None:
    table = {"a": "1", "b": "2", "": "empty"}
    got = _eval('Switch([s], "default", "a", "1", "b", "2", "", "empty")', values)
    assert got == [table.get(_absent(v) or "", "default") for v in values]


@SETTINGS
@given(NULLABLE, st.text(min_size=1, max_size=3), st.text(max_size=3))
def test_plain_replace_matches_python(values: list[str | None], old: str, new: str) -> None:
    expression = f"Replace([s], {to_text(Constant(old))}, , , {to_text(Constant(new))}, , )"
    expected = [None if (v := _absent(x)) is None else v.replace(old, new) for x in values]
    assert _eval(expression, values) == expected


@SETTINGS
@given(st.lists(st.text(alphabet=string.printable, max_size=10), min_size=1, max_size=5))
def test_case_and_diacritics_on_ascii(values: list[str]) -> None:
    present = [_absent(v) for v in values]
    assert _eval("ToLower([s])", values) == [None if v is None else v.lower() for v in present]
    assert _eval("ToUpper([s])", values) == [None if v is None else v.upper() for v in present]
    assert _eval("NormalizeDiacritics([s])", values) == present


@SETTINGS
@given(NULLABLE)
def test_normalize_diacritics_is_idempotent(values: list[str | None]) -> None:
    once = _eval("NormalizeDiacritics([s])", values)
    assert _eval("NormalizeDiacritics(NormalizeDiacritics([s]))", values) == once
