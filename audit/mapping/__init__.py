"""Entra attribute-mapping expressions: parse them, and predict their values for every guest.

>>> from audit.mapping import parse, to_text
>>> to_text(parse('coalesce([mail],[userPrincipalName])'))
'Coalesce([mail], [userPrincipalName])'

``evaluate(expression, guests)`` returns one value per guest (a pandas Series), ``<NA>`` where
Entra would produce null and not flow the attribute. Semantics follow Microsoft's "Reference for
writing expressions for attribute mappings in Microsoft Entra ID"; each function's docstring
quotes the part it relies on and says where the doc is silent and what was chosen.
"""

from __future__ import annotations

from audit.errors import ExpressionError
from audit.mapping.columns import DEFAULT_ATTRIBUTE_COLUMNS
from audit.mapping.evaluate import evaluate
from audit.mapping.functions import IMPLEMENTATIONS
from audit.mapping.functions import unsupported as _unsupported
from audit.mapping.nodes import (
    Attribute,
    Call,
    Compare,
    Constant,
    Expr,
    Identifier,
    Number,
    attribute_names,
    function_names,
    to_text,
)
from audit.mapping.parser import parse
from audit.mapping.schema import AttributeMapping, evaluate_mapping, mappings_from_schema
from audit.mapping.signatures import SIGNATURES

__all__ = [
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

#: Canonical names of the functions ``evaluate`` implements.
SUPPORTED_FUNCTIONS = frozenset(IMPLEMENTATIONS)

#: Canonical names of every documented function (implemented or not).
DOCUMENTED_FUNCTIONS = frozenset(SIGNATURES)


def _tree(expr: Expr | str) -> Expr:
    return parse(expr) if isinstance(expr, str) else expr


def attributes(expr: Expr | str) -> set[str]:
    """Source attributes the expression reads, as written (``{"mail", "userPrincipalName"}``)."""
    return attribute_names(_tree(expr))


def functions(expr: Expr | str) -> set[str]:
    """Functions the expression calls, spelled canonically where documented."""
    return function_names(_tree(expr))


def unsupported(expr: Expr | str) -> set[str]:
    """Functions the expression calls that ``evaluate`` cannot run (unknown or unimplemented)."""
    return _unsupported(_tree(expr))
