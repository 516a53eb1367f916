""".NET date and time text for the date functions: the DateTime form the expression reference
documents (``M/d/yyyy h:mm:ss tt``, UTC), ISO 8601 input, and .NET custom date and time format strings
(https://learn.microsoft.com/dotnet/standard/base-types/custom-date-and-time-format-strings,
invariant culture) for FormatDateTime. A value whose result the documentation leaves open raises
:class:`DateUnknown` (the caller marks the row unknown).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = [
    "EPOCH_1601",
    "DateUnknown",
    "dotnet_tokens",
    "format_utc",
    "input_regex",
    "moment_of",
    "parse_datetime",
    "write_tokens",
]


class DateUnknown(Exception):
    """One value whose result the documentation leaves open (the row becomes unknown)."""


EPOCH_1601 = datetime(1601, 1, 1, tzinfo=UTC)
_NO_OFFSET = "a date/time without a UTC offset (the service's time zone is not documented)"
_ISO = re.compile(
    r"^\s*(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?)?)?"
    r"\s*(?P<z>Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
_US = re.compile(
    r"^\s*(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})"
    r"(?: (?P<h>\d{1,2}):(?P<mi>\d{2}):(?P<s>\d{2}) (?P<ampm>AM|PM))?\s*$"
)


def format_utc(moment: datetime) -> str:
    """A UTC moment as the page writes DateTime values: ``M/d/yyyy h:mm:ss tt``."""
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (
        f"{moment.month}/{moment.day}/{moment.year} "
        f"{hour}:{moment.minute:02d}:{moment.second:02d} {half}"
    )


def parse_datetime(text: str, *, own_format: bool = True) -> datetime:
    """A UTC moment from ISO 8601 text with an offset (``2009-06-15T01:45:30-07:00``, or a date
    only: ``2020-03-16-07:00``), or from the DateTime text this module writes (UTC by
    construction; only when ``own_format``). Raises ``DateUnknown`` otherwise.
    """
    found = _ISO.match(text)
    if found is not None:
        return _iso_moment(found)
    us = _US.match(text) if own_format else None
    if us is None:
        raise DateUnknown(f"{text!r} is not a date/time the tool can read")
    hour = int(us["h"] or 0) % 12 + (12 if us["ampm"] == "PM" else 0)
    try:
        return datetime(
            int(us["y"]), int(us["mo"]), int(us["d"]), hour, int(us["mi"] or 0), int(us["s"] or 0),
            tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        raise DateUnknown(f"{text!r} is not a valid date") from None


def _iso_moment(found: re.Match[str]) -> datetime:
    zone = found["z"]
    if zone is None:
        raise DateUnknown(_NO_OFFSET)
    try:
        local = datetime(
            int(found["y"]), int(found["mo"]), int(found["d"]), int(found["h"] or 0),
            int(found["mi"] or 0), int(found["s"] or 0), int((found["f"] or "0").ljust(6, "0")[:6]),
        )  # fmt: skip
    except ValueError:
        raise DateUnknown(f"{found.string!r} is not a valid date") from None
    if zone.upper() == "Z":
        return local.replace(tzinfo=UTC)
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (local - offset if zone[0] == "+" else local + offset).replace(tzinfo=UTC)


_SPECIFIERS = re.compile(
    r"yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|f{1,7}|F{1,7}|tt|t|zzz|zz|z|K"
)
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_Token = tuple[str, str]  # ("spec", "yyyy") or ("text", "-")


def dotnet_tokens(fmt: str) -> list[_Token]:
    """A .NET custom date/time format string as specifiers and literal text (invariant culture:
    ``/`` and ``:`` are themselves; quotes and ``\\`` escape; ``%`` marks a lone specifier)."""
    tokens: list[_Token] = []
    at = 0
    while at < len(fmt):
        char = fmt[at]
        if char in "'\"":
            end = fmt.find(char, at + 1)
            end = len(fmt) if end < 0 else end
            tokens.append(("text", fmt[at + 1 : end]))
            at = end + 1
        elif char == "\\":
            tokens.append(("text", fmt[at + 1 : at + 2]))
            at += 2
        elif char == "%":
            at += 1
        else:
            found = _SPECIFIERS.match(fmt, at)
            tokens.append(("spec", found.group()) if found else ("text", char))
            at = found.end() if found else at + 1
    return tokens


_PATTERNS: dict[str, str] = {
    "yyyy": r"(?P<y>\d{4})",
    "yy": r"(?P<yy>\d{2})",
    "MMMM": "(?P<MMMM>" + "|".join(_MONTHS) + ")",
    "MMM": "(?P<MMM>" + "|".join(m[:3] for m in _MONTHS) + ")",
    "MM": r"(?P<M>\d{2})",
    "M": r"(?P<M>\d{1,2})",
    "dddd": "(?:" + "|".join(_DAYS) + ")",
    "ddd": "(?:" + "|".join(d[:3] for d in _DAYS) + ")",
    "dd": r"(?P<d>\d{2})",
    "d": r"(?P<d>\d{1,2})",
    "HH": r"(?P<H>\d{2})",
    "H": r"(?P<H>\d{1,2})",
    "hh": r"(?P<h>\d{2})",
    "h": r"(?P<h>\d{1,2})",
    "mm": r"(?P<m>\d{2})",
    "m": r"(?P<m>\d{1,2})",
    "ss": r"(?P<s>\d{2})",
    "s": r"(?P<s>\d{1,2})",
    "tt": r"(?P<tt>AM|PM)",
    "t": r"(?P<t>A|P)",
}


def input_regex(tokens: list[_Token]) -> re.Pattern[str]:
    parts: list[str] = []
    seen: set[str] = set()
    for kind, text in tokens:
        if kind == "text":
            parts.append(re.escape(text))
            continue
        if text[0] in "zK":
            raise DateUnknown("an input format with an offset (the conversion is not documented)")
        if text[0] in "fF":
            parts.append(rf"(?P<f>\d{{{len(text) if text[0] == 'f' else '0,' + str(len(text))}}})")
            continue
        pattern = _PATTERNS[text]
        group = re.match(r"\(\?P<(\w+)>", pattern)
        if group is not None and group[1] in seen:
            raise DateUnknown(f"the input format repeats {text!r}")
        if group is not None:
            seen.add(group[1])
        parts.append(pattern)
    if not {"d"} <= seen or not seen & {"y", "yy"} or not seen & {"M", "MMM", "MMMM"}:
        raise DateUnknown("an input format without a full date (.NET fills in the current date)")
    return re.compile("^" + "".join(parts) + "$")


def moment_of(found: re.Match[str]) -> datetime:
    parts = found.groupdict()
    year = int(parts["y"]) if parts.get("y") else _two_digit_year(int(parts["yy"]))
    if parts.get("MMMM") or parts.get("MMM"):
        name = parts.get("MMMM") or parts["MMM"]
        month = next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(name))
    else:
        month = int(parts["M"])
    hour = int(parts.get("H") or 0)
    if parts.get("h"):
        half = parts.get("tt") or ((parts.get("t") or "A") + "M")
        hour = int(parts["h"]) % 12 + (12 if half == "PM" else 0)
    fraction = int((parts.get("f") or "0").ljust(6, "0")[:6])
    minute, second = int(parts.get("m") or 0), int(parts.get("s") or 0)
    return datetime(year, month, int(parts["d"]), hour, minute, second, fraction)


def _two_digit_year(value: int) -> int:
    """.NET's invariant calendar: two-digit years up to 49 are 20xx (TwoDigitYearMax 2049)."""
    return 2000 + value if value <= 49 else 1900 + value


_WRITE: dict[str, Callable[[datetime], str]] = {
    "yyyy": lambda t: f"{t.year:04d}",
    "yy": lambda t: f"{t.year % 100:02d}",
    "MMMM": lambda t: _MONTHS[t.month - 1],
    "MMM": lambda t: _MONTHS[t.month - 1][:3],
    "MM": lambda t: f"{t.month:02d}",
    "M": lambda t: str(t.month),
    "dddd": lambda t: _DAYS[t.weekday()],
    "ddd": lambda t: _DAYS[t.weekday()][:3],
    "dd": lambda t: f"{t.day:02d}",
    "d": lambda t: str(t.day),
    "HH": lambda t: f"{t.hour:02d}",
    "H": lambda t: str(t.hour),
    "hh": lambda t: f"{t.hour % 12 or 12:02d}",
    "h": lambda t: str(t.hour % 12 or 12),
    "mm": lambda t: f"{t.minute:02d}",
    "m": lambda t: str(t.minute),
    "ss": lambda t: f"{t.second:02d}",
    "s": lambda t: str(t.second),
    "tt": lambda t: "AM" if t.hour < 12 else "PM",
    "t": lambda t: "A" if t.hour < 12 else "P",
}


def write_tokens(tokens: list[_Token], moment: datetime) -> str:
    out: list[str] = []
    for kind, text in tokens:
        if kind == "text":
            out.append(text)
        elif text[0] in "zK":
            raise DateUnknown("an output offset (the value's time zone is not documented)")
        elif text[0] in "fF":
            digits = f"{moment.microsecond:06d}0"[: len(text)]
            out.append(digits.rstrip("0") if text[0] == "F" else digits)
        else:
            out.append(_WRITE[text](moment))
    return "".join(out)
