"""Tests of the attribute-mapping expression parser and evaluator (audit.mapping).

Examples come from Microsoft's "Reference for writing expressions for attribute mappings in
Microsoft Entra ID" (functions-for-customizing-application-data.md): same expression, same input,
same output. Where the doc is silent, the tests pin the documented choice of the implementation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import audit.mapping as mapping
from audit.errors import ExpressionError, InputError
from audit.mapping import (
    DEFAULT_ATTRIBUTE_COLUMNS,
    Attribute,
    AttributeMapping,
    Call,
    Compare,
    Constant,
    Identifier,
    Number,
    attributes,
    evaluate,
    evaluate_mapping,
    functions,
    mappings_from_schema,
    parse,
    to_text,
    unsupported,
)

ROOT = Path(__file__).resolve().parents[1]


def run(expression: str, **columns: list[Any]) -> list[Any]:
    """Evaluate over a frame whose columns are named like the attributes; NA becomes None."""
    frame = pd.DataFrame(
        {name: pd.Series(values, dtype=_dtype(values)) for name, values in columns.items()}
    )
    if not columns:
        frame = pd.DataFrame(index=range(1))
    result = evaluate(expression, frame, attribute_columns={name: name for name in columns})
    return [None if value is pd.NA else value for value in result]


def _dtype(values: list[Any]) -> str:
    return "object" if any(isinstance(v, list) for v in values) else "string"


def one(expression: str, **columns: Any) -> Any:
    """Evaluate over a single row given as scalar values."""
    return run(expression, **{name: [value] for name, value in columns.items()})[0]


# --- parser -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("[mail]", Attribute("mail")),
        ('"United States"', Constant("United States")),
        (r'"Company name: \"Contoso\""', Constant('Company name: "Contoso"')),
        (r'"back\\slash"', Constant("back\\slash")),
        (r'"\d{10}"', Constant(r"\d{10}")),
        ("[ extension_9d98_Nickname ]", Attribute("extension_9d98_Nickname")),
        ("[name.givenName]", Attribute("name.givenName")),
        ("Left([x], -3)", Call("Left", (Attribute("x"), Number(-3)))),
        ("BitAnd(&HF, &HF7)", Call("BitAnd", (Number(15), Number(247)))),
        ("Guid()", Call("Guid", ())),
        ("F(,)", Call("F", (None, None))),
        ("tolower([mail], )", Call("ToLower", (Attribute("mail"), None))),
        (
            'IIF([country]="USA",[country],[department])',
            Call(
                "IIF",
                (
                    Compare("=", Attribute("country"), Constant("USA")),
                    Attribute("country"),
                    Attribute("department"),
                ),
            ),
        ),
        (
            'InStr("repEated","e",3,vbBinaryCompare)',
            Call(
                "InStr",
                (Constant("repEated"), Constant("e"), Number(3), Identifier("vbBinaryCompare")),
            ),
        ),
        (
            'Replace([mail], "@contoso.com", , ,"", ,)',
            Call(
                "Replace",
                (Attribute("mail"), Constant("@contoso.com"), None, None, Constant(""), None, None),
            ),
        ),
    ],
)
def test_parse_builds_the_tree(text: str, tree: Any) -> None:
    assert parse(text) == tree
    assert parse(to_text(tree)) == tree


def test_parse_accepts_the_docs_multiline_switch() -> None:
    text = """Switch([Active], ,
      "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, "False", "True"),
      "0", "False")"""
    tree = parse(text)
    assert isinstance(tree, Call)
    assert tree.args[1] is None
    assert functions(tree) == {"Switch", "IIF", "DateDiff", "Now", "CDate"}
    assert attributes(tree) == {"Active", "StatusHireDate"}


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("", 0, "empty"),
        ("   \n", 0, "empty"),
        ("[mail", 0, "no closing ']'"),
        ("[]", 0, "empty attribute"),
        ("[a[b]", 2, "'['"),
        ('Append([a], "x)', 12, "no closing '\"'"),
        ('"abc\\"', 0, "no closing"),
        ('Append([a], "x"', 0, "Append( has no closing ')'"),
        ('Append([a] "x")', 11, "expected ',' or ')'"),
        ("[a] [b]", 4, "after the expression"),
        ("Append([a]))", 11, "after the expression"),
        (")", 0, "expected a value"),
        ("Left([a], 1.5)", 10, "whole numbers"),
        ("&Hzz", 0, "hexadecimal"),
        ("[a] = [b] = [c]", 10, "chained"),
        ("Append([a]; [b])", 10, "unexpected character ';'"),
        ("ToLower(" * 70 + "[a]" + ")" * 70, 512, "nested more than 64"),
    ],
)
def test_parse_errors_say_what_and_where(text: str, position: int, words: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert caught.value.position == position
    assert caught.value.expression == text
    assert words in str(caught.value)


def test_parse_rejects_non_text() -> None:
    with pytest.raises(ExpressionError, match="must be text"):
        parse(None)  # type: ignore[arg-type]


def test_function_names_are_canonical_and_attribute_names_verbatim() -> None:
    tree = parse('COALESCE(toLower([Mail]), iif([A] <> "", [b], "c"), Frobnicate())')
    assert functions(tree) == {"Coalesce", "ToLower", "IIF", "Frobnicate"}
    assert attributes(tree) == {"Mail", "A", "b"}
    assert unsupported(tree) == {"Frobnicate"}
    assert unsupported("SingleAppRoleAssignment([appRoleAssignments])") == {
        "SingleAppRoleAssignment"
    }
    assert to_text(tree) == 'Coalesce(ToLower([Mail]), IIF([A] <> "", [b], "c"), Frobnicate())'


def test_nodes_refuse_trees_without_a_text_form() -> None:
    with pytest.raises(ValueError, match="omitted"):
        Call("F", (None,))
    with pytest.raises(ValueError, match="chain"):
        Compare("=", Compare("=", Number(1), Number(1)), Number(1))
    with pytest.raises(ValueError, match="operator"):
        Compare("==", Number(1), Number(1))


def test_public_api_is_exactly_exported() -> None:
    assert sorted(mapping.__all__) == sorted(
        [
            "DEFAULT_ATTRIBUTE_COLUMNS",
            "DOCUMENTED_FUNCTIONS",
            "SUPPORTED_FUNCTIONS",
            "Attribute",
            "AttributeMapping",
            "Call",
            "Compare",
            "Constant",
            "Expr",
            "ExpressionError",
            "Identifier",
            "Number",
            "attributes",
            "evaluate",
            "evaluate_mapping",
            "functions",
            "mappings_from_schema",
            "parse",
            "to_text",
            "unsupported",
        ]
    )
    assert all(hasattr(mapping, name) for name in mapping.__all__)
    assert mapping.SUPPORTED_FUNCTIONS < mapping.DOCUMENTED_FUNCTIONS
    assert set(DOC_FUNCTION_LIST.split()) == mapping.DOCUMENTED_FUNCTIONS


# The doc's "List of Functions".
DOC_FUNCTION_LIST = """
Append AppRoleAssignmentsComplex BitAnd CBool CDate Coalesce ConvertToBase64 ConvertToUTF8Hex Count
CStr DateAdd DateDiff DateFromNum FormatDateTime Guid IgnoreFlowIfNullOrEmpty IIF InStr IsNull
IsNullOrEmpty IsPresent IsString Item Join Left Mid NormalizeDiacritics Not Now NumFromDate PCase
RandomString Redact RemoveDuplicates Replace SelectUniqueValue SingleAppRoleAssignment Split
StripSpaces Switch ToLower ToUpper Word
"""


# --- the doc's examples, function by function ---------------------------------------------------


def test_append() -> None:
    upn = "John.Doe@contoso.com"
    assert one('Append([userPrincipalName], ".test")', userPrincipalName=upn) == upn + ".test"
    assert one('Append([userPrincipalName], ".test")', userPrincipalName=None) is None


def test_coalesce() -> None:
    expr = "Coalesce([mail],[userPrincipalName])"
    assert one(expr, mail=None, userPrincipalName="John.Doe@contoso.com") == "John.Doe@contoso.com"
    assert one(expr, mail="m@x.com", userPrincipalName="u@x.com") == "m@x.com"
    assert one(expr, mail=None, userPrincipalName=None) is None
    assert one('Coalesce([mail], [upn], "")', mail=None, upn=None) == ""
    assert one('Coalesce("", [mail])', mail="m@x.com") == ""  # "" is not NULL


def test_convert_functions() -> None:
    assert one('ConvertToBase64("Hello world!")') == "SABlAGwAbABvACAAdwBvAHIAbABkACEA"
    assert one('ConvertToUTF8Hex("Hello world!")') == "48656C6C6F20776F726C6421"


def test_iif_examples() -> None:
    expr = 'IIF([country]="USA",[country],[department])'
    assert one(expr, country="USA", department="Sales") == "USA"
    assert one(expr, country="NL", department="Sales") == "Sales"
    and_ = 'IIF([country]="USA",IIF([state]="CA","True","False"),"False")'
    or_ = 'IIF([country]="USA","True",IIF([state]="CA","True","False"))'
    rows = {"country": ["USA", "USA", "NL", "NL"], "state": ["CA", "WA", "CA", "WA"]}
    assert run(and_, **rows) == ["True", "False", "False", "False"]
    assert run(or_, **rows) == ["True", "True", "True", "False"]


@pytest.mark.parametrize(
    "expr",
    [
        'IIF([country]="","Other",[country])',
        'IIF(IsNullOrEmpty([country]),"Other",[country])',
        'IIF(IsPresent([country]),[country],"Other")',
    ],
)
def test_iif_condition_on_a_null_attribute_fails(expr: str) -> None:
    # Doc, IIF known limitations: "If the source attribute used within the IIF function is empty
    # or null, the condition check fails" - these three are listed as unsupported.
    assert run(expr, country=[None, "", "NL"]) == [None, None, "NL"]


def test_switch_is_the_docs_workaround_for_null() -> None:
    assert run('Switch([country],[country],"","Other")', country=[None, "", "NL"]) == [
        "Other",
        "Other",
        "NL",
    ]


def test_instr() -> None:
    assert one('InStr("The quick brown fox","quick")') == "5"
    assert one('InStr("repEated","e",3,vbBinaryCompare)') == "7"
    assert one('InStr("repEated","E",1,vbTextCompare)') == "2"
    assert one('InStr("abc","z")') == "0"
    assert one('InStr([a],"z")', a=None) is None
    with pytest.raises(ExpressionError, match="compareType"):
        one('InStr("a","b",1,vbSomething)')


def test_is_functions() -> None:
    values = {"displayName": [None, "", "Ann"]}  # an empty attribute is an absent one
    assert run("IsNull([displayName])", **values) == ["True", "True", "False"]
    assert one('IsNull(Left("abc", 0))') == "False"
    assert one('IsNullOrEmpty(Left("abc", 0))') == "True"
    assert run("IsNullOrEmpty([displayName])", **values) == ["True", "True", "False"]
    assert run("IsPresent([displayName])", **values) == ["False", "False", "True"]
    assert run("IsString([displayName])", **values) == ["False", "False", "True"]


def test_item_is_one_based() -> None:
    proxies = [["SMTP:a@x.com", "smtp:b@y.com"], None, []]
    assert run("Item([proxyAddresses], 1)", proxyAddresses=proxies) == ["SMTP:a@x.com", None, None]
    assert run("Item([proxyAddresses], 2)", proxyAddresses=proxies) == ["smtp:b@y.com", None, None]
    assert run("Item([proxyAddresses], 3)", proxyAddresses=proxies) == [None, None, None]
    assert run("Item([proxyAddresses], 0)", proxyAddresses=proxies) == [None, None, None]
    assert run('Item([proxyAddresses], "2")', proxyAddresses=proxies)[0] == "smtp:b@y.com"
    assert one("Item([mail], 1)", mail="single") == "single"


def test_join() -> None:
    expr = 'Join(", ", "", [surname], [givenName])'
    assert one(expr, givenName="John", surname="Doe") == "Doe, John"
    assert one(expr, givenName="John", surname=None) == "John"
    assert one(expr, givenName=None, surname=None) == ""
    assert one('Join("-", [a], [b])', a=None, b=None) is None
    assert one('Join("; ", [otherMails], "x")', otherMails=["a@x", "b@y"]) == "a@x; b@y; x"
    assert one('Join("", 1000, "7")') == "10007"


def test_left() -> None:
    assert one('Left("John Doe", 3)') == "Joh"
    assert one("Left([s], 0)", s="John") == ""
    assert one("Left([s], -1)", s="John") == "John"
    assert one("Left([s], 3)", s=None) == ""
    assert one("Left([s], 10)", s="John") == "John"


def test_mid_and_the_alias_example() -> None:
    expr = "Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))"
    assert one(expr, givenName="John", surname="Doe") == "JohDoe"
    assert one("Mid([s], 3, 100)", s="abcdef") == "cdef"
    assert one("Mid([s], 7, 1)", s="abcdef") == ""
    assert one("Mid([s], 0, 2)", s="abcdef") is None
    assert one("Mid([s], 2, 2)", s=None) is None


def test_mid_from_a_graph_schema_uses_string_numbers() -> None:
    assert one('Mid([userPrincipalName], "1", "8")', userPrincipalName="abcdefghij@x") == "abcdefgh"


# The NormalizeDiacritics table of the doc: normalized letter -> characters that map to it.
DIACRITICS_TABLE = {
    "a": "ä, à, â, ã, å, á, ą, ă, ā, ā́, ā̀, ā̂, ā̃, ǟ, ā̈, ǡ, a̱, å̄",
    "A": "Ä, À, Â, Ã, Å, Á, Ą, Ă, Ā, Ā́, Ā̀, Ā̂, Ā̃, Ǟ, Ā̈, Ǡ, A̱, Å̄",
    "ae": "æ, ǣ",
    "AE": "Æ, Ǣ",
    "c": "ç, č, ć, c̄, c̱",
    "C": "Ç, Č, Ć, C̄, C̱",
    "d": "ď, d̄, ḏ",
    "D": "Ď, D̄, Ḏ",
    "e": "ë, è, é, ê, ę, ě, ė, ē, ḗ, ḕ, ē̂, ē̃, ê̄, e̱, ë̄, e̊̄",
    "E": "Ë, È, É, Ê, Ę, Ě, Ė, Ē, Ḗ, Ḕ, Ē̂, Ē̃, Ê̄, E̱, Ë̄, E̊̄",
    "g": "ğ, ḡ, g̱",
    "G": "Ğ, Ḡ, G̱",
    "i": "ï, î, ì, í, ı, ī, ī́, ī̀, ī̂, ī̃, i̱",
    "I": "Ï, Î, Ì, Í, İ, Ī, Ī́, Ī̀, Ī̂, Ī̃, I̱",
    "l": "ľ, ł, l̄, ḹ, ḻ",
    "L": "Ł, Ľ, L̄, Ḹ, Ḻ",
    "n": "ñ, ń, ň, n̄, ṉ",
    "N": "Ñ, Ń, Ň, N̄, Ṉ",
    "o": "ö, ò, ő, õ, ô, ó, ō, ṓ, ṑ, ō̂, ō̃, ȫ, ō̈, ǭ, ȭ, ȱ, o̱",
    "O": "Ö, Ò, Ő, Õ, Ô, Ó, Ō, Ṓ, Ṑ, Ō̂, Ō̃, Ȫ, Ō̈, Ǭ, Ȭ, Ȱ, O̱",
    "oe": "ø, ø̄, œ̄",
    "OE": "Ø, Ø̄, Œ̄",
    "r": "ř, r̄, ṟ, ṝ",
    "R": "Ř, R̄, Ṟ, Ṝ",
    "ss": "ß",
    "s": "š, ś, ș, ş, s̄, s̱",
    "S": "Š, Ś, Ș, Ş, S̄, S̱",
    "t": "ť, ț, t̄, ṯ",
    "T": "Ť, Ț, T̄, Ṯ",
    "u": "ü, ù, û, ú, ů, ű, ū, ū́, ū̀, ū̂, ū̃, u̇̄, ǖ, ṻ, ṳ̄, u̱",
    "U": "Ü, Ù, Û, Ú, Ů, Ű, Ū, Ū́, Ū̀, Ū̂, Ū̃, U̇̄, Ǖ, Ṻ, Ṳ̄, U̱",
    "y": "ÿ, ý, ȳ, ȳ́, ȳ̀, ȳ̃, y̱",
    "Y": "Ÿ, Ý, Ȳ, Ȳ́, Ȳ̀, Ȳ̃, Y̱",
    "z": "ź, ž, ż, z̄, ẕ",
    "Z": "Ź, Ž, Ż, Z̄, Ẕ",
}


def test_normalize_diacritics_follows_the_whole_table() -> None:
    pairs = [
        (c.strip(), plain) for plain, chars in DIACRITICS_TABLE.items() for c in chars.split(",")
    ]
    got = run("NormalizeDiacritics([s])", s=[char for char, _ in pairs])
    assert got == [plain for _, plain in pairs]


def test_normalize_diacritics_example_and_other_scripts() -> None:
    assert one("NormalizeDiacritics([givenName])", givenName="Zoë") == "Zoe"
    assert (
        one("NormalizeDiacritics([s])", s="Jéssica Smith-Łukasiewicz")
        == "Jessica Smith-Lukasiewicz"
    )
    assert one("NormalizeDiacritics([s])", s="Йога が 한국") == "Йога が 한국"


def test_not_cbool_cstr() -> None:
    values = ["True", "False", "true", None, "yes"]
    assert run("Not([v])", v=values) == ["False", "True", "False", "True", "True"]
    assert run("CBool([v])", v=["True", "false", "0", "2", "-1.5", "yes", None]) == [
        "True",
        "False",
        "False",
        "True",
        "True",
        None,
        None,
    ]
    assert one("CBool([a] = [b])", a="x", b="x") == "True"
    assert one("CStr([dn])", dn="cn=Joe,dc=contoso,dc=com") == "cn=Joe,dc=contoso,dc=com"


def test_pcase_examples() -> None:
    assert (
        one("PCase([firstName])", firstName="PABLO GONSALVES (SECOND)")
        == "Pablo Gonsalves (Second)"
    )
    assert one('PCase([lastName]," \'-")', lastName="PINTO-DE'SILVA") == "Pinto-De'Silva"
    expr = 'PCase(Join(" ",[firstName],[lastName]))'
    assert one(expr, firstName="GREGORY", lastName="JAMES") == "Gregory James"
    assert one('PCase([s], " ")', s="anne-marie o'neil") == "Anne-marie O'neil"


@pytest.mark.parametrize(
    ("expr", "columns", "expected"),
    [
        (  # Example 1: oldValue and replacementValue
            'Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )',
            {"BusinessTitle": "Product Developer"},
            "Software Engineer",
        ),
        (  # Example 2: oldValue and template
            'Replace([UserID],"<username>", , , , , "<username>@contoso.com")',
            {"UserID": "jsmith"},
            "jsmith@contoso.com",
        ),
        (  # Example 3: regexPattern and replacementValue with a named group
            r'Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", , '
            r'"${phoneNumber}", , )',
            {"telephoneNumber": "+91 9998887777"},
            "9998887777",
        ),
        (
            r'Replace([mobile], , "[()\\s-]+", , "", , )',
            {"mobile": "+1 (999) 888-7777"},
            "+19998887777",
        ),
        (  # Example 4: regexPattern, regexGroupName and replacementValue
            r'Replace([AddressLineData], ,"(?<streetNumber>^\\d*)","streetNumber", "888", , )',
            {"AddressLineData": "545 Tremont Street"},
            "888 Tremont Street",
        ),
        (
            'Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )',
            {"userPrincipalName": "jsmith@contoso.com"},
            "jsmith",
        ),
        (  # Example 5: regexPattern, regexGroupName and replacementAttributeName
            r'Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", '
            r'"phoneNumber" , , [mobile], )',
            {"telephoneNumber": "", "mobile": "+91 8887779999"},
            "8887779999",
        ),
        (
            r'Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", '
            r'"phoneNumber" , , [mobile], )',
            {"telephoneNumber": "+1 555", "mobile": "+91 8887779999"},
            "+1 555",
        ),
        (  # Example 6
            'Replace([mailNickname], , "[a-zA-Z_]*", , "", , )',
            {"mailNickname": "john_doe72"},
            "72",
        ),
        (  # "Strip known domain name"
            'Replace([mail], "@contoso.com", , ,"", ,)',
            {"mail": "john.doe@contoso.com"},
            "john.doe",
        ),
    ],
)
def test_replace_examples(expr: str, columns: dict[str, str], expected: str) -> None:
    assert one(expr, **columns) == expected


def test_replace_details() -> None:
    assert one('Replace([s], "a", , , "b")', s="banana") == "bbnbnb"  # trailing slots may go
    assert one('Replace([s], "a", , , "b", , )', s=None) is None
    assert one('Replace([s], "a", , , [r], , )', s="banana", r="_") == "b_n_n_"
    assert one('Replace([s], "x", , , , , "<x>")', s="v") == "<v>"
    assert one('Replace([s], "x", , , , , "none")', s="v") == "none"
    assert one('Replace([s], , "(?<a>b)(?<b>c)", , "$2$1${a}$$$&$9", , )', s="abcd") == "acbb$bc$9d"
    assert one(r'Replace([s], , "(?<w>\\w)\\k<w>", , "<$1>", , )', s="aabcc") == "<a>b<c>"
    assert one(r'Replace([s], , "\\(?<x>", , "_", , )', s="(<x>") == "_"  # escaped paren
    assert one('Replace([s], , "[(?<x>]", , "_", , )', s="(x") == "__"  # inside a class


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ('Replace([s], , "(", , "x", , )', "cannot be used"),
        (r'Replace([s], , "\\p{L}", , "x", , )', "cannot be used"),
        ('Replace([s], , "(?<a>x)", "b", "x", , )', "not a group"),
        ('Replace([s], , "x", , , , )', "regexPattern"),
        ('Replace([s], "", , , "x", , )', "must not be empty"),
        ('Replace([s], "a", , , , , )', "replacementValue or template"),
        ("Replace([s])", "needs oldValue or regexPattern"),
        ('Replace([s], [s], , , "x", , )', "must be a constant"),
    ],
)
def test_replace_errors(expr: str, words: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(words)):
        one(expr, s="abc")


def test_split_count_remove_duplicates() -> None:
    got = one(
        'Split([extensionAttribute5], ",")',
        extensionAttribute5="PermissionSetOne, PermissionSetTwo",
    )
    assert got == ["PermissionSetOne", " PermissionSetTwo"]  # not trimmed (see fn_multi.split)
    assert one('Split([s], "")', s="a,b") == ["a,b"]
    assert one('Split([s], ",")', s=None) is None
    assert run("Count([m])", m=[["a", "b"], [], None]) == ["2", "0", "0"]
    assert one("Count([s])", s="x") == "1"
    proxies = ["SMTP:a@x", "smtp:b@x", "SMTP:a@x", "smtp:B@x"]
    assert (
        one("RemoveDuplicates([proxyAddresses])", proxyAddresses=proxies)
        == proxies[:2] + proxies[3:]
    )


def test_strip_spaces_and_case() -> None:
    assert one("StripSpaces([s])", s=" a b\tc ") == "ab\tc"
    assert one('ToLower([s], "tr-TR")', s="ÅSA İ") == "åsa i"
    assert one("ToUpper([s])", s="Straße ǆ") == "STRAßE Ǆ"
    expr = (
        'ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], '
        '[PreferredLastName]))), "contoso.com"))'
    )
    assert (
        one(expr, PreferredFirstName="John", PreferredLastName="Smith") == "john.smith@contoso.com"
    )


def test_switch_examples() -> None:
    expr = (
        'Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", '
        '"Australia/Brisbane", "SA", "Australia/Adelaide")'
    )
    assert run(expr, state=["QLD", "SA", "VIC", None, "qld"]) == [
        "Australia/Brisbane",
        "Australia/Adelaide",
        "Australia/Sydney",
        "Australia/Sydney",
        "Australia/Sydney",  # case-sensitive
    ]
    lower = 'Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")'
    assert run(lower, statusFlag=["True", "TRUE", "false", "x"]) == ["1", "1", "0", "0"]
    empty = 'Switch([statusFlag], "Default Value", "true", "1", "", "0")'
    assert run(empty, statusFlag=[None, "true", "x"]) == ["0", "1", "Default Value"]
    assert one('Switch([s], , "a", "b")', s="z") is None


def test_ignore_flow_if_null_or_empty_and_redact() -> None:
    expr = (
        'IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr.", "3444", "Prof.", '
        '"3445", "Prof. Dr."))'
    )
    assert run(expr, prefix=["3444", "9999", None]) == ["Prof.", None, None]
    assert one("Redact([userPrincipalName])", userPrincipalName="a@b") == "a@b"


def test_word() -> None:
    assert one('Word("The quick brown fox",3," ")') == "brown"
    assert one('Word("This,string!has&many separators",3,",!&#")') == "has"
    assert one('Word("a  b",2," ")') == "b"
    assert one('Word([s],1," ")', s=None) == ""
    assert one('Word("a b",0," ")') == ""
    assert one('Word("a b",3," ")') == ""


def test_comparisons() -> None:
    assert run("[a] = [b]", a=["x", "x", None], b=["x", "X", "x"]) == ["True", "False", None]
    assert one("Count([m]) > 1", m=["a", "b"]) == "True"
    assert one('"10" > "9"') == "True"  # numbers compare as numbers
    assert one('"b" > "a"') == "True"
    assert one('"a" <> "a"') == "False"
    assert one('"2" >= "2.0"') == "True"
    assert one('"abc" <= "abd"') == "True"


# --- the guests frame ---------------------------------------------------------------------------


def guests() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "object_id": ["id-1", "id-2", "id-3"],
            "provisioning_upn": ["ann@fabrikam.com", "bob@gmail.com", "cy@contoso.com"],
            "original_upn": [
                "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com",
                "bob_gmail.com#EXT#@contoso.onmicrosoft.com",
                "cy@contoso.com",
            ],
            "mail": pd.Series(["Ann@Fabrikam.com", None, ""], dtype="string"),
            "account_enabled": pd.Series([True, False, pd.NA], dtype="boolean"),
            "other_mails": [["ann@fabrikam.com"], [], None],
            "display_name": ['=HYPERLINK("x")', "<script>", "Cy"],
        }
    ).set_axis(pd.Index([10, 20, 30], name="row"))


def test_evaluate_over_the_guests_frame() -> None:
    frame = guests()
    upn = evaluate("[userPrincipalName]", frame)
    assert upn.dtype == "string"
    assert upn.index.equals(frame.index)
    assert upn.tolist() == ["ann@fabrikam.com", "bob@gmail.com", "cy@contoso.com"]
    assert (
        evaluate("[ORIGINALUSERPRINCIPALNAME]", frame)[20]
        == "bob_gmail.com#EXT#@contoso.onmicrosoft.com"
    )
    email = evaluate("Coalesce([mail], [userPrincipalName])", frame)
    assert email.tolist() == ["Ann@Fabrikam.com", "bob@gmail.com", "cy@contoso.com"]  # "" is absent
    key = evaluate('ToLower(Append(Item(Split([mail],"@"),1),"@x.com"))', frame)
    assert key.isna().tolist() == [False, True, True]
    assert key[10] == "ann@x.com"
    assert evaluate("[accountEnabled]", frame).tolist()[:2] == ["True", "False"]
    assert evaluate("[accountEnabled]", frame).isna().tolist() == [False, False, True]
    assert evaluate("Not([accountEnabled])", frame).tolist() == ["False", "True", "True"]
    multi = evaluate("[otherMails]", frame)
    assert multi.dtype == object
    assert multi[10] == ["ann@fabrikam.com"]
    assert multi.isna().tolist() == [False, True, True]
    assert evaluate("[displayName]", frame)[10] == '=HYPERLINK("x")'


def test_constants_and_empty_frames() -> None:
    frame = guests()
    assert evaluate('"x"', frame).tolist() == ["x", "x", "x"]
    assert evaluate('Split("a,b", ",")', frame).tolist() == [["a", "b"]] * 3
    empty = frame.iloc[:0]
    out = evaluate("Coalesce([mail], [userPrincipalName])", empty)
    assert len(out) == 0
    assert out.dtype == "string"


def test_default_attribute_columns_exist_in_the_column_contract() -> None:
    contract = (ROOT / "audit" / "COLUMNS.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_]+)`", contract))
    assert set(DEFAULT_ATTRIBUTE_COLUMNS.values()) <= documented
    assert DEFAULT_ATTRIBUTE_COLUMNS["userPrincipalName"] == "provisioning_upn"
    assert DEFAULT_ATTRIBUTE_COLUMNS["originalUserPrincipalName"] == "original_upn"


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("Now()", "not supported by the evaluator: Now"),
        ('DateAdd("d", 7, CDate([x]))', "attribute [x] has no column"),
        ("Guid()", "not supported by the evaluator: Guid"),
        ('CDate("2021-06-30")', "without a UTC offset"),
        ("SingleAppRoleAssignment([appRoleAssignments])", "SingleAppRoleAssignment"),
        ("Frobnicate([mail])", "unknown function(s): Frobnicate"),
        ("Append([mail])", "Append(source, suffix) cannot take 1 argument"),
        ('ToLower([mail], "en-US", "x")', "cannot take 3"),
        ("[jobTitle]", "attribute [jobTitle] has no column"),
        ("Split([mail], [mail])", "must be a constant"),
        ('Left([mail], "x")', "must be a whole number"),
        ("Left([mail], )", "must be a whole number"),
        ("ToLower([otherMails])", "multi-valued"),
        ('[otherMails] = "x"', "cannot compare"),
        ("Coalesce([otherMails], [mail])", "cannot mix"),
        ("Append([mail], vbTextCompare)", "bare word"),
        ('Switch([mail], "a", "b")', "Switch(source, defaultValue, key, value, ...) cannot take 3"),
        ("Append([mail]", "has no closing"),
    ],
)
def test_evaluate_errors(expr: str, words: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(words)) as caught:
        evaluate(expr, guests())
    assert caught.value.expression == expr


def test_an_attribute_whose_column_is_missing_is_reported() -> None:
    with pytest.raises(ExpressionError, match="'surname', absent from the frame"):
        evaluate("[surname]", guests())


def test_evaluate_accepts_a_tree() -> None:
    tree = Call("ToUpper", (Attribute("mail"),))
    assert evaluate(tree, guests())[10] == "ANN@FABRIKAM.COM"


def test_list_columns_tolerate_stray_scalars_and_arrays() -> None:
    import numpy as np

    frame = pd.DataFrame(
        {"m": pd.Series([np.array(["a", "b"]), "plain", (1, 2), pd.NA], dtype=object)}
    )
    got = evaluate('Join("|", [otherMails])', frame, attribute_columns={"otherMails": "m"})
    assert got.tolist()[:3] == ["a|b", "plain", "1|2"]


def test_sliced_arrow_list_columns() -> None:
    lists = pa.array([["a", "b"], ["c"], None, ["d", "e", "f"]], pa.list_(pa.string()))
    frame = pd.DataFrame({"m": pd.Series(pd.arrays.ArrowExtensionArray(lists))}).iloc[1:]
    columns = {"otherMails": "m"}
    assert evaluate("Item([otherMails], 2)", frame, attribute_columns=columns).isna().tolist() == [
        True,
        True,
        False,
    ]
    assert evaluate("Item([otherMails], 1)", frame, attribute_columns=columns)[3] == "d"


# --- Graph synchronizationSchema ----------------------------------------------------------------


def _source(
    kind: str, name: str, expression: str | None = None, **params: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": kind,
        "name": name,
        "parameters": [{"key": k, "value": v} for k, v in params.items()],
    }
    if expression is not None:
        out["expression"] = expression
    return out


def _mapping(
    target: str, source: dict[str, Any] | None, default: str | None = None, priority: int = 0
) -> dict[str, Any]:
    return {
        "targetAttributeName": target,
        "source": source,
        "defaultValue": default,
        "matchingPriority": priority,
        "flowType": "Always",
        "flowBehavior": "FlowWhenChanged",
        "exportMissingReferences": False,
    }


def salesforce_like_schema() -> dict[str, Any]:
    """A schema shaped like the Graph docs' objectMapping sample (salesforce.com gallery app)."""
    upn = _source("Attribute", "userPrincipalName", "[userPrincipalName]")
    user_mappings = [
        _mapping(
            "IsActive",
            _source(
                "Function",
                "Not",
                "Not([IsSoftDeleted])",
                source=_source("Attribute", "IsSoftDeleted"),
            ),
            "True",
        ),
        _mapping(
            "Alias",
            _source(
                "Function",
                "Mid",
                "Mid([userPrincipalName], 1, 8)",
                source=upn,
                start=_source("Constant", "1", '"1"'),
                length=_source("Constant", "8", '"8"'),
            ),
        ),
        _mapping("Email", _source("Attribute", "mail", "[mail]")),
        _mapping("EmailEncodingKey", None, "ISO-8859-1"),
        _mapping("LastName", _source("Attribute", "surname", "[surname]"), "."),
        _mapping(
            "LocaleSidKey",
            _source(
                "Function",
                "Replace",
                'Replace([preferredLanguage], "-", , , "_", , )',
                source=_source("Attribute", "preferredLanguage"),
                Find=_source("Constant", "-"),
                Replacement=_source("Constant", "_"),
            ),
            "en_US",
        ),
        _mapping(
            "ProfileName",
            _source(
                "Function",
                "SingleAppRoleAssignment",
                "SingleAppRoleAssignment([appRoleAssignments])",
            ),
            "Chatter Free User",
        ),
        _mapping("Username", upn, None, 1),
        _mapping("CommunityNickname", _source("Constant", 'say "hi"')),
        _mapping("FederationIdentifier", _source("Function", "toLower", None, source=upn)),
    ]
    group_mappings = [_mapping("Name", _source("Attribute", "displayName", "[displayName]"))]
    return {
        "synchronizationRules": [
            {
                "name": "USER_TO_USER",
                "sourceDirectoryName": "Azure Active Directory",
                "targetDirectoryName": "salesforce.com",
                "objectMappings": [
                    {
                        "sourceObjectName": "User",
                        "targetObjectName": "User",
                        "enabled": True,
                        "attributeMappings": user_mappings,
                    },
                    {
                        "sourceObjectName": "Group",
                        "targetObjectName": "Group",
                        "enabled": True,
                        "attributeMappings": group_mappings,
                    },
                    {
                        "sourceObjectName": "User",
                        "targetObjectName": "Contact",
                        "enabled": False,
                        "attributeMappings": group_mappings,
                    },
                ],
            }
        ]
    }


def test_mappings_from_schema() -> None:
    got = {m.target: m for m in mappings_from_schema(salesforce_like_schema())}
    assert list(got) == [
        "IsActive",
        "Alias",
        "Email",
        "EmailEncodingKey",
        "LastName",
        "LocaleSidKey",
        "ProfileName",
        "Username",
        "CommunityNickname",
        "FederationIdentifier",
    ]
    assert got["IsActive"] == AttributeMapping(
        "IsActive", "Not([IsSoftDeleted])", "Function", "True", 0
    )
    assert got["Email"].expression == "[mail]"
    assert got["EmailEncodingKey"] == AttributeMapping(
        "EmailEncodingKey", "", "None", "ISO-8859-1", 0
    )
    assert got["Username"].matching_priority == 1
    assert got["CommunityNickname"].expression == r'"say \"hi\""'
    assert got["FederationIdentifier"].expression == "ToLower([userPrincipalName])"
    assert unsupported(got["ProfileName"].expression) == {"SingleAppRoleAssignment"}


def test_schema_expressions_rebuilt_from_parameters_evaluate_the_same() -> None:
    schema = salesforce_like_schema()
    for raw in schema["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"]:
        if raw["source"] is not None:
            raw["source"].pop("expression", None)
    rebuilt = {m.target: m.expression for m in mappings_from_schema(schema)}
    assert rebuilt["LocaleSidKey"] == 'Replace([preferredLanguage], "-", , , "_")'
    assert rebuilt["Alias"] == 'Mid([userPrincipalName], "1", "8")'
    frame = pd.DataFrame({"upn": ["abcdefghij@x.com"], "lang": ["en-GB"]}, dtype="string")
    columns = {"userPrincipalName": "upn", "preferredLanguage": "lang"}
    assert evaluate(rebuilt["LocaleSidKey"], frame, attribute_columns=columns)[0] == "en_GB"
    assert evaluate(rebuilt["Alias"], frame, attribute_columns=columns)[0] == "abcdefgh"


def test_evaluate_mapping_applies_the_default_value_when_null() -> None:
    got = {m.target: m for m in mappings_from_schema(salesforce_like_schema())}
    frame = pd.DataFrame({"sn": pd.Series(["Doe", None], dtype="string")})
    columns = {"surname": "sn"}
    assert evaluate_mapping(got["LastName"], frame, attribute_columns=columns).tolist() == [
        "Doe",
        ".",
    ]
    constant = evaluate_mapping(got["EmailEncodingKey"], frame, attribute_columns=columns)
    assert constant.tolist() == ["ISO-8859-1", "ISO-8859-1"]
    no_source = AttributeMapping("x", "", "None", None, 0)
    assert evaluate_mapping(no_source, frame).isna().all()


def test_handmade_tenant_schema() -> None:
    path = ROOT / "tests" / "data" / "handmade" / "synchronizationSchema.json"
    mappings = mappings_from_schema(json.loads(path.read_text(encoding="utf-8")))
    by_target = {m.target: m for m in mappings}
    assert by_target["userName"].expression == "[userPrincipalName]"
    assert by_target["userName"].matching_priority == 1
    assert by_target['emails[type eq "work"].value'].expression == "[mail]"
    assert by_target["userName"].default_value is None  # "" means no default
    predicted = evaluate_mapping(by_target['emails[type eq "work"].value'], guests())
    assert predicted.isna().tolist() == [False, True, True]


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ([], "expected an object"),
        ({"synchronizationRules": {}}, "must be a list"),
        (
            {
                "synchronizationRules": [
                    {"objectMappings": [{"sourceObjectName": "User", "attributeMappings": [{}]}]}
                ]
            },
            "no targetAttributeName",
        ),
        (
            {
                "synchronizationRules": [
                    {
                        "objectMappings": [
                            {
                                "sourceObjectName": "User",
                                "attributeMappings": [
                                    {
                                        "targetAttributeName": "x",
                                        "source": {"type": "Weird", "name": "n"},
                                    }
                                ],
                            }
                        ]
                    }
                ]
            },
            "unknown type 'Weird'",
        ),
    ],
)
def test_malformed_schemas_are_input_errors(schema: Any, words: str) -> None:
    with pytest.raises(InputError, match=re.escape(words)) as caught:
        mappings_from_schema(schema, source="schema.json")
    assert caught.value.path == "schema.json"
