"""The syntax tree of an attribute-mapping expression, its printer and simple walks.

Nodes are frozen (hashable) dataclasses so an evaluator can cache results per sub-expression.
An omitted function argument (``Replace([x], "a", , , "b", , )``) is ``None`` in ``Call.args``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "COMPARISON_OPERATORS",
    "Attribute",
    "Call",
    "Compare",
    "Constant",
    "Expr",
    "Identifier",
    "Number",
    "attribute_names",
    "function_names",
    "to_text",
    "walk",
]

#: The operators IIF's condition may use (doc: "Equal to (=) and not equal to (<>) ...").
COMPARISON_OPERATORS = ("<>", "<=", ">=", "=", "<", ">")


@dataclass(frozen=True)
class Attribute:
    """A source attribute in square brackets, e.g. ``[mail]``."""

    name: str


@dataclass(frozen=True)
class Constant:
    """A string constant in double quotes (unescaped value)."""

    value: str


@dataclass(frozen=True)
class Number:
    """An integer literal, as in ``Left([givenName], 3)`` (also ``-10`` and VB hex ``&HF7``)."""

    value: int


@dataclass(frozen=True)
class Identifier:
    """A bare word that is not a call, such as InStr's ``vbTextCompare``."""

    name: str


@dataclass(frozen=True)
class Call:
    """A function call; ``name`` is canonical for documented functions, as written otherwise."""

    name: str
    args: tuple[Expr | None, ...] = ()

    def __post_init__(self) -> None:
        if self.args == (None,):
            raise ValueError("a call with one omitted argument has no text form; use no arguments")


@dataclass(frozen=True)
class Compare:
    """A comparison such as ``[country] = "USA"``; operands are never comparisons themselves."""

    op: str
    left: Expr
    right: Expr

    def __post_init__(self) -> None:
        if self.op not in COMPARISON_OPERATORS:
            raise ValueError(f"unknown comparison operator {self.op!r}")
        if isinstance(self.left, Compare) or isinstance(self.right, Compare):
            raise ValueError("comparisons do not chain")


Expr = Attribute | Constant | Number | Identifier | Call | Compare


def to_text(expr: Expr) -> str:
    """Write ``expr`` in Entra's syntax; ``parse(to_text(e)) == e`` for every tree."""
    if isinstance(expr, Attribute):
        return f"[{expr.name}]"
    if isinstance(expr, Constant):
        return '"' + expr.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(expr, Number):
        return str(expr.value)
    if isinstance(expr, Identifier):
        return expr.name
    if isinstance(expr, Compare):
        return f"{to_text(expr.left)} {expr.op} {to_text(expr.right)}"
    args = ", ".join("" if arg is None else to_text(arg) for arg in expr.args)
    return f"{expr.name}({args})"


def walk(expr: Expr) -> Iterator[Expr]:
    """Yield ``expr`` and every node below it, parents first."""
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Call):
            stack.extend(arg for arg in reversed(node.args) if arg is not None)
        elif isinstance(node, Compare):
            stack.extend((node.right, node.left))


def attribute_names(expr: Expr) -> set[str]:
    """Names of the source attributes ``expr`` reads, as written."""
    return {node.name for node in walk(expr) if isinstance(node, Attribute)}


def function_names(expr: Expr) -> set[str]:
    """Names of the functions ``expr`` calls (canonical where documented)."""
    return {node.name for node in walk(expr) if isinstance(node, Call)}
