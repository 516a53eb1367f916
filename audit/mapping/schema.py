"""Attribute mappings read from a Graph ``synchronizationSchema`` (the provisioning job's schema).

Shape (Graph ``synchronizationSchema`` / ``objectMapping`` / ``attributeMapping`` resources)::

    synchronizationRules[].objectMappings[] {sourceObjectName: "User", enabled, attributeMappings[]}
    attributeMapping {targetAttributeName, source, defaultValue, matchingPriority, flowType}
    source {type: Attribute|Constant|Function, name, expression, parameters[{key, value: source}]}

``source`` is null for the UI's mapping type *None* ("the target attribute is left unmodified.
However, if the target attribute is ever empty, it populates with the default value").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from audit.errors import InputError
from audit.mapping.columns import DEFAULT_ATTRIBUTE_COLUMNS
from audit.mapping.evaluate import evaluate
from audit.mapping.nodes import Attribute, Call, Constant, Expr, to_text
from audit.mapping.scope import ScopeFilter, scope_filter
from audit.mapping.signatures import SIGNATURES, canonical_name

__all__ = [
    "AttributeMapping",
    "UserMapping",
    "evaluate_mapping",
    "mappings_from_schema",
    "user_mapping",
]

#: Parameter keys Graph uses for Replace that differ from the doc's parameter names.
_PARAMETER_ALIASES = {"find": "oldvalue", "replacement": "replacementvalue"}


@dataclass(frozen=True)
class AttributeMapping:
    """One target attribute of the User object mapping and the expression that feeds it.

    ``source_type`` is ``Attribute``, ``Constant``, ``Function`` or ``None`` (no source: only the
    default value flows; ``expression`` is then empty). ``matching_priority`` > 0 marks a
    matching attribute, lowest first.
    """

    target: str
    expression: str
    source_type: str
    default_value: str | None
    matching_priority: int
    flow_type: str = "Always"


@dataclass(frozen=True)
class UserMapping:
    """The object mapping of users: whether it runs, what it may do, its attributes and scope.

    Graph ``objectMapping``: "When false, this object mapping will be skipped"; ``flowTypes``:
    "Add creates new objects in the target directory, Update modifies existing objects, and
    Delete deprovisions existing users. The default is Add, Update, Delete"
    (https://learn.microsoft.com/graph/api/resources/synchronization-objectmapping).
    """

    name: str
    enabled: bool
    flow_types: frozenset[str]
    mappings: tuple[AttributeMapping, ...]
    scope: ScopeFilter

    @property
    def creates(self) -> bool:
        """Whether new users are created: the mapping runs and has the ``Add`` flow type."""
        return self.enabled and "add" in self.flow_types

    def matching(self) -> list[AttributeMapping]:
        """The matching attributes, highest precedence (lowest ``matchingPriority``) first."""
        found = [m for m in self.mappings if m.matching_priority > 0]
        return sorted(found, key=lambda m: m.matching_priority)


def user_mapping(
    schema: Mapping[str, Any], *, source: str = "synchronizationSchema.json"
) -> UserMapping | None:
    """The first object mapping whose source object is ``User`` (enabled or not), rules taken in
    ``priority`` order ("Rules with the lowest priority number will be processed first"); None
    when the schema has none."""
    rules = _items(schema, "synchronizationRules", source)
    ordered = sorted(rules, key=_priority)
    candidates = [
        m
        for rule in ordered
        for m in _items(rule, "objectMappings", source)
        if str(m.get("sourceObjectName") or "").casefold() == "user"
    ]
    if not candidates:
        return None
    chosen = next((m for m in candidates if m.get("enabled", True) is not False), candidates[0])
    flows = str(chosen.get("flowTypes") or "Add, Update, Delete")
    return UserMapping(
        name=str(chosen.get("name") or ""),
        enabled=chosen.get("enabled", True) is not False,
        flow_types=frozenset(f.strip().casefold() for f in flows.split(",") if f.strip()),
        mappings=tuple(_mapping(m, source) for m in _items(chosen, "attributeMappings", source)),
        scope=scope_filter(chosen.get("scope"), source=source),
    )


def _priority(rule: Mapping[str, Any]) -> int:
    priority = rule.get("priority")
    return priority if isinstance(priority, int) else 0


def mappings_from_schema(
    schema: Mapping[str, Any], *, source: str = "synchronizationSchema.json"
) -> list[AttributeMapping]:
    """The attribute mappings of every enabled object mapping whose source object is ``User``.

    ``source`` names the input in InputError messages. An expression is taken from
    ``source.expression`` when present, else rebuilt from ``name`` and ``parameters``. A
    ``defaultValue`` of ``""`` is read as no default (the portal leaves it empty when unset).
    """
    out: list[AttributeMapping] = []
    for rule in _items(schema, "synchronizationRules", source):
        for object_mapping in _items(rule, "objectMappings", source):
            if _is_user_mapping(object_mapping):
                out += [
                    _mapping(m, source) for m in _items(object_mapping, "attributeMappings", source)
                ]
    return out


def evaluate_mapping(
    mapping: AttributeMapping,
    frame: pd.DataFrame,
    *,
    attribute_columns: Mapping[str, str] = DEFAULT_ATTRIBUTE_COLUMNS,
) -> pd.Series:
    """The value each guest would get for ``mapping.target`` when it is created.

    "Default value if null (optional) - The value that is passed to the target system if the
    source attribute is null. This value is only provisioned when a user is created" (Tutorial -
    Customize user provisioning attribute-mappings): null results take the default value.
    """
    if mapping.source_type == "None":
        fill = pd.NA if mapping.default_value is None else mapping.default_value
        return pd.Series(fill, index=frame.index, dtype="string")
    result = evaluate(mapping.expression, frame, attribute_columns=attribute_columns)
    return result if mapping.default_value is None else result.fillna(mapping.default_value)


def _items(parent: Any, key: str, source: str) -> list[Mapping[str, Any]]:
    if not isinstance(parent, Mapping):
        raise InputError(source, f"expected an object holding {key!r}, got {type(parent).__name__}")
    items = parent.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise InputError(source, f"{key!r} must be a list of objects")
    return items


def _is_user_mapping(object_mapping: Mapping[str, Any]) -> bool:
    name = str(object_mapping.get("sourceObjectName") or "")
    return name.casefold() == "user" and object_mapping.get("enabled", True) is not False


def _mapping(raw: Mapping[str, Any], source: str) -> AttributeMapping:
    target = raw.get("targetAttributeName")
    if not isinstance(target, str) or not target:
        raise InputError(source, "an attributeMapping has no targetAttributeName")
    src = raw.get("source")
    default = raw.get("defaultValue")
    priority = raw.get("matchingPriority") or 0
    if not isinstance(priority, int):
        raise InputError(source, f"matchingPriority of {target!r} is not a whole number")
    flow = str(raw.get("flowType") or "Always")
    default_text = None if default in (None, "") else str(default)
    if src is None:
        return AttributeMapping(target, "", "None", default_text, priority, flow)
    if not isinstance(src, Mapping):
        raise InputError(source, f"source of {target!r} must be an object")
    kind = str(src.get("type") or "Attribute")
    return AttributeMapping(
        target, _expression(src, target, source), kind, default_text, priority, flow
    )


def _expression(src: Mapping[str, Any], target: str, source: str) -> str:
    given = src.get("expression")
    if src.get("type") == "Function" and isinstance(given, str) and given.strip():
        return given
    return to_text(_rebuild(src, target, source))


def _rebuild(src: Any, target: str, source: str) -> Expr:
    """An expression tree from a source's ``type``, ``name`` and keyed ``parameters``."""
    if not isinstance(src, Mapping):
        raise InputError(source, f"a parameter of {target!r} is not an object")
    kind, name = src.get("type") or "Attribute", src.get("name")
    if not isinstance(name, str):
        raise InputError(source, f"source of {target!r} has no name")
    if kind == "Attribute":
        return Attribute(name)
    if kind == "Constant":
        return Constant(name)
    if kind != "Function":
        raise InputError(source, f"source of {target!r} has unknown type {kind!r}")
    pairs = [(str(p.get("key") or ""), p.get("value")) for p in _items(src, "parameters", source)]
    args = [(key, _rebuild(value, target, source)) for key, value in pairs]
    return Call(canonical_name(name), _ordered(canonical_name(name), args))


def _ordered(function: str, args: list[tuple[str, Expr]]) -> tuple[Expr | None, ...]:
    """Arguments in documented order when every key names a parameter; else as given."""
    sig = SIGNATURES.get(function)
    if sig is None or sig.variadic:
        return tuple(expr for _, expr in args)
    names = [param.casefold() for param in sig.params]
    keys = [_PARAMETER_ALIASES.get(key.casefold(), key.casefold()) for key, _ in args]
    if len(set(keys)) != len(keys) or not set(keys) <= set(names):
        return tuple(expr for _, expr in args)
    slots: list[Expr | None] = [None] * (max(names.index(key) for key in keys) + 1 if keys else 0)
    for key, (_, expr) in zip(keys, args, strict=True):
        slots[names.index(key)] = expr
    return tuple(slots)
