"""Every function of Entra's expression language, with its documented parameters.

Source: "Reference for writing expressions for attribute mappings in Microsoft Entra ID"
(MicrosoftDocs/entra-docs,
docs/identity/app-provisioning/functions-for-customizing-application-data.md).
The parser uses this table to spell function names canonically; the evaluator uses it to check
argument counts; ``mappings_from_schema`` uses the parameter names to put a Graph schema's keyed
parameters back in order. Whether a function is *implemented* is decided in ``functions.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SIGNATURES", "Signature", "canonical_name"]


@dataclass(frozen=True)
class Signature:
    """A documented function: parameter names in order and how many are required.

    ``variadic`` means the trailing ``repeat`` parameters may repeat (Coalesce's sources,
    Switch's key/value pairs).
    """

    name: str
    params: tuple[str, ...]
    required: int
    variadic: bool = False
    repeat: int = 1

    def accepts(self, count: int) -> bool:
        """Whether a call with ``count`` arguments has a documented shape."""
        if count < self.required:
            return False
        if not self.variadic:
            return count <= len(self.params)
        fixed = len(self.params) - self.repeat
        return count <= fixed or (count - fixed) % self.repeat == 0


def _sig(
    name: str, params: str, required: int | None = None, *, variadic: bool = False, repeat: int = 1
) -> Signature:
    names = tuple(params.split())
    need = len(names) if required is None else required
    return Signature(name, names, need, variadic, repeat)


_ALL = [
    _sig("Append", "source suffix"),
    _sig("AppRoleAssignmentsComplex", "appRoleAssignments"),
    _sig("BitAnd", "value1 value2"),
    _sig("CBool", "expression"),
    _sig("CDate", "expression"),
    _sig("Coalesce", "source", 1, variadic=True),
    _sig("ConvertToBase64", "source"),
    _sig("ConvertToUTF8Hex", "source"),
    _sig("Count", "attribute"),
    _sig("CStr", "value"),
    _sig("DateAdd", "interval value dateTime"),
    _sig("DateDiff", "interval date1 date2"),
    _sig("DateFromNum", "value"),
    _sig("FormatDateTime", "source dateTimeStyles inputFormat outputFormat", 3),
    _sig("Guid", ""),
    _sig("IgnoreFlowIfNullOrEmpty", "expression"),
    _sig("IIF", "condition valueIfTrue valueIfFalse"),
    _sig("InStr", "value1 value2 start compareType", 2),
    _sig("IsNull", "expression"),
    _sig("IsNullOrEmpty", "expression"),
    _sig("IsPresent", "expression"),
    _sig("IsString", "expression"),
    _sig("Item", "attribute index"),
    _sig("Join", "separator source", 2, variadic=True),
    _sig("Left", "string numChars"),
    _sig("Mid", "source start length"),
    _sig("NormalizeDiacritics", "source"),
    _sig("Not", "source"),
    _sig("Now", ""),
    _sig("NumFromDate", "value"),
    _sig("PCase", "source wordSeparators", 1),
    _sig(
        "RandomString",
        "length minimumNumbers minimumSpecialCharacters minimumCapital minimumLowerCase"
        " charactersToAvoid",
        5,
    ),
    _sig("Redact", "source"),
    _sig("RemoveDuplicates", "attribute"),
    _sig(
        "Replace",
        "source oldValue regexPattern regexGroupName replacementValue replacementAttributeName"
        " template",
        1,
    ),
    _sig("SelectUniqueValue", "uniqueValueRule", 2, variadic=True),
    _sig("SingleAppRoleAssignment", "appRoleAssignments"),
    _sig("Split", "source delimiter"),
    _sig("StripSpaces", "source"),
    _sig("Switch", "source defaultValue key value", 2, variadic=True, repeat=2),
    _sig("ToLower", "source culture", 1),
    _sig("ToUpper", "source culture", 1),
    _sig("Word", "string wordNumber delimiters"),
]

#: Documented functions by canonical name.
SIGNATURES: dict[str, Signature] = {sig.name: sig for sig in _ALL}

_BY_FOLDED = {name.casefold(): name for name in SIGNATURES}


def canonical_name(name: str) -> str:
    """The documented spelling of ``name`` (matched case-insensitively), else ``name`` itself."""
    return _BY_FOLDED.get(name.casefold(), name)
