"""Target profiles: what a SaaS target receives from Entra provisioning and what makes it work.

A target is one file: a module of this package (or of a plugin package registered under the entry
point group ``b2b_preflight.targets``) defining ``TARGET = Target(...)``. Adding one touches no
other file; rule texts and remediation speak its words through ``{target.title}``,
``{target.verify_hint}`` and the other fields of :class:`Target`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from audit.errors import ConfigError
from audit.plugins import discover
from audit.targets._choose import AUTO, DEFAULT_TARGET, FALLBACK_TARGET, TargetChoice, choose
from audit.targets._profile import Evidence, KeyRules, Target, TargetCase, words

__all__ = [
    "AUTO",
    "DEFAULT_TARGET",
    "FALLBACK_TARGET",
    "Evidence",
    "KeyRules",
    "Target",
    "TargetCase",
    "TargetChoice",
    "all_targets",
    "choose_target",
    "collected_app_target",
    "get_target",
    "words",
]

ENTRY_POINTS = "b2b_preflight.targets"
"""Entry point group of plugin packages whose modules each define ``TARGET``."""


@cache
def all_targets() -> dict[str, Target]:
    """Every target profile by name: this package's, then plugins' (a name is defined once)."""
    found: dict[str, Target] = {}
    for module in discover(__name__, ENTRY_POINTS):
        target = getattr(module, "TARGET", None)
        if not isinstance(target, Target):
            raise ConfigError(f"target module {module.__name__} defines no TARGET = Target(...)")
        if target.name in found:
            raise ConfigError(f"target {target.name!r} is defined twice ({module.__name__})")
        found[target.name] = target
    return dict(sorted(found.items()))


def get_target(name: str) -> Target:
    """The profile called ``name`` (case-insensitive); ConfigError lists the known ones otherwise."""
    targets = all_targets()
    try:
        return targets[name.strip().lower()]
    except KeyError:
        known = ", ".join([*targets, AUTO])
        raise ConfigError(f"unknown target {name!r} (known: {known})") from None


def choose_target(name: str, app: Mapping[str, Any] | None = None) -> TargetChoice:
    """The profile ``name`` names, or for ``auto`` the one the collected service principal ``app``
    matches (:mod:`audit.targets._choose`); ConfigError for an unknown name."""
    return choose(name, app, all_targets(), get_target)


def collected_app_target(name: str) -> Target:
    """The profile whose gallery app ``collect`` reads when no ``--app`` is given."""
    return get_target(DEFAULT_TARGET if name.strip().lower() == AUTO else name)
