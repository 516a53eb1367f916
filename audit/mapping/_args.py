"""The arguments a function implementation receives: lazy, typed views of sub-expressions.

An implementation asks for what it needs: a per-row single value (``text``), a multi-valued
value (``values``), or a constant parameter (``constant_text``, ``constant_int``) such as Split's
delimiter or Item's index. A parameter that varies per row where only a constant is supported is
reported as an ExpressionError, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.errors import ExpressionError
from audit.mapping import _arrow as ar
from audit.mapping.nodes import Call, Expr, attribute_names, to_text
from audit.mapping.signatures import SIGNATURES

__all__ = ["Arg", "Args", "Evaluator", "Partly"]


@dataclass(frozen=True)
class Partly:
    """A function result some rows of which cannot be predicted (``unknown`` marks them).

    Returned by an implementation when the documentation leaves a value's result open for some
    inputs (a date without a UTC offset, a number out of range): ``values`` holds the result of
    the other rows, ``why`` says what is unknown. The strict evaluator raises for such rows; the
    partial one (:mod:`audit.mapping.partial`) marks them unknown.
    """

    values: Any
    unknown: Any
    why: str


class Evaluator(Protocol):
    """What arguments need from the evaluator."""

    @property
    def size(self) -> int:
        """Number of rows."""
        ...

    def value(self, node: Expr) -> Any:
        """The node's value for every row."""
        ...

    def constant(self, node: Expr) -> Any:
        """The node's value as a Python object; raise if it reads attributes."""
        ...

    def fail(self, message: str) -> ExpressionError:
        """An ExpressionError about the expression being evaluated."""
        ...


@dataclass(frozen=True)
class Arg:
    """One argument slot of a call; ``node`` is None when the argument was omitted."""

    call: str
    param: str
    node: Expr | None
    ev: Evaluator

    @property
    def present(self) -> bool:
        """Whether the argument was given (an empty slot or a missing trailing one is not)."""
        return self.node is not None

    @property
    def is_constant(self) -> bool:
        """Whether the argument is given and reads no attribute (the same for every row)."""
        return self.node is not None and not attribute_names(self.node)

    def value(self) -> ar.Array:
        """Single or multi-valued per-row value; an omitted argument is null."""
        return ar.nulls(self.ev.size) if self.node is None else self.ev.value(self.node)

    def text(self) -> ar.Array:
        """Per-row single value; a multi-valued argument is an error."""
        array = self.value()
        if ar.is_multi(array):
            raise self._fail("expects a single value, but this argument is multi-valued")
        return array

    def values(self) -> ar.Array:
        """Per-row multi value; a single value counts as a list of one (null stays null)."""
        array = self.value()
        if ar.is_multi(array):
            return array
        offsets = pa.array(np.arange(len(array) + 1, dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, array, mask=pc.is_null(array))

    def constant_text(self) -> str | None:
        """The argument as a constant string (None when omitted or null)."""
        if self.node is None:
            return None
        value = self.ev.constant(self.node)
        if isinstance(value, list):
            raise self._fail("must be a single value, not a multi-valued constant")
        return None if value is None else str(value)

    def constant_int(self) -> int:
        """The argument as a constant whole number (``3`` or ``"3"``)."""
        value = self.constant_text()
        try:
            return int((value or "").strip())
        except ValueError:
            raise self._fail(f"must be a whole number, not {value!r}") from None

    def _fail(self, problem: str) -> ExpressionError:
        shown = "" if self.node is None else f" ({to_text(self.node)})"
        return self.ev.fail(f"{self.call}: argument {self.param}{shown} {problem}")


@dataclass(frozen=True)
class Args:
    """The argument slots of one call, named after the documented parameters."""

    call: Call
    ev: Evaluator

    @property
    def size(self) -> int:
        """Number of rows being evaluated."""
        return self.ev.size

    def __len__(self) -> int:
        return len(self.call.args)

    def __getitem__(self, index: int) -> Arg:
        node = self.call.args[index] if index < len(self.call.args) else None
        return Arg(self.call.name, self._param(index), node, self.ev)

    def __iter__(self) -> Iterator[Arg]:
        return (self[i] for i in range(len(self)))

    def fail(self, problem: str) -> ExpressionError:
        """An ExpressionError about this call."""
        return self.ev.fail(f"{self.call.name}: {problem}")

    def _param(self, index: int) -> str:
        sig = SIGNATURES.get(self.call.name)
        if sig is None or not sig.params:
            return str(index + 1)
        if index < len(sig.params):
            return sig.params[index]
        fixed = len(sig.params) - sig.repeat
        return sig.params[fixed + (index - fixed) % sig.repeat]
