"""Evaluate an attribute-mapping expression over the whole guests frame, column-wise.

Each sub-expression is computed once for all rows as an Arrow array (cached per node); parts
that read no attribute are computed once for a single row and repeated. The result is a pandas
Series aligned to the frame: dtype ``string``, or object lists for a multi-valued result; ``<NA>``
where Entra would produce null and so not flow the attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from audit.errors import ExpressionError
from audit.mapping import _arrow as ar
from audit.mapping._args import Args, Partly
from audit.mapping.columns import DEFAULT_ATTRIBUTE_COLUMNS, FrameColumns
from audit.mapping.fn_logic import compare
from audit.mapping.functions import IMPLEMENTATIONS, check_calls
from audit.mapping.nodes import (
    Attribute,
    Compare,
    Constant,
    Expr,
    Identifier,
    Number,
    attribute_names,
    to_text,
)
from audit.mapping.parser import parse

__all__ = ["evaluate"]


def evaluate(
    expr: Expr | str,
    frame: pd.DataFrame,
    *,
    attribute_columns: Mapping[str, str] = DEFAULT_ATTRIBUTE_COLUMNS,
) -> pd.Series:
    """Evaluate ``expr`` for every row of ``frame``.

    Raises ExpressionError for a syntax error, an unknown or unimplemented function, a call with
    the wrong number of arguments, an attribute without a column, or a parameter that must be a
    constant (Split's delimiter, Item's index, ...) but reads attributes.
    """
    tree = parse(expr) if isinstance(expr, str) else expr
    text = expr if isinstance(expr, str) else to_text(tree)
    check_calls(tree, text)
    columns = FrameColumns(frame, attribute_columns, text)
    for name in sorted(attribute_names(tree)):
        columns.check(name)
    result = _Evaluator(len(frame), columns.read, text).value(tree)
    return ar.to_series(result, frame.index)


class _Evaluator:
    """Computes node values for ``size`` rows; implements the ``_args.Evaluator`` protocol."""

    def __init__(self, size: int, read: Callable[[str], ar.Array], text: str) -> None:
        self._size = size
        self._read = read
        self._text = text
        self._cache: dict[Expr, ar.Array] = {}
        self._single_row: _Evaluator | None = None

    @property
    def size(self) -> int:
        return self._size

    def value(self, node: Expr) -> ar.Array:
        cached = self._cache.get(node)
        if cached is None:
            cached = self._compute(node)
            if isinstance(cached, pa.ChunkedArray):
                cached = cached.combine_chunks()
            self._cache[node] = cached
        return cached

    def constant(self, node: Expr) -> Any:
        if attribute_names(node):
            raise self.fail(f"{to_text(node)} must be a constant but reads attributes")
        return self._one_row().value(node)[0].as_py()

    def fail(self, message: str) -> ExpressionError:
        return ExpressionError(message, expression=self._text)

    def _one_row(self) -> _Evaluator:
        if self._single_row is None:
            self._single_row = _Evaluator(1, self._read, self._text)
        return self._single_row

    def _compute(self, node: Expr) -> ar.Array:
        if self._size != 1 and not isinstance(node, Attribute) and not attribute_names(node):
            return ar.broadcast(self._one_row().value(node), self._size)
        if isinstance(node, Attribute):
            return self._read(node.name)
        if isinstance(node, Constant | Number):
            return ar.from_texts([str(node.value)] * self._size)
        if isinstance(node, Identifier):
            raise self.fail(f'bare word {node.name!r} is not a value; quote text as "..."')
        if isinstance(node, Compare):
            return compare(node.op, self._single(node.left), self._single(node.right))
        result = IMPLEMENTATIONS[node.name](Args(node, self))
        if isinstance(result, Partly):
            if result.unknown.any():
                raise self.fail(
                    f"cannot predict {int(result.unknown.sum())} value(s): {result.why}"
                )
            return result.values
        return result

    def _single(self, node: Expr) -> ar.Array:
        array = self.value(node)
        if ar.is_multi(array):
            raise self.fail(f"cannot compare the multi-valued {to_text(node)}")
        return array
