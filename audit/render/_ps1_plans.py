"""The rules' fix plans as the PowerShell writer sees them: looked up by rule id, guarded.

Each rule declares its plan (``Rule.plan``, :mod:`audit.plans`) and, when there is nothing to do
per guest, a note for its section (``Rule.plan_note``); this module only finds them. A rule the
catalogue does not know (a finding from an older result) has no plan.
"""

from __future__ import annotations

from functools import cache

from audit.analysis.engine import Rule
from audit.plans import NO_GUEST, Ctx, Finding, Guest, Plan, Suggest, guard, reads_guest
from audit.rules import all_rules
from audit.targets import all_targets, words

__all__ = ["has_plan", "plan_of", "section_note", "template_plan", "uses_guest"]

_PER_GUEST_ONLY_BY_ID = frozenset({"id", "sp"})
"""Suggestion fields that do not make a guest's command differ from the next one's but by id."""


@cache
def _rules() -> dict[str, Rule]:
    return {rule.id: rule for rule in all_rules()}


def has_plan(rule_id: str) -> bool:
    """False for a rule with nothing to do per guest (its section's remediation applies)."""
    rule = _rules().get(rule_id)
    return rule is not None and rule.plan is not None


def plan_of(rule_id: str, finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """The plan of one finding; its commands are dropped when the object id is not a GUID."""
    rule = _rules().get(rule_id)
    if rule is None or rule.plan is None:
        return Plan()
    return guard(finding, rule.plan(finding, guest, ctx))


def template_plan(rule_id: str, ctx: Ctx) -> Plan | None:
    """The rule's suggestion once, for every guest, when only the object id would differ between
    guests (``'<object id>'`` stands for it); None when each guest's command carries its own
    values (then each guest gets its block)."""
    rule = _rules().get(rule_id)
    planner = rule.plan if rule is not None else None
    if not isinstance(planner, Suggest) or not planner.fields <= _PER_GUEST_ONLY_BY_ID:
        return None
    placeholder = Finding(rule_id, "<object id>", "", "", "", "guest", "")
    return planner(placeholder, NO_GUEST, ctx)


def uses_guest(rule_id: str) -> bool:
    """False when a rule's plan never reads the guest row, so the row need not be converted."""
    rule = _rules().get(rule_id)
    return rule is not None and reads_guest(rule.plan)


def section_note(rule_id: str, target: str) -> str:
    """The rule's note for its whole section ("" when it has none), in the target's words."""
    rule = _rules().get(rule_id)
    if rule is None or not rule.plan_note:
        return ""
    profile = all_targets().get(target)
    return words(rule.plan_note, profile) if profile is not None else rule.plan_note
