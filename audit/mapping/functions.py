"""Which documented functions b2b-preflight implements, and a check of a tree before evaluating it.

Every deterministic function of the expression reference is implemented. Not implemented, and
reported by name rather than guessed (the partial evaluator makes the rows that reach them
*unknown*): ``Now``, ``Guid`` and ``RandomString`` (their value changes with every run),
``SelectUniqueValue`` (it queries the target directory, and "isn't supported for use with other
provisioning applications" than inbound Active Directory), and ``AppRoleAssignmentsComplex`` /
``SingleAppRoleAssignment`` (``[appRoleAssignments]`` is not collected).
"""

from __future__ import annotations

from collections.abc import Callable

from audit.errors import ExpressionError
from audit.mapping import _arrow as ar
from audit.mapping._args import Args, Partly
from audit.mapping.fn_date import DATE_FUNCTIONS
from audit.mapping.fn_logic import LOGIC_FUNCTIONS
from audit.mapping.fn_multi import MULTI_FUNCTIONS
from audit.mapping.fn_replace import REPLACE_FUNCTIONS
from audit.mapping.fn_text import TEXT_FUNCTIONS
from audit.mapping.nodes import Call, Expr, walk
from audit.mapping.signatures import SIGNATURES

__all__ = ["IMPLEMENTATIONS", "check_calls", "unsupported"]

Implementation = Callable[[Args], ar.Array | Partly]

#: Implemented functions by canonical name.
IMPLEMENTATIONS: dict[str, Implementation] = (
    TEXT_FUNCTIONS | LOGIC_FUNCTIONS | MULTI_FUNCTIONS | REPLACE_FUNCTIONS | DATE_FUNCTIONS
)


def unsupported(expr: Expr) -> set[str]:
    """Names of the functions ``expr`` calls that cannot be evaluated (unknown or unimplemented)."""
    return {node.name for node in walk(expr) if isinstance(node, Call)} - IMPLEMENTATIONS.keys()


def check_calls(expr: Expr, text: str) -> None:
    """Raise ExpressionError for unsupported functions or a call with a wrong argument count."""
    missing = unsupported(expr)
    if missing:
        unknown = sorted(missing - SIGNATURES.keys())
        known = sorted(missing & SIGNATURES.keys())
        parts = [f"unknown function(s): {', '.join(unknown)}"] if unknown else []
        parts += (
            [f"function(s) not supported by the evaluator: {', '.join(known)}"] if known else []
        )
        raise ExpressionError("; ".join(parts), expression=text)
    for node in walk(expr):
        if isinstance(node, Call) and not SIGNATURES[node.name].accepts(len(node.args)):
            raise ExpressionError(_arity_message(node), expression=text)


def _arity_message(call: Call) -> str:
    sig = SIGNATURES[call.name]
    shape = ", ".join(sig.params) + (", ..." if sig.variadic else "")
    return f"{call.name}({shape}) cannot take {len(call.args)} argument(s)"
