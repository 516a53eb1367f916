"""Date functions (CDate, DateAdd, DateDiff, DateFromNum, FormatDateTime, NumFromDate) and BitAnd.

Source: "Reference for writing expressions for attribute mappings in Microsoft Entra ID"
(https://learn.microsoft.com/entra/identity/app-provisioning/functions-for-customizing-application-data).

A DateTime flows as the text the page documents for CDate, DateAdd and Now: UTC, in the .NET
format ``M/d/yyyy h:mm:ss tt`` ("3/16/2020 7:00:00 AM"). The interval codes of DateAdd and
DateDiff (``yyyy m d ww h n s``) are those of Visual Basic's ``DateInterval``; DateDiff counts as
Visual Basic's ``DateAndTime.DateDiff`` does (whole units of the time span for d/h/n/s, calendar
boundaries for m/yyyy, weeks between the weeks' starting Sundays for ww), which reproduces every
output the page lists, including ``ww`` = -493 for a span of -492.8 weeks.

Where the page leaves a value open the row is *unknown* (:class:`~audit.mapping._args.Partly`),
never guessed: a date/time text without a UTC offset (the service's own time zone is not
documented), text that is not a date, a result outside years 1-9999, ``FormatDateTime`` with a
``dateTimeStyles`` value (its text form is not documented) or an input format holding an offset
(``z``, ``K``: the conversion it implies is not documented), or a format without a full date
(.NET fills in the current date). Every function works once per distinct value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from audit.mapping import _arrow as ar
from audit.mapping._args import Args, Partly
from audit.mapping.dotnet_dates import (
    EPOCH_1601,
    DateUnknown,
    dotnet_tokens,
    format_utc,
    input_regex,
    moment_of,
    parse_datetime,
    write_tokens,
)

__all__ = ["DATE_FUNCTIONS"]


def _per_value(func: Callable[..., str | None], why: str, *arrays: ar.Array) -> ar.Array | Partly:
    """``func`` once per distinct combination of the arrays' values; ``DateUnknown`` marks rows."""
    columns = [array.to_pylist() for array in arrays]
    results: dict[tuple[object, ...], object] = {}
    values: list[str | None] = []
    unknown = np.zeros(len(columns[0]) if columns else 0, dtype=bool)
    reasons: set[str] = set()
    for row, key in enumerate(zip(*columns, strict=True)):
        if key not in results:
            results[key] = _one(func, key)
        found = results[key]
        if isinstance(found, DateUnknown):
            unknown[row] = True
            reasons.add(str(found))
            values.append(None)
        else:
            values.append(found)  # type: ignore[arg-type]
    array = ar.from_texts(values)
    if not unknown.any():
        return array
    return Partly(array, unknown, f"{why}: {'; '.join(sorted(reasons))}")


def _one(func: Callable[..., str | None], key: tuple[object, ...]) -> object:
    if any(value is None for value in key):
        return None  # a null argument gives null (the attribute does not flow)
    try:
        return func(*key)
    except DateUnknown as exc:
        return exc
    except (OverflowError, ValueError) as exc:
        return DateUnknown(f"out of range ({exc})")


def cdate(a: Args) -> ar.Array | Partly:
    """``CDate(expression)``: "returns a UTC DateTime from a string" in the format
    "M/d/yyyy h:mm:ss tt" (``CDate("2021-06-30+08:00")`` = "6/29/2021 4:00:00 PM")."""
    return _per_value(lambda text: format_utc(parse_datetime(text)), "CDate", a[0].text())


_ADD: dict[str, Callable[[datetime, int], datetime]] = {
    "yyyy": lambda moment, n: _month_shift(moment, 12 * n),
    "m": lambda moment, n: _month_shift(moment, n),
    "ww": lambda moment, n: moment + timedelta(weeks=n),
    "d": lambda moment, n: moment + timedelta(days=n),
    "h": lambda moment, n: moment + timedelta(hours=n),
    "n": lambda moment, n: moment + timedelta(minutes=n),
    "s": lambda moment, n: moment + timedelta(seconds=n),
}


def _month_shift(moment: datetime, months: int) -> datetime:
    """.NET ``AddMonths``: the day is clamped to the length of the resulting month."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    last = (following - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last))


def _interval(a: Args, index: int, table: dict[str, object]) -> str:
    code = a[index].constant_text() or ""
    if code not in table:
        documented = ", ".join(table)
        raise a.fail(f"interval {code!r} is not one of the documented codes ({documented})")
    return code


def _whole(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise DateUnknown(f"{text!r} is not a whole number") from None


def date_add(a: Args) -> ar.Array | Partly:
    """``DateAdd(interval, value, dateTime)``: "a date/time string representing a date to which
    a specified time interval is added", "M/d/yyyy h:mm:ss tt" (e.g. ``DateAdd("m", 10, ...)``)."""
    add = _ADD[_interval(a, 0, _ADD)]  # type: ignore[arg-type]

    def one(value: str, moment: str) -> str:
        return format_utc(add(parse_datetime(moment), _whole(value)))

    return _per_value(one, "DateAdd", a[1].text(), a[2].text())


def _fix(value: float) -> int:
    """Visual Basic's ``Fix``: the whole part, rounded toward zero."""
    return int(value)


def _vb_div(left: int, right: int) -> int:
    """Visual Basic's integer division ``\\``: truncates toward zero."""
    quotient = abs(left) // right
    return quotient if left >= 0 else -quotient


def _sunday_before(moment: datetime) -> datetime:
    return moment - timedelta(days=(moment.weekday() + 1) % 7)


_DIFF: dict[str, Callable[[datetime, datetime], int]] = {
    "yyyy": lambda one, two: two.year - one.year,
    "m": lambda one, two: (two.year - one.year) * 12 + two.month - one.month,
    "ww": lambda one, two: _vb_div(
        _fix((_sunday_before(two) - _sunday_before(one)) / timedelta(days=1)), 7
    ),
    "d": lambda one, two: _fix((two - one) / timedelta(days=1)),
    "h": lambda one, two: _fix((two - one) / timedelta(hours=1)),
    "n": lambda one, two: _fix((two - one) / timedelta(minutes=1)),
    "s": lambda one, two: _fix((two - one) / timedelta(seconds=1)),
}


def date_diff(a: Args) -> ar.Array | Partly:
    """``DateDiff(interval, date1, date2)``: "a positive number if date2 > date1, a negative
    number if date2 < date1, 0 if date2 == date1" (Visual Basic's counting; module docstring)."""
    diff = _DIFF[_interval(a, 0, _DIFF)]  # type: ignore[arg-type]

    def one(first: str, second: str) -> str:
        return str(diff(parse_datetime(first), parse_datetime(second)))

    return _per_value(one, "DateDiff", a[1].text(), a[2].text())


def date_from_num(a: Args) -> ar.Array | Partly:
    """``DateFromNum(value)``: "converts a value in AD's date format to a DateTime type" (100 ns
    ticks since 1601-01-01 UTC: 129699324000000000 is January 1, 2012 at 11:00 PM)."""

    def one(value: str) -> str:
        return format_utc(EPOCH_1601 + timedelta(microseconds=_whole(value) // 10))

    return _per_value(one, "DateFromNum", a[0].text())


def num_from_date(a: Args) -> ar.Array | Partly:
    """``NumFromDate(value)``: "converts a DateTime value to Active Directory format"; value is a
    "Date time string in ISO 8601 format" (an offset is needed: module docstring)."""

    def one(text: str) -> str:
        span = parse_datetime(text, own_format=False) - EPOCH_1601
        return str((span // timedelta(microseconds=1)) * 10)

    return _per_value(one, "NumFromDate", a[0].text())


def bit_and(a: Args) -> ar.Array | Partly:
    """``BitAnd(value1, value2)``: the bitwise AND of two numbers (``BitAnd(&HF, &HF7)`` = 7)."""
    return _per_value(lambda x, y: str(_whole(x) & _whole(y)), "BitAnd", a[0].text(), a[1].text())


def format_date_time(a: Args) -> ar.Array | Partly:
    """``FormatDateTime(source, dateTimeStyles, inputFormat, outputFormat)``: "Takes a date
    string from one format and converts it into a different format" (.NET custom formats;
    ``FormatDateTime([x], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")`` of "20150123105347.1Z" is
    "2015-01-23"). The three-argument form of older Graph samples is (source, input, output).
    """
    shift = 1 if len(a) >= 4 else 0
    if shift and a[1].present:
        why = "FormatDateTime: the text form of dateTimeStyles is not documented"
        return Partly(ar.nulls(a.size), np.ones(a.size, dtype=bool), why)
    source_format = a[1 + shift].constant_text() or ""
    output_format = a[2 + shift].constant_text() or ""
    try:
        regex = input_regex(dotnet_tokens(source_format))
    except DateUnknown as exc:
        return Partly(ar.nulls(a.size), np.ones(a.size, dtype=bool), f"FormatDateTime: {exc}")
    output = dotnet_tokens(output_format)

    def one(text: str) -> str:
        found = regex.match(text)
        if found is None:
            raise DateUnknown(f"{text!r} does not match {source_format!r}")
        return write_tokens(output, moment_of(found))

    return _per_value(one, "FormatDateTime", a[0].text())


DATE_FUNCTIONS: dict[str, Callable[[Args], ar.Array | Partly]] = {
    "CDate": cdate,
    "DateAdd": date_add,
    "DateDiff": date_diff,
    "DateFromNum": date_from_num,
    "NumFromDate": num_from_date,
    "FormatDateTime": format_date_time,
    "BitAnd": bit_and,
}
