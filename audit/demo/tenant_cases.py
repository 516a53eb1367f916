"""The purpose-built guests of the demo tenant: the cases every rule declares, and their twins.

Each rule names the demo guests it needs (``Rule.demo``, :class:`~audit.analysis.engine.DemoCase`):
a named pattern (:data:`~audit.demo.tenant_patterns.PATTERNS`) plus field changes, the rule ids the
guest must trip (``rules``) and those it is a near miss for (``twin_of``: similar guests that must
*not* trip them). A rule added in its own file (or a plugin) brings its cases along; nothing here
names a rule. Cases live on domains verified in the target unless the domain is the point, so their
expected findings stay focused. Findings a case implies through its domain or scope
(``domain-unverified``, ``not-in-scope``...) are added by :meth:`GuestSpec.expected`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from audit.analysis.engine import GUEST, DemoCase, Rule
from audit.demo.tenant_domains import DomainInfo
from audit.demo.tenant_patterns import PATTERNS
from audit.demo.tenant_spec import Builder, GuestSpec
from audit.rules import all_rules
from audit.targets import DEFAULT_TARGET, Target, get_target

__all__ = ["CASES", "Case", "build_cases", "build_target_cases", "guest_rule_ids"]


@dataclass(frozen=True)
class Case:
    """A named guest pattern: the rules its guests must trip and those it is a clean twin for."""

    name: str
    rules: frozenset[str]
    twin_of: frozenset[str]
    build: Callable[[Builder], list[GuestSpec]]


def guest_rule_ids(
    rules: tuple[Rule, ...] | None = None, target: str = DEFAULT_TARGET
) -> frozenset[str]:
    """The per-guest rule ids of the catalogue that run for ``target`` (the demo's oracle covers
    each for the default target)."""
    profile = get_target(target)
    return frozenset(
        r.id for r in (rules or all_rules()) if r.level == GUEST and r.applies_to(profile)
    )


def _case(rule: Rule, demo: DemoCase) -> Case:
    """A rule's declared demo case as a buildable :class:`Case`."""
    if demo.pattern not in PATTERNS:
        raise ValueError(f"rule {rule.id}: demo case {demo.name} names no pattern {demo.pattern!r}")
    make = PATTERNS[demo.pattern]
    trips = demo.trips if demo.trips is not None else frozenset(() if demo.twin_of else {rule.id})

    def build(b: Builder) -> list[GuestSpec]:
        specs = [replace(spec, **dict(demo.changes)) for spec in make(b, demo.name)]
        for spec in specs:  # the rule ids the guest itself trips (besides domain and scope)
            spec.flags = set(demo.flags) if demo.flags is not None else spec.flags | trips
        return specs

    return Case(demo.name, trips, demo.twin_of, build)


def _declared(rules: tuple[Rule, ...]) -> Iterator[tuple[Rule, DemoCase]]:
    for rule in rules:
        for demo in rule.demo:
            yield rule, demo


def cases(rules: tuple[Rule, ...] | None = None) -> tuple[Case, ...]:
    """The catalogue's cases, pathologies first, then their twins, then the hostile names."""
    declared = list(_declared(rules or all_rules()))
    pathologies = [_case(rule, demo) for rule, demo in declared if not demo.twin_of]
    twins = [_case(rule, demo) for rule, demo in declared if demo.twin_of]
    hostile = Case("hostile-name", frozenset(), frozenset(), lambda b: PATTERNS["hostile"](b, ""))
    return (*pathologies, *twins, hostile)


CASES: tuple[Case, ...] = cases()


def build_cases(b: Builder, copies: int) -> list[GuestSpec]:
    """``copies`` instances of every case, each on freshly drawn names and domains."""
    return [spec for _ in range(copies) for case in CASES for spec in case.build(b)]


def build_target_cases(b: Builder, target: Target) -> list[GuestSpec]:
    """The target's own cases (:class:`~audit.targets.TargetCase`), once (copies of an alias would
    collide with each other): one guest per alias, each on its own domain of the case's kind
    where ``alias@domain`` is free, so the aliases stay exactly as the case wrote them."""
    specs = []
    for case in target.demo_cases:
        used: set[str] = set()
        for alias in case.aliases:
            domain = _free_domain(b, case.domain, alias, used)
            used.add(domain.ascii)
            spec = b.base(case.name, domain, alias=alias)
            spec.flags = set() if case.twin else set(case.trips)
            specs.append(spec)
    return specs


def _free_domain(b: Builder, kind: str, alias: str, used: set[str]) -> DomainInfo:
    """A domain of ``kind``, not in ``used``, where ``alias`` is not taken yet."""
    choices = [d for d in b.plan.by_kind[kind] if d.ascii not in used]
    free = [d for d in choices if b.free(f"{alias}@{d.ascii}")]
    return b.rng.choice(free or choices)
