"""The expression reference's own examples for the functions added with the engine simulation,
partial evaluation, scoping filters and the quarantine forecast.

Examples are quoted from Microsoft Learn: functions-for-customizing-application-data (the ids E..
are those of /work/notes/engine-research.md §1.4), define-conditional-rules-for-provisioning-user-
accounts and application-provisioning-quarantine-status. Where the page's output does not follow
from its own definition, the test pins the definition and says so.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

from audit.analysis.quarantine import forecast
from audit.errors import ExpressionError
from audit.mapping import evaluate
from audit.mapping.partial import evaluate_partial
from audit.mapping.scope import evaluate_scope, scope_filter


def frame(**columns: list[Any]) -> pd.DataFrame:
    if not columns:
        return pd.DataFrame(index=range(1))
    return pd.DataFrame({k: pd.Series(v, dtype="string") for k, v in columns.items()})


def one(expression: str, **values: Any) -> Any:
    data = frame(**{k: [v] for k, v in values.items()})
    result = evaluate(expression, data, attribute_columns={k: k for k in values})
    value = result.iloc[0]
    return None if value is pd.NA else value


@pytest.mark.parametrize(
    ("expression", "values", "expected"),
    [
        # E02 BitAnd(&HF, &HF7) = 7 (the page's binary text writes &HF as 00000111; 15 & 247 is 7)
        ("BitAnd(&HF, &HF7)", {}, "7"),
        # E04-E06 CDate
        ("CDate([StatusHireDate])", {"StatusHireDate": "2020-03-16-07:00"}, "3/16/2020 7:00:00 AM"),
        ('CDate("2021-06-30+08:00")', {}, "6/29/2021 4:00:00 PM"),
        ('CDate("2009-06-15T01:45:30-07:00")', {}, "6/15/2009 8:45:30 AM"),
        # E11-E15 DateAdd
        (
            'DateAdd("d", 7, CDate([StatusHireDate]))',
            {"StatusHireDate": "2012-03-16-07:00"},
            "3/23/2012 7:00:00 AM",
        ),
        (
            'DateAdd("d", -10, CDate([StatusHireDate]))',
            {"StatusHireDate": "2012-03-16-07:00"},
            "3/6/2012 7:00:00 AM",
        ),
        (
            'DateAdd("ww", 2, CDate([StatusHireDate]))',
            {"StatusHireDate": "2012-03-16-07:00"},
            "3/30/2012 7:00:00 AM",
        ),
        (
            'DateAdd("m", 10, CDate([StatusHireDate]))',
            {"StatusHireDate": "2012-03-16-07:00"},
            "1/16/2013 7:00:00 AM",
        ),
        (
            'DateAdd("yyyy", 2, CDate([StatusHireDate]))',
            {"StatusHireDate": "2012-03-16-07:00"},
            "3/16/2014 7:00:00 AM",
        ),
        # E16-E24 DateDiff (the table's date1/date2 pairs)
        ('DateDiff("d", CDate("2021-08-18+08:00"), CDate("2021-08-31+08:00"))', {}, "13"),
        ('DateDiff("d", "8/25/2021 5:41:18 PM", CDate("2012-03-16-07:00"))', {}, "-3449"),
        ('DateDiff("ww", "8/25/2021 5:41:18 PM", CDate("2012-03-16-07:00"))', {}, "-493"),
        ('DateDiff("m", "8/25/2021 5:41:18 PM", CDate("2012-03-16-07:00"))', {}, "-113"),
        ('DateDiff("yyyy", "8/25/2021 5:41:18 PM", CDate("2012-03-16-07:00"))', {}, "-9"),
        ('DateDiff("d", CDate("2021-08-31+08:00"), CDate("2021-08-31+08:00"))', {}, "0"),
        ('DateDiff("h", CDate("2021-08-24Z"), CDate("2021-08-25Z"))', {}, "24"),
        ('DateDiff("n", CDate("2021-08-24Z"), CDate("2021-08-25Z"))', {}, "1440"),
        ('DateDiff("s", CDate("2021-08-24Z"), CDate("2021-08-25Z"))', {}, "86400"),
        # E26 DateFromNum: "a DateTime representing January 1, 2012 at 11:00PM"
        ("DateFromNum(129699324000000000)", {}, "1/1/2012 11:00:00 PM"),
        # E27 FormatDateTime
        (
            'FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")',
            {"extensionAttribute1": "20150123105347.1Z"},
            "2015-01-23",
        ),
        # E44's NumFromDate input, written with its offset: 2020-12-31 23:59:59 -08:00
        ('NumFromDate("2020-12-31 23:59:59-08:00")', {}, "132539615990000000"),
        ('NumFromDate(Join("", "2020-12-31", " 23:59:59-08:00"))', {}, "132539615990000000"),
    ],
)
def test_documented_examples(expression: str, values: dict[str, str], expected: str) -> None:
    assert one(expression, **values) == expected


def test_num_from_date_round_trips_date_from_num() -> None:
    assert one("DateFromNum(NumFromDate([x]))", x="2012-01-01T23:00:00Z") == "1/1/2012 11:00:00 PM"


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ('CDate("2021-06-30")', "without a UTC offset"),
        ('CDate("yesterday")', "not a date/time"),
        ('DateAdd("q", 1, CDate("2021-06-30Z"))', "interval 'q' is not one of the documented"),
        ('FormatDateTime("2021-06-30", "AdjustToUniversal", "yyyy-MM-dd", "dd")', "dateTimeStyles"),
        ('FormatDateTime("2021-06-30+02:00", , "yyyy-MM-ddzzz", "dd")', "offset"),
        ('FormatDateTime("06-30", , "MM-dd", "dd")', "full date"),
        ('BitAnd("x", 1)', "not a whole number"),
    ],
)
def test_what_the_page_leaves_open_is_refused_not_guessed(expression: str, words: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(words)):
        evaluate(expression, frame())


@pytest.mark.parametrize(
    "expression",
    ["Now()", "Guid()", "RandomString(6,3,0,0,3)", "SelectUniqueValue([mail], [mail])"],
)
def test_non_deterministic_functions_are_unknown(expression: str) -> None:
    got = evaluate_partial(expression, frame(mail=["a@b.c"]), attribute_columns={"mail": "mail"})
    assert not got.known.any()
    assert got.reasons


def test_partial_evaluation_reaches_only_the_rows_that_need_it() -> None:
    data = frame(mail=["a@p.com", None], country=["USA", "FR"])
    columns = {"mail": "mail", "country": "country"}
    coalesce = evaluate_partial(
        "Coalesce([mail], [extension_0123456789abcdef0123456789abcdef_x])",
        data,
        attribute_columns=columns,
    )
    assert coalesce.known.tolist() == [True, False]
    assert coalesce.values.iloc[0] == "a@p.com"
    assert coalesce.reasons == ("[extension_0123456789abcdef0123456789abcdef_x] was not collected",)
    iif = evaluate_partial('IIF([country]="USA", [mail], Now())', data, attribute_columns=columns)
    assert iif.known.tolist() == [True, False]
    switch = evaluate_partial(
        'Switch([country], Guid(), "USA", "us", "FR", "fr")', data, attribute_columns=columns
    )
    assert switch.known.tolist() == [True, True]
    assert switch.values.tolist() == ["us", "fr"]
    user_type = evaluate_partial("[userType]", data, attribute_columns=columns)
    assert "not a source attribute" in user_type.reasons[0]


def _scope(*groups: list[tuple[str, str, list[str]]]) -> Any:
    return scope_filter(
        {
            "groups": [
                {
                    "name": f"f{i}",
                    "clauses": [
                        {
                            "operatorName": op,
                            "sourceOperandName": attr,
                            "targetOperand": {"values": vals},
                        }
                        for attr, op, vals in clauses
                    ],
                }
                for i, clauses in enumerate(groups, start=1)
            ]
        }
    )


def verdicts(scope: Any, **columns: list[Any]) -> list[Any]:
    data = frame(**columns)
    got = evaluate_scope(scope, data, attribute_columns={k: k for k in columns})
    return [None if v is pd.NA else v for v in got.in_scope]


@pytest.mark.parametrize(
    ("clause", "values", "expected"),
    [
        # "EQUALS ... matches the input string value exactly (case sensitive)"
        (("department", "EQUALS", ["Sales"]), ["Sales", "sales", None], [True, False, False]),
        (("department", "NOT_EQUALS", ["Sales"]), ["Sales", "Ops", None], [False, True, False]),
        # "Includes ... contains the string value (case sensitive)"
        (("department", "Includes", ["ale"]), ["Sales", "SALES", None], [True, False, False]),
        # IS NULL "is empty" (true for null), IS NOT NULL "isn't empty"
        (("department", "IS NULL", []), ["x", None], [False, True]),
        (("department", "IS NOT NULL", []), ["x", None], [True, False]),
        # IS TRUE / IS FALSE on a Boolean value
        (("flag", "IS TRUE", []), ["True", "False", None], [True, False, False]),
        (("flag", "IS FALSE", []), ["True", "False", None], [False, True, False]),
        # Greater_Than: "must be an integer"
        (("level", "Greater_Than", ["5"]), ["7", "5", "x", None], [True, False, None, False]),
        (("level", "Greater_Than_OR_EQUALS", ["5"]), ["5", "4"], [True, False]),
        # ENDS_WITH / & / !& : case sensitivity not documented -> unknown where it matters
        (("mail", "ENDS_WITH", [".com"]), ["a@b.com", "a@b.COM", "a@b.org"], [True, None, False]),
        (("mail", "&", ["a@b.com;c@d.com"]), ["a@b.com", "A@B.COM", "x@y.z"], [True, None, False]),
        (("mail", "!&", ["a@b.com"]), ["a@b.com", "x@y.z", None], [False, True, False]),
        # REGEX MATCH: the page's ([1-9][0-9]) "matches any number between 10 and 99"; whether a
        # partial match counts is not documented: "123" is unknown
        (("workerID", "REGEX MATCH", ["([1-9][0-9])"]), ["42", "7", "123"], [True, False, None]),
        # NOT REGEX MATCH "returns false if the attribute is null / empty"
        (
            ("upn", "NOT REGEX MATCH", [".*@domain\\.com"]),
            ["a@domain.com", "a@x.com", None],
            [False, True, False],
        ),
        # an operator the documentation does not list
        (("department", "Present", []), ["x"], [None]),
    ],
)
def test_scoping_filter_operators(
    clause: tuple[str, str, list[str]], values: list[Any], expected: list[Any]
) -> None:
    assert verdicts(_scope([clause]), **{clause[0]: values}) == expected


def test_groups_are_ored_and_clauses_anded() -> None:
    """ "If multiple scoping filters are present, they're evaluated together by using OR logic";
    within one, AND; an unknown clause leaves a row unknown only when nothing else decides it."""
    scope = _scope(
        [("department", "EQUALS", ["Sales"]), ("country", "EQUALS", ["US"])],
        [("department", "EQUALS", ["Ops"])],
        [("department", "ENDS_WITH", ["X"])],
    )
    got = verdicts(
        scope,
        department=["Sales", "Sales", "Ops", "Mkt", "MKT-x"],
        country=["US", "FR", None, "US", "US"],
    )
    assert got == [True, False, True, False, None]


def test_unsupported_attributes_and_multi_valued_ones_are_unknown() -> None:
    scope = _scope([("userType", "EQUALS", ["Guest"])])
    assert verdicts(scope, userType=["Guest"]) == [None]
    multi = scope_filter(
        {
            "groups": [
                {
                    "name": "m",
                    "clauses": [
                        {
                            "operatorName": "IS NOT NULL",
                            "sourceOperandName": "otherMails",
                            "targetOperand": {"values": []},
                        }
                    ],
                }
            ]
        }
    )
    data = pd.DataFrame({"other": pd.Series([["a@b.c"]], dtype=object)})
    got = evaluate_scope(multi, data, attribute_columns={"otherMails": "other"})
    assert got.in_scope.isna().all()
    assert "multi-valued" in str(got.unknown_reason.iloc[0])


def test_input_filter_groups_also_filter() -> None:
    """inputFilterGroups "filter out objects at the early stage of reading them"."""
    scope = scope_filter(
        {
            "groups": [{"name": "all", "clauses": []}],
            "inputFilterGroups": [
                {
                    "name": "in",
                    "clauses": [
                        {
                            "operatorName": "EQUALS",
                            "sourceOperandName": "d",
                            "targetOperand": {"values": ["x"]},
                        }
                    ],
                }
            ],
        }
    )
    assert verdicts(scope, d=["x", "y"]) == [True, False]


@pytest.mark.parametrize(
    ("blocked", "ready", "unknown", "expected"),
    [
        (4_000, 0, 0, False),  # "a job with 4,000 failures wouldn't go into quarantine"
        (45_000, 0, 0, True),  # "45,000 failed" -> more than 40,000
        (30_000, 5_000, 0, True),  # "30,000 users failed provisioning and 5,000 were successful"
        (20_000, 100_000, 0, False),  # "20,000 failures and 100,000 success wouldn't"
        (6_000, 10_000, 5_000, None),  # 28.6 % or 52.4 %: it depends on the unknown ones
    ],
)
def test_quarantine_forecast_follows_the_documented_examples(
    blocked: int, ready: int, unknown: int, expected: bool | None
) -> None:
    outcomes = pd.Series(["blocked"] * blocked + ["ready"] * ready + ["unknown"] * unknown)
    assert forecast(outcomes).would_quarantine is expected
