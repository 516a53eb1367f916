"""The rule catalogue: one module per rule, each defining ``RULE``; found by walking this package.

Adding a rule touches no other file: drop ``<rule_id with _>.py`` here. Metadata is validated at import.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from audit.analysis.engine import Rule, validate
from audit.models import Severity

__all__ = ["all_rules", "get_rule"]


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule, ordered by severity (high first) then id; metadata checked once."""
    from audit.analysis.columns import FRAME_COLUMNS

    rules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rule: Rule = module.RULE
        if rule.id.replace("-", "_") != info.name:
            raise ValueError(f"rule {rule.id} must live in {rule.id.replace('-', '_')}.py")
        validate(rule, FRAME_COLUMNS)
        rules.append(rule)
    order = {
        s: i for i, s in enumerate((Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO))
    }
    return tuple(sorted(rules, key=lambda r: (order[r.severity], r.id)))


def get_rule(rule_id: str) -> Rule:
    """The rule with this id (KeyError when there is none)."""
    for rule in all_rules():
        if rule.id == rule_id:
            return rule
    raise KeyError(rule_id)
