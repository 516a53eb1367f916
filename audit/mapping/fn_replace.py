"""``Replace(source, oldValue, regexPattern, regexGroupName, replacementValue,
replacementAttributeName, template)`` and the .NET regular-expression dialect it uses.

The doc ("Replaces values within a string in a case-sensitive manner. The function behaves
differently depending on the parameters provided") lists five modes; "provided" means the
argument slot is not empty (``""`` is provided). Checked in this order:

1. regexPattern, regexGroupName, replacementAttributeName: "If source has a value, source is
   returned. If source has no value, the function applies the regexPattern to the
   replacementAttributeName and returns the value matching regexGroupName" (null if no match).
2. regexPattern, regexGroupName, replacementValue: "replaces all values matching regexGroupName
   with replacementValue" (the group's text inside each match; replacementValue is literal).
3. regexPattern, replacementValue: .NET ``Regex.Replace`` with ``$1``, ``${name}``, ``$$``, ``$&``
   substitutions (``"${phoneNumber}"`` in the doc).
4. oldValue, template: "Replaces all occurrences of the oldValue in the template with the source".
5. oldValue, replacementValue: "Replaces all occurrences of oldValue in the source".

Any other combination is an ExpressionError. oldValue, regexPattern and regexGroupName must be
constants. A null source gives null (except in mode 1). .NET patterns are translated to Python's
``re``: ``(?<name>...)`` and ``(?'name'...)`` become ``(?P<name>...)``, ``\\k<name>`` becomes
``(?P=name)``; a construct ``re`` lacks (``\\p{L}``) is reported as an ExpressionError.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import pyarrow.compute as pc

from audit.mapping import _arrow as ar
from audit.mapping._args import Arg, Args

__all__ = ["REPLACE_FUNCTIONS", "dotnet_pattern", "dotnet_substitution"]

_Expand = Callable[["re.Match[str]"], str]


def replace(a: Args) -> ar.Array:
    """Evaluate one of the five documented modes of Replace (see the module docstring)."""
    old, pattern, group, value, attribute, template = (a[i] for i in range(1, 7))
    if pattern.present:
        regex = _compile(a, pattern.constant_text() or "")
        name = _group_name(a, regex, group) if group.present else None
        if name is not None and attribute.present:
            return _extract_fallback(a[0].text(), attribute.text(), regex, name)
        if name is not None and value.present:
            return _replace_group(a[0].text(), value.text(), regex, name)
        if value.present:
            return _regex_replace(a[0].text(), value.text(), regex)
        raise a.fail("with regexPattern, give replacementValue (and optionally regexGroupName)")
    if old.present:
        old_text = old.constant_text()
        if not old_text:
            raise a.fail("oldValue must not be empty")
        if template.present:
            return _fill_template(a[0].text(), old_text, template)
        if value.present:
            return _plain(a[0].text(), old_text, value)
        raise a.fail("with oldValue, give replacementValue or template")
    raise a.fail("needs oldValue or regexPattern")


def _plain(source: ar.Array, old: str, value: Arg) -> ar.Array:
    if value.is_constant:
        new = value.constant_text()
        return ar.nulls(len(source)) if new is None else pc.replace_substring(source, old, new)
    return ar.map_rows(
        lambda s, r: None if s is None or r is None else s.replace(old, r), source, value.text()
    )


def _fill_template(source: ar.Array, old: str, template: Arg) -> ar.Array:
    if not template.is_constant:
        return ar.map_rows(
            lambda s, t: None if s is None or t is None else t.replace(old, s),
            source,
            template.text(),
        )
    text = template.constant_text()
    if text is None:
        return ar.nulls(len(source))
    pieces: list[ar.Array] = []
    for index, part in enumerate(text.split(old)):
        pieces.extend([source, ar.scalar(part)] if index else [ar.scalar(part)])
    filled = pc.binary_join_element_wise(*pieces, ar.scalar("")) if len(pieces) > 1 else None
    return filled if filled is not None else ar.null_if(pc.is_null(source), template.text())


def _regex_replace(source: ar.Array, value: ar.Array, regex: re.Pattern[str]) -> ar.Array:
    expanders: dict[str, _Expand] = {}

    def one(text: str | None, replacement: str | None) -> str | None:
        if text is None or replacement is None:
            return None
        if replacement not in expanders:
            expanders[replacement] = dotnet_substitution(replacement, regex)
        return regex.sub(expanders[replacement], text)

    return ar.map_rows(one, source, value)


def _replace_group(
    source: ar.Array, value: ar.Array, regex: re.Pattern[str], name: str | int
) -> ar.Array:
    def one(text: str | None, replacement: str | None) -> str | None:
        if text is None or replacement is None:
            return None
        return regex.sub(lambda m: _swap_group(m, name, replacement), text)

    return ar.map_rows(one, source, value)


def _swap_group(match: re.Match[str], name: str | int, replacement: str) -> str:
    start, end = match.span(name)
    if start < 0:
        return match.group(0)
    whole, offset = match.group(0), match.start()
    return whole[: start - offset] + replacement + whole[end - offset :]


def _extract_fallback(
    source: ar.Array, attribute: ar.Array, regex: re.Pattern[str], name: str | int
) -> ar.Array:
    def one(text: str | None, other: str | None) -> str | None:
        if text:
            return text
        found = regex.search(other) if other is not None else None
        return found.group(name) if found is not None else None

    return ar.map_rows(one, source, attribute)


def _compile(a: Args, pattern: str) -> re.Pattern[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(dotnet_pattern(pattern))
    except (re.error, RecursionError, OverflowError) as exc:
        raise a.fail(f"regexPattern {pattern!r} cannot be used: {exc}") from None


def _group_name(a: Args, regex: re.Pattern[str], group: Arg) -> str | int:
    name = group.constant_text() or ""
    if name in regex.groupindex:
        return name
    if name.isdigit() and int(name) <= regex.groups:
        return int(name)
    raise a.fail(f"regexGroupName {name!r} is not a group of regexPattern")


_NAMED_GROUP = re.compile(r"\(\?(?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')")
_BACKREFERENCE = re.compile(r"\\k(?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')")


def dotnet_pattern(pattern: str) -> str:
    """Translate .NET named groups and back-references to Python ``re`` syntax."""
    out: list[str] = []
    at = 0
    while at < len(pattern):
        piece, at = _translate_at(pattern, at)
        out.append(piece)
    return "".join(out)


def _translate_at(pattern: str, at: int) -> tuple[str, int]:
    """The Python text for the pattern piece starting at ``at``, and where the next one starts."""
    named = _NAMED_GROUP.match(pattern, at)
    if named:
        return f"(?P<{named.group(1) or named.group(2)}>", named.end()
    backref = _BACKREFERENCE.match(pattern, at)
    if backref:
        return f"(?P={backref.group(1) or backref.group(2)})", backref.end()
    if pattern[at] == "\\":
        end = at + 2
    elif pattern[at] == "[":
        end = _class_end(pattern, at)
    else:
        end = at + 1
    return pattern[at:end], end


def _class_end(pattern: str, at: int) -> int:
    """Index just after the ``[...]`` class opening at ``at`` (copied verbatim)."""
    at += 1
    at += pattern.startswith("^", at)
    at += pattern.startswith("]", at)
    while at < len(pattern):
        if pattern[at] == "\\":
            at += 2
        elif pattern[at] == "]":
            return at + 1
        else:
            at += 1
    return len(pattern)


_SUBSTITUTION = re.compile(r"\$(?:(\$)|\{(\w+)\}|(\d+)|([&`'+_]))")


def dotnet_substitution(template: str, regex: re.Pattern[str]) -> _Expand:
    """A ``re.sub`` callback expanding .NET substitutions; unknown groups stay literal."""
    pieces: list[str | _Expand] = []
    at = 0
    for token in _SUBSTITUTION.finditer(template):
        pieces.append(template[at : token.start()])
        pieces.append(_substitution_piece(token, regex))
        at = token.end()
    pieces.append(template[at:])

    def expand(match: re.Match[str]) -> str:
        return "".join(p if isinstance(p, str) else p(match) for p in pieces)

    return expand


def _substitution_piece(token: re.Match[str], regex: re.Pattern[str]) -> str | _Expand:
    dollar, name, number, special = token.groups()
    if dollar:
        return "$"
    if special:
        return _SPECIAL[special](regex.groups)
    key: str | int = name if name is not None and not name.isdigit() else int(name or number)
    valid = key in regex.groupindex if isinstance(key, str) else key <= regex.groups
    if not valid:
        return token.group(0)
    return lambda m: m.group(key) or ""


_SPECIAL: dict[str, Callable[[int], _Expand]] = {
    "&": lambda groups: lambda m: m.group(0),
    "`": lambda groups: lambda m: m.string[: m.start()],
    "'": lambda groups: lambda m: m.string[m.end() :],
    "+": lambda groups: lambda m: (m.group(groups) or "") if groups else "",
    "_": lambda groups: lambda m: m.string,
}

REPLACE_FUNCTIONS: dict[str, Callable[[Args], ar.Array]] = {"Replace": replace}
