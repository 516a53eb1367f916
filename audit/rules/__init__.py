"""The rule catalogue: one module per rule, each defining ``RULE``; found by walking this package.

Adding a rule touches no other file: drop ``<rule_id with _>.py`` here, or ship it in a plugin
package registered under the entry point group ``b2b_preflight.rules`` (:mod:`audit.plugins`).
Metadata is validated when the catalogue is first read.
"""

from __future__ import annotations

from functools import cache

from audit.analysis.engine import Rule, validate
from audit.models import Severity
from audit.plugins import discover

__all__ = ["ENTRY_POINTS", "all_rules", "get_rule"]

ENTRY_POINTS = "b2b_preflight.rules"
"""Entry point group of plugin packages whose modules each define ``RULE``."""

_ORDER = {s: i for i, s in enumerate((Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO))}


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule, ordered by severity (high first) then id; metadata checked once."""
    rules: dict[str, Rule] = {}
    for module in discover(__name__, ENTRY_POINTS):
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, Rule):
            raise ValueError(f"rule module {module.__name__} defines no RULE = Rule(...)")
        if rule.id.replace("-", "_") != module.__name__.rsplit(".", 1)[-1]:
            raise ValueError(f"rule {rule.id} must live in {rule.id.replace('-', '_')}.py")
        if rule.id in rules:
            raise ValueError(f"rule {rule.id} is defined twice ({module.__name__})")
        validate(rule)
        rules[rule.id] = rule
    return tuple(sorted(rules.values(), key=lambda r: (_ORDER[r.severity], r.id)))


def get_rule(rule_id: str) -> Rule:
    """The rule with this id (KeyError when there is none)."""
    for rule in all_rules():
        if rule.id == rule_id:
            return rule
    raise KeyError(rule_id)
